"""The desktop watches ``ibdesk run`` through TWS: a runner (a subprocess, API client 7) trades
a strategy against the simulator while the desktop (client 1, TWS's Master API client) shows
its orders in the blotter and on the chart attributed to the strategy and its client, and a
read-only row for it in the strategies panel with its P&L from its fills."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from ibdesk.broker import ib as shim
from ibdesk.broker.master import NOTICE_KEY
from ibdesk.domain.orders import OrderState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import format as fmt
from ibdesk.ui.models.strategies import REMOTE
from tests.desk.kit import ready_desk
from tests.helpers import Connect, private_env, quick_sim, wait_until

from .conftest import MakeDesk
from .test_strategies_panel import cell

pytestmark = [pytest.mark.ui, pytest.mark.sim]

RUNNER = 7
REF = "strategy:Trip#7.1"
ROW = f"Trip @ client {RUNNER}"
WHO = f"strategy Trip @ client {RUNNER}"

TRIP = """
from ibdesk.strategies import Strategy

class Trip(Strategy):
    '''A round trip at market, then one bid resting far under the market.'''
    instruments = ("ES",)

    def on_start(self):
        self.buy("ES", 1, why="trip in")
        self.sell("ES", 1, why="trip out")
        bid = self.quote("ES").bid
        self.buy("ES", 1, limit=round(bid * 4) / 4 - 50, why="resting bid")
"""


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    # The desktop (client 1) is TWS's Master API client unless a test says otherwise.
    return quick_sim(master_client_id=getattr(request, "param", 1))


@pytest.fixture
def runner(sim: SimThread, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``ibdesk run`` on the strategy file, as API client 7, with a home of its own; stopped
    with SIGTERM afterwards (its orders cancelled), killed if it does not stop."""
    home = tmp_path / "server"
    home.mkdir()
    path = home / "trip.py"
    path.write_text(textwrap.dedent(TRIP))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibdesk", "run", str(path),
         "--port", str(sim.port), "--client-id", str(RUNNER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_env(home),
    )  # fmt: skip
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


def theirs(sim: SimThread) -> list[dict[str, Any]]:
    return [e for e in sim.control.executions() if str(e["order_ref"]).startswith("strategy:Trip#")]


def source_cells(blotter: Any, model: Any) -> list[str]:
    col = [c.title for c in model.columns].index("Source")
    return [model.item(r, col).text() for r in range(model.rowCount())]


async def test_the_desktop_shows_the_runners_strategy_read_only_with_its_pnl(
    make_desk: MakeDesk, sim: SimThread, runner: subprocess.Popen[str], qtbot: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim, charts="ES|1m")
    await wait_until(
        lambda: len(theirs(sim)) == 2 or runner.poll() is not None,
        timeout=60,
        what="the runner's round trip at the simulator",
    )
    assert runner.poll() is None, runner.communicate()[1][-2000:]

    # The blotter: its resting bid working, its round trip completed, all attributed.
    blotter = desk.window.blotter_panel
    await wait_until(lambda: WHO in source_cells(blotter, blotter.working), what="working row")
    await wait_until(
        lambda: source_cells(blotter, blotter.completed).count(WHO) == 2, what="completed rows"
    )
    [resting] = [o for o in desk.orders.live() if o.client_id == RUNNER]
    assert resting.state is OrderState.WORKING and resting.source.name == "Trip"
    await wait_until(lambda: source_cells(blotter, blotter.fills).count(WHO) == 2, what="the fills")
    # Only the runner may change its order: the desk's gate says so, and sends nothing.
    refused = desk.cancel_order(resting.ref)
    assert not refused.accepted and "API client 7" in refused.reason

    # The chart: its line names the strategy and the client, and cannot be dragged.
    [chart] = desk.window.chart_area.charts
    await wait_until(lambda: resting.ref in chart.overlay.lines, timeout=10, what="its line")
    line = chart.overlay.lines[resting.ref]
    assert f"from {WHO}" in line.toolTip() and not line.own
    chart.overlay.set_armed(True)
    assert not line.movable

    # The strategies panel: a read-only row with its book from its own fills.
    model, panel = desk.window.strategies_model, desk.window.strategies_panel
    fills = theirs(sim)
    expected = sum(
        (e["price"] if e["side"] == "SLD" else -e["price"]) * 50 - e["commission"] for e in fills
    )
    await wait_until(
        lambda: ROW in model.row_keys() and cell(model, ROW, "P&L today") == fmt.money(expected),
        timeout=10,
        what=f"its P&L from its fills ({fmt.money(expected)})",
    )
    assert cell(model, ROW, "State") == REMOTE
    assert cell(model, ROW, "Working") == "1"
    assert cell(model, ROW, "Position") == "flat"
    panel.select(ROW)
    assert panel.selected() == ROW
    for button in (panel.start_button, panel.stop_button, panel.reload_button):
        assert not button.isEnabled()
        assert "runs elsewhere" in button.toolTip()
    assert "runs elsewhere" in panel.params.toolTip()
    panel.start_selected()  # a click that got through anyway is refused with why
    await wait_until(lambda: "runs elsewhere" in panel.message.text(), what="the refusal")


@pytest.mark.parametrize("sim_config", [None], indirect=True)
async def test_a_desktop_that_is_not_the_master_says_how_once(
    make_desk: MakeDesk, sim: SimThread, connect: Connect, qtbot: Any
) -> None:
    other = await connect(client_id=RUNNER)  # the runner has an order open already
    [es] = await shim.qualify(other, shim.ContFuture("ES", exchange=""))
    es = shim.Future(conId=es.conId, exchange="CME")
    sim.control.set_price(es.conId, 6800.0)
    trade = other.placeOrder(es, shim.LimitOrder("BUY", 1, 6700.0, orderRef=REF))
    await wait_until(lambda: trade.orderStatus.status == "Submitted", what="the other's order")
    desk, _es = await ready_desk(make_desk, sim, price=None)
    banners = desk.window.banners
    await wait_until(lambda: NOTICE_KEY in banners.banners, timeout=10, what="the advice")
    [advice] = [t for t in banners.texts() if "Master API client ID" in t]
    assert (
        "Global Configuration > API > Settings" in advice
        and '"Master API client ID" to 1' in advice
    )
    [dismiss] = [
        b for b in banners.banners[NOTICE_KEY].findChildren(QPushButton) if b.text() == "Dismiss"
    ]
    qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    await wait_until(lambda: NOTICE_KEY not in banners.banners, what="dismissed")
    await desk.master.look()  # a reconnect's look finds the same: it does not nag
    assert NOTICE_KEY not in banners.banners
