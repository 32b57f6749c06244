"""The strategies panel, driven through its buttons against the simulator: load, start, pause,
resume, stop, stop and flatten, hand over, an error that halts, parameters checked by the
runner; the blotter filtered by strategy with each order's why, the why on the chart, the
confirmation that offers to pause a strategy, and the files remembered between runs."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ibdesk.config import StrategySettings, limits_off
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.domain.strategy import StrategyState
from ibdesk.simtws import SimThread
from ibdesk.ui.models.strategies import StrategiesModel
from ibdesk.ui.models.table import KEY_ROLE
from ibdesk.ui.panels.strategies import StrategiesPanel
from tests.conftest import ExpectedFaults
from tests.desk.kit import TICKET, at_sim, connected, ready_desk
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

STRATEGY = """
from ibdesk.strategies import Side, Strategy

class {name}(Strategy):
    instruments = ("ES",)
    params = {{"qty": 1, "enter": True}}
"""

ENTERS = """
def on_start(self):
    if self.p["enter"]:
        self.buy("ES", self.p["qty"], why="probe entry: breakout 6805 > 6800")
"""

RESTS = """
def on_start(self):
    self.buy("ES", 1, limit=6700.0, why="{why}")
"""

BREAKS = """
def on_quote(self, quote):
    raise ZeroDivisionError("bad signal")
"""


def strategy_file(folder: Path, name: str, body: str = "") -> Path:
    """A file defining the strategy ``name`` on ES, with ``body`` as its methods."""
    path = folder / f"{name.lower()}.py"
    path.write_text(STRATEGY.format(name=name) + textwrap.indent(textwrap.dedent(body), "    "))
    return path


def panel_of(desk: Any) -> StrategiesPanel:
    return desk.window.strategies_panel  # type: ignore[no-any-return]


def cell(model: StrategiesModel, name: str, title: str) -> str:
    """The text a strategy's row shows under a column, as last flushed."""
    col = [c.title for c in model.columns].index(title)
    return model.item(model.row_keys().index(name), col).text()


def tip(model: StrategiesModel, name: str, title: str) -> str:
    col = [c.title for c in model.columns].index(title)
    return model.item(model.row_keys().index(name), col).toolTip()


async def shows(model: StrategiesModel, name: str, title: str, text: str) -> None:
    """Wait until a cell shows ``text`` (among its words)."""
    await wait_until(
        lambda: name in model.row_keys() and text in cell(model, name, title),
        what=f"{name}'s {title} to show {text!r}",
    )


def click(button: Any, qtbot: Any) -> None:
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


async def load_through_the_dialog(panel: StrategiesPanel, path: Path, qtbot: Any) -> None:
    """Load… as the trader does: the button opens the file dialog, the file is chosen."""
    click(panel.load_button, qtbot)
    dialog = panel.file_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.selectFile(str(path))
    dialog.accept()
    await wait_until(lambda: panel.file_dialog is None, what="the dialog closed")


async def test_load_start_pause_resume_stop_by_clicking(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtbot: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim)
    panel, model = panel_of(desk), desk.window.strategies_model
    await load_through_the_dialog(panel, strategy_file(tmp_path, "Probe", ENTERS), qtbot)
    assert "Loaded Probe from probe.py" in panel.message.text()
    assert panel.selected() == "Probe" and cell(model, "Probe", "State") == "Stopped"
    assert not panel.pause_button.isEnabled() and not panel.stop_button.isEnabled()

    click(panel.start_button, qtbot)
    assert not panel.start_button.isEnabled(), "Start stays disabled while the start runs"
    assert not panel.reload_button.isEnabled()
    await shows(model, "Probe", "State", "Running")
    assert desk.strategies.state_of("Probe") is StrategyState.RUNNING
    await shows(model, "Probe", "Position", "+1")
    await shows(model, "Probe", "Last signal", "probe entry")
    assert tip(model, "Probe", "State") == "started"
    assert not panel.start_button.isEnabled() and panel.pause_button.isEnabled()

    click(panel.pause_button, qtbot)
    await shows(model, "Probe", "State", "Paused")
    assert tip(model, "Probe", "State") == "paused by the trader"
    assert panel.start_button.text() == "Resume" and not panel.pause_button.isEnabled()
    click(panel.start_button, qtbot)
    await shows(model, "Probe", "State", "Running")
    assert panel.start_button.text() == "Start"

    click(panel.stop_button, qtbot)
    await shows(model, "Probe", "State", "Stopped")
    # Its position stays, and says who left it there.
    await shows(model, "Probe", "Position", "left by Probe")
    assert panel.hand_over_button.isEnabled() and panel.start_button.isEnabled()
    assert desk.strategies.status("Probe").left_position


async def test_stop_and_flatten_and_hand_over_ask_first(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtbot: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim)
    panel, model = panel_of(desk), desk.window.strategies_model
    panel.load(strategy_file(tmp_path, "Probe", ENTERS))
    assert desk.strategies.set_params("Probe", {"qty": 2})["qty"] == 2
    click(panel.start_button, qtbot)
    await shows(model, "Probe", "Position", "+2")

    click(panel.flatten_button, qtbot)
    box = panel.question
    assert box is not None and box.isVisible() and "+2" in box.text()
    assert box.defaultButton() is box.no_button  # Enter does not flatten
    box.no_button.click()
    await wait_until(lambda: "cancelled" in panel.message.text(), what="the answer")
    assert desk.strategies.state_of("Probe") is StrategyState.RUNNING

    click(panel.flatten_button, qtbot)
    assert panel.question is not None
    panel.question.yes_button.click()
    await shows(model, "Probe", "State", "Stopped")
    await wait_until(lambda: desk.strategies.status("Probe").position == 0, what="flat")
    await shows(model, "Probe", "Position", "")
    assert not desk.strategies.status("Probe").left_position

    click(panel.start_button, qtbot)
    await shows(model, "Probe", "Position", "+2")
    click(panel.hand_over_button, qtbot)
    assert panel.question is not None and "yours" in panel.question.text()
    panel.question.yes_button.click()
    await wait_until(lambda: "handed over" in panel.message.text(), what="handed over")
    status = desk.strategies.status("Probe")
    assert status.state is StrategyState.STOPPED and status.reason == "handed over to manual"
    await shows(model, "Probe", "State", "Stopped")
    assert not panel.hand_over_button.isEnabled()


def holders(desk: Any, es: Any) -> str:
    """The Strategies cell of the ES row in the positions panel, as last flushed."""
    model = desk.window.positions_model
    col = [c.title for c in model.columns].index("Strategies")
    keys = model.row_keys()
    rows = [i for i, k in enumerate(keys) if k[1] == es.con_id]
    return model.item(rows[0], col).text() if rows else ""


async def test_the_positions_panel_says_which_part_is_whose(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    """A position a strategy and the trader both built says who holds which part, and the
    part a stopped strategy left behind says so, as the strategies panel does."""
    desk, es = await ready_desk(make_desk, sim)
    desk.strategies.load(strategy_file(tmp_path, "Probe", ENTERS))
    desk.strategies.set_params("Probe", {"qty": 2})
    await desk.strategies.start("Probe")
    await wait_until(lambda: holders(desk, es) == "Probe +2", what="the strategy's part")
    [manual] = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET)).refs
    await wait_until(lambda: desk.orders.get(manual).state is OrderState.FILLED, what="filled")
    await wait_until(
        lambda: holders(desk, es) == "Probe +2, manual +1", what="the trader's part beside it"
    )
    desk.strategies.stop("Probe")
    await wait_until(
        lambda: holders(desk, es) == "Probe +2 (left), manual +1", what="the part left"
    )
    model = desk.window.positions_model
    col = [c.title for c in model.columns].index("Strategies")
    assert "no longer manages" in model.item(0, col).toolTip()


async def test_an_error_in_a_callback_shows_halted_with_the_error(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtbot: Any, expected_faults: ExpectedFaults
) -> None:
    expected_faults.allow_errors("ibdesk.strategies", 2)
    desk, es = await ready_desk(make_desk, sim)
    panel, model = panel_of(desk), desk.window.strategies_model
    panel.load(strategy_file(tmp_path, "Broken", BREAKS))
    click(panel.start_button, qtbot)
    sim.control.set_price(es.con_id, 6801.0)  # a quote for its on_quote
    await shows(model, "Broken", "State", "Halted")
    assert "ZeroDivisionError: bad signal" in tip(model, "Broken", "State")
    assert cell(model, "Broken", "Errors") == "1"
    assert panel.start_button.isEnabled(), "a halted strategy can be started again"
    assert not panel.pause_button.isEnabled() and not panel.stop_button.isEnabled()


async def test_parameters_are_edited_while_stopped_and_checked(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtbot: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim)
    panel = panel_of(desk)
    panel.load(strategy_file(tmp_path, "Probe", ENTERS))
    qty = panel.params.value_item("qty")
    assert qty is not None and qty.text() == "1"
    assert qty.flags() & Qt.ItemFlag.ItemIsEditable
    qty.setText("lots")  # what the cell's editor writes when the trader presses Enter
    assert "qty must be int" in panel.message.text()
    assert "f85149" in panel.message.styleSheet() or "cf222e" in panel.message.styleSheet()
    assert panel.params.value_item("qty").text() == "1", "back to the value in force"
    assert dict(desk.strategies.status("Probe").params)["qty"] == 1
    panel.params.value_item("qty").setText("3")
    assert dict(desk.strategies.status("Probe").params)["qty"] == 3
    assert panel.message.text() == "Probe: qty = 3"

    click(panel.start_button, qtbot)
    await wait_until(
        lambda: desk.strategies.state_of("Probe") is StrategyState.RUNNING, what="running"
    )
    await wait_until(
        lambda: not panel.params.value_item("qty").flags() & Qt.ItemFlag.ItemIsEditable
    )
    assert "stop it to edit" in panel.params.title.text()
    assert not panel.set_param("Probe", "qty", "4")
    assert "running: stop it first" in panel.message.text()


async def test_a_file_that_does_not_load_says_why(
    make_desk: MakeDesk, tmp_path: Path, qtbot: Any
) -> None:
    desk = await make_desk(start=False)
    panel = panel_of(desk)
    bad = tmp_path / "bad.py"
    bad.write_text("import nothing_of_that_name\n")
    await load_through_the_dialog(panel, bad, qtbot)
    assert "failed to load: ModuleNotFoundError" in panel.message.text()
    assert desk.window.strategies_model.rowCount() == 0
    assert not panel.start_button.isEnabled()


async def test_the_strategies_model_passes_the_model_tester(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtmodeltester: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim)
    panel, model = panel_of(desk), desk.window.strategies_model
    panel.load(strategy_file(tmp_path, "Alpha", ENTERS))
    panel.load(strategy_file(tmp_path, "Beta"))
    await desk.strategies.start("Alpha")
    await shows(model, "Alpha", "Position", "+1")
    model.sync()
    qtmodeltester.check(model)
    assert model.row_keys() == ["Alpha", "Beta"]


async def test_the_blotter_filters_by_strategy_and_shows_why(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    panel = panel_of(desk)
    panel.load(strategy_file(tmp_path, "Alpha", RESTS.format(why="alpha: mean reversion z=-2.1")))
    panel.load(strategy_file(tmp_path, "Alphabet", RESTS.format(why="alphabet: other signal")))
    await desk.strategies.start("Alpha")
    await desk.strategies.start("Alphabet")
    [manual] = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, 6690.0)).refs
    blotter = desk.window.blotter_panel
    await wait_until(lambda: blotter.working.rowCount() == 3, what="three working orders")
    assert blotter.source.findData("strategy:Alpha") >= 0
    blotter.source.setCurrentIndex(blotter.source.findData("strategy:Alpha"))
    proxy = blotter.working_view.model()
    assert proxy.rowCount() == 1, "Alpha's order only, not Alphabet's"
    ref = proxy.index(0, 0).data(KEY_ROLE)
    assert ref.startswith("strategy:Alpha#")
    why = [c.title for c in blotter.working.columns].index("Why")
    assert proxy.index(0, why).data() == "alpha: mean reversion z=-2.1"
    assert proxy.index(0, why).data(Qt.ItemDataRole.ToolTipRole) == "alpha: mean reversion z=-2.1"
    blotter.show_source("strategy")
    assert proxy.rowCount() == 2
    blotter.show_source("")
    assert proxy.rowCount() == 3 and desk.orders.get(manual).state.live


async def test_a_strategy_order_line_says_why_on_the_chart(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, _es = await ready_desk(make_desk, sim, charts="ES|1m")
    desk.strategies.load(strategy_file(tmp_path, "Alpha", RESTS.format(why="alpha: z=-2.1")))
    await desk.strategies.start("Alpha")
    [ref] = [o.ref for o in desk.strategies.entries["Alpha"].instance.orders()]
    [chart] = desk.window.chart_area.charts
    await wait_until(lambda: ref in chart.overlay.lines, timeout=10, what="the order's line")
    hover = chart.overlay.lines[ref].toolTip()
    assert "why: alpha: z=-2.1" in hover and "strategy:Alpha" in hover


async def test_the_confirmation_offers_to_pause_the_strategy_it_may_fight(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    desk.strategies.load(strategy_file(tmp_path, "Probe", ENTERS))
    await desk.strategies.start("Probe")
    await wait_until(lambda: desk.strategies.status("Probe").position == 1, what="long 1")
    ticket = desk.window.ticket_panel
    manual = OrderIntent(es, Side.SELL, 1, OrderType.LIMIT, TICKET, limit_price=6900.0)
    said: list[str] = []
    ticket.outcome_changed.connect(said.append)
    ticket.offer(manual)
    box = ticket.confirmation
    assert box is not None and "traded by strategy Probe (running, long 1)" in box.text()
    assert list(box.pause_buttons) == ["Probe"]
    assert box.defaultButton() is box.cancel_button
    box.pause_buttons["Probe"].click()
    await wait_until(lambda: ticket.sent_refs, what="sent after the pause")
    assert any(text.startswith("Paused Probe. Sent:") for text in said), said
    assert desk.strategies.state_of("Probe") is StrategyState.PAUSED
    assert "manual order" in desk.strategies.status("Probe").reason
    ref = ticket.sent_refs[0]
    await wait_until(lambda: at_sim(sim, ref) is not None, what="the manual order at the broker")

    # Paused, it is no longer one to pause: the reason stays, the offer goes.
    ticket.offer(manual)
    assert ticket.confirmation is not None and ticket.confirmation is not box
    assert ticket.confirmation.pause_buttons == {}
    ticket.confirmation.cancel_button.click()
    await wait_until(lambda: "you cancelled" in ticket.outcome.text(), what="cancelled")


async def test_a_chart_click_can_pause_the_strategy_first(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim, charts="ES|1m")
    desk.strategies.load(strategy_file(tmp_path, "Probe"))
    await desk.strategies.start("Probe")
    [chart] = desk.window.chart_area.charts
    await wait_until(lambda: chart.instrument is not None, timeout=10, what="the chart loaded")
    chart.set_armed(True)
    click = chart.trader.spawn(chart.trader.click(es, 6790.0, 6800.0, stop=False))
    box = await wait_until(lambda: chart.trader.confirmation, what="a confirmation")
    assert "traded by strategy Probe (running, flat)" in box.text()
    box.pause_buttons["Probe"].click()
    decision = await click
    assert decision is not None and decision.accepted
    assert desk.strategies.state_of("Probe") is StrategyState.PAUSED
    assert chart.message.text().startswith("Paused Probe. Sent:")


async def test_loaded_files_come_back_stopped_and_only_autostart_starts(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, settings_for: Any
) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    first, _es = await ready_desk(make_desk, sim)
    panel_of(first).load(strategy_file(folder, "Alpha"))
    panel_of(first).load(strategy_file(folder, "Beta"))
    gone = strategy_file(folder, "Gamma")
    panel_of(first).load(gone)  # remembered, then deleted before the next start
    await first.strategies.start("Alpha")
    await first.close()
    first.window.close()
    gone.unlink()

    base = settings_for(risk=limits_off())
    settings = dataclasses.replace(base, strategies=StrategySettings(autostart=("Beta",)))
    second = await make_desk(settings=settings)
    runner = second.strategies
    assert [s.name for s in runner.statuses()] == ["Alpha", "Beta"]
    assert {s.state for s in runner.statuses()} == {StrategyState.STOPPED}
    await wait_until(lambda: connected(second), timeout=15, what="connected")
    await wait_until(
        lambda: runner.state_of("Beta") is StrategyState.RUNNING, timeout=10, what="autostart"
    )
    assert runner.state_of("Alpha") is StrategyState.STOPPED, "running before is not enough"
    await shows(second.window.strategies_model, "Beta", "State", "Running")
    assert all("gamma" not in p for p in second.strategy_files)


async def test_screenshot_of_the_panel(
    make_desk: MakeDesk,
    sim: SimThread,
    tmp_path: Path,
    qtbot: Any,
    expected_faults: ExpectedFaults,
) -> None:
    """Two strategies as a trader would see them at 1920x1080: one running with a position,
    one halted by an error. Saved to docs/ when IBDESK_DOCS_SCREENSHOTS is set."""
    expected_faults.allow_errors("ibdesk.strategies", 2)
    desk, es = await ready_desk(make_desk, sim, charts="ES|1m")
    window = desk.window
    window.resize(1920, 1080)
    panel, model = panel_of(desk), window.strategies_model
    trend = """
    def on_start(self):
        self.bracket("ES", Side.BUY, 2, None, 6812.0, 6790.0,
                     why="trend: close 6800.25 > EMA(20) 6796.10, ATR 3.9")
    """
    panel.load(strategy_file(tmp_path, "TrendFollower", trend))
    panel.load(strategy_file(tmp_path, "MeanReversion", BREAKS))
    await desk.strategies.start("TrendFollower")
    await desk.strategies.start("MeanReversion")
    sim.control.set_price(es.con_id, 6801.0)
    await shows(model, "TrendFollower", "Position", "+2")
    await shows(model, "MeanReversion", "State", "Halted")
    panel.select("MeanReversion")  # its error in view, beside the running one
    await wait_until(lambda: window.chart_area.charts[0].series is not None, what="the chart")
    await wait_until(lambda: len(window.chart_area.charts[0].overlay.lines) == 2, what="lines")
    model.sync()
    shot = window.grab()
    assert shot.width() == 1920 and shot.height() == 1080
    path = tmp_path / "strategies.png"
    assert shot.save(str(path))
    if os.environ.get("IBDESK_DOCS_SCREENSHOTS"):
        docs = Path(__file__).resolve().parents[2] / "docs" / "strategies.png"
        assert shot.save(str(docs))
