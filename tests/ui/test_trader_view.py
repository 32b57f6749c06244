"""What a trader looks at: the instrument link (pick a row, Ctrl+B buys it), a state no one
can miss (the HALTED band, charts disarmed, Submit off with the reason, every halt text gone
after a re-arm), controls that look disabled, and a LIVE account framed."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QTableView

from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import theme
from ibdesk.ui.models.table import KEY_ROLE
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(positions=(("MES", 2.0),))


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


def pick(view: QTableView, key: Any) -> None:
    """Make the row with ``key`` the current one, as a click or the arrow keys do."""
    model = view.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(KEY_ROLE) == key)
    view.selectionModel().setCurrentIndex(
        model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def ticket_symbol(desk: Any) -> str:
    inst = desk.window.ticket_panel.instrument
    return inst.display if inst is not None else ""


async def test_picking_a_row_links_the_ticket_and_ctrl_b_buys_it(
    make_desk: MakeDesk, qtbot: Any, sim: SimThread
) -> None:
    desk = await make_desk(risk=limits_off(), charts="ES|1m|linked;CL|1m")
    await wait_until(lambda: connected(desk), what="connected")
    window = desk.window
    nq = sim.control.instrument("NQ")
    await wait_until(lambda: nq.con_id in window.watchlist_model.row_keys(), what="NQ listed")
    pick(window.watchlist_panel.view, nq.con_id)
    await wait_until(lambda: ticket_symbol(desk) == nq.local_symbol, what="the ticket on NQ")
    assert window.quick_ticket.symbol.text() == nq.local_symbol  # what Ctrl+B trades
    linked, pinned = window.chart_area.charts
    await wait_until(lambda: linked.symbol == nq.local_symbol, what="the linked chart on NQ")
    assert pinned.symbol == "CL"
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    await wait_until(
        lambda: any(o["symbol"] == "NQ" for o in sim.control.orders()), what="NQ bought"
    )
    assert not any(o["symbol"] == "ES" for o in sim.control.orders())
    # The positions panel links too.
    await wait_until(lambda: window.positions_model.rowCount() > 0, what="a position")
    positions = window.positions_model
    [key] = [k for k in positions.row_keys() if positions.row(k).instrument.symbol == "MES"]
    pick(window.positions_panel.view, key)
    await wait_until(lambda: ticket_symbol(desk).startswith("MES"), what="the ticket on MES")
    # And the blotter: the NQ order's row brings NQ back.
    blotter = window.blotter_panel
    window.docks["orders"].raise_()
    [ref, *_] = [
        r for r in blotter.working.row_keys() if "NQ" in desk.orders.get(r).instrument.display
    ]
    pick(blotter.working_view, ref)
    await wait_until(lambda: ticket_symbol(desk) == nq.local_symbol, what="the ticket on NQ")
    # A click on a chart links its instrument.
    await wait_until(lambda: pinned.instrument is not None, what="the CL chart loaded")
    view = pinned.view
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport().rect().center()
    )
    await wait_until(lambda: ticket_symbol(desk) == pinned.instrument.display, what="ticket on CL")


async def test_a_kill_is_impossible_to_miss_and_a_rearm_leaves_no_trace(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk = await make_desk(risk=limits_off(), charts="ES|1m")
    await wait_until(lambda: connected(desk), what="connected")
    window = desk.window
    [chart] = window.chart_area.charts
    await wait_until(lambda: chart.instrument is not None, what="chart loaded")
    chart.set_armed(True)
    ticket = window.ticket_panel
    await ticket.set_symbol("ES")
    await wait_until(ticket.submit_button.isEnabled, what="a ticket ready to send")
    es = chart.instrument
    intent = OrderIntent(
        es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=es.min_tick * 4
    )
    [ref] = desk.place(intent).refs
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.WORKING, what="working")
    ticket.show_outcome(f"Working at the broker ({ref}).", "ok")  # what the ticket said

    desk.kill("kill button")
    band = window.state_band
    await wait_until(lambda: "verified" in band.texts(), timeout=15, what="the band's verification")
    text = band.texts()
    assert "HALTED" in text and "kill button" in text and "new orders are refused" in text
    assert band.width() >= window.width() - 20, "the band spans the window"
    assert not chart.trader.armed and not chart.arm_button.isEnabled()
    assert "HALTED" in chart.arm_button.toolTip()
    await wait_until(lambda: not ticket.submit_button.isEnabled(), what="Submit off")
    assert "halted" in ticket.submit_button.toolTip().lower()
    assert "Working" not in ticket.outcome.text()
    assert not window.quick_ticket.buy.isEnabled()

    desk.rearm("test", "checked the book", TradingState.ACTIVE)
    await wait_until(band.isHidden, what="the band gone")
    await wait_until(ticket.submit_button.isEnabled, what="Submit back")
    assert chart.arm_button.isEnabled()
    assert window.quick_ticket.buy.isEnabled()
    shown = [
        ticket.outcome.text(),
        ticket.gate_verdict.text() if ticket.gate_verdict.isVisible() else "",
        ticket.submit_button.toolTip(),
        chart.arm_button.toolTip(),
        chart.message.text(),
        window.quick_ticket.buy.toolTip(),
        band.texts(),
    ]
    assert not [t for t in shown if "halt" in t.lower()], shown


@pytest.mark.parametrize("name", ["dark", "light"])
def test_a_disabled_control_looks_disabled(qapp: QApplication, name: str) -> None:
    theme.apply(qapp, name)
    palette = qapp.palette()
    for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text):
        active = palette.color(QPalette.ColorGroup.Active, role)
        disabled = palette.color(QPalette.ColorGroup.Disabled, role)
        assert active != disabled, role


@pytest.mark.parametrize("sim_config", [quick_sim(accounts=("U7654321",))])
async def test_a_live_account_frames_the_window(make_desk: MakeDesk) -> None:
    desk = await make_desk(account="U7654321")
    await wait_until(lambda: connected(desk), what="connected")
    window = desk.window
    await wait_until(lambda: window.live, what="LIVE shown")
    assert "border" in window.styleSheet() and "LIVE" in window.windowTitle()
    assert "LIVE" in window.status.mode.text()
