"""Orders end to end: the gate, the pacer, the blotter and the journal against the simulator."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ibdesk.broker import ib as shim
from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import EngineConfig, SimConfig, SimThread
from ibdesk.ui.models.table import KEY_ROLE
from tests.desk.kit import running_strategy
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
TICKET = Source("ticket")


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


async def ready_desk(make_desk: MakeDesk, sim: SimThread, **kw: Any) -> tuple[Any, Any]:
    """A connected desk and the ES front month at 6800 (bid 6800, ask 6800.25), with the
    pre-trade limits off: these tests are about the order path (tests/ui/test_risk.py has
    the limits)."""
    kw.setdefault("risk", limits_off())
    desk = await make_desk(**kw)
    await wait_until(lambda: connected(desk), what="connected")
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    return desk, es


def lmt(inst: Any, price: float, qty: float = 1, side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(inst, side, qty, OrderType.LIMIT, TICKET, limit_price=price)


def at_sim(sim: SimThread, ref: str) -> dict[str, Any] | None:
    return next((o for o in sim.control.orders() if o["order_ref"] == ref), None)


def state(desk: Any, ref: str) -> OrderState | None:
    snap = desk.orders.get(ref)
    return snap.state if snap is not None else None


def blotter_row(model: Any, ref: str) -> int | None:
    return next((r for r, k in enumerate(model.row_keys()) if k == ref), None)


async def test_place_modify_in_place_cancel_from_the_blotter(
    make_desk: MakeDesk, qtbot: Any, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(lmt(es, 6790.0)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
    assert at_sim(sim, ref)["order_ref"] == ref  # the orderRef reached the broker
    blotter = desk.window.blotter_panel
    await wait_until(lambda: blotter_row(blotter.working, ref) is not None, what="blotter row")
    row = blotter_row(blotter.working, ref)
    limit_col = [c.title for c in blotter.working.columns].index("Limit")
    blotter.working.item(row, limit_col).setText("6794.25")  # what an editor commit does
    await wait_until(lambda: at_sim(sim, ref)["lmt_price"] == 6794.25, what="modified at sim")
    await wait_until(lambda: desk.orders.get(ref).limit_price == 6794.25, what="echoed")
    blotter.working.item(row, limit_col).setText("6794,50")
    assert "point for decimals" in blotter.message.text()
    await wait_until(
        lambda: blotter.working.item(row, limit_col).text() == "6,794.25",
        what="the cell shows the broker's price again",
    )
    view = blotter.working_view
    proxy = view.model()
    view.selectRow(
        next(r for r in range(proxy.rowCount()) if proxy.index(r, 0).data(KEY_ROLE) == ref)
    )
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    await wait_until(lambda: state(desk, ref) is OrderState.CANCELLED, what="cancelled")
    await wait_until(lambda: blotter_row(blotter.completed, ref) is not None, what="completed")
    assert blotter_row(blotter.working, ref) is None


async def test_the_blotter_refreshing_itself_sends_nothing(
    make_desk: MakeDesk, sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # QStandardItemModel reports the blotter's own refresh as itemChanged, as it does an edit:
    # once, each refresh of a working order's price sent that price back as a modify.
    desk, es = await ready_desk(make_desk, sim)
    modifies: list[Any] = []
    real_modify = desk.gate.modify
    monkeypatch.setattr(desk.gate, "modify", lambda i: modifies.append(i) or real_modify(i))
    [ref] = desk.place(lmt(es, 6790.0)).refs
    blotter = desk.window.blotter_panel
    await wait_until(lambda: blotter_row(blotter.working, ref) is not None, what="blotter row")
    desk.modify_order(ref, limit_price=6791.0, source=Source("chart"))
    await wait_until(lambda: at_sim(sim, ref)["lmt_price"] == 6791.0, what="modified at sim")
    row = blotter_row(blotter.working, ref)
    limit_col = [c.title for c in blotter.working.columns].index("Limit")
    await wait_until(
        lambda: blotter.working.item(row, limit_col).text() == "6,791.00", what="shown"
    )
    desk.place(lmt(es, 6780.0))  # more traffic through the same rows and models
    await wait_until(lambda: len(blotter.working.row_keys()) == 2, what="second order shown")
    assert [(m.ref, m.limit_price) for m in modifies] == [(ref, 6791.0)]
    assert "Modify" not in blotter.message.text()


class TestPartialFills:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(
            start_paused=True,
            engine=EngineConfig(partial_fills=True),
        )

    async def test_partial_fills_show_filled_and_remaining(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        desk, es = await ready_desk(make_desk, sim)
        shown = sim.control.quote(es.con_id)["ask_size"]
        qty = int(shown) + 3
        [ref] = desk.place(OrderIntent(es, Side.BUY, qty, OrderType.MARKET, TICKET)).refs
        await wait_until(lambda: state(desk, ref) is OrderState.PARTIAL, what="partial")
        assert desk.orders.get(ref).filled == shown and desk.orders.get(ref).remaining == 3
        while state(desk, ref) is not OrderState.FILLED:
            sim.control.step(1)
            await wait_until(
                lambda: desk.orders.get(ref).filled == at_sim(sim, ref)["filled"],
                what="in step with the broker",
            )
        fills = desk.window.blotter_panel.fills
        await wait_until(lambda: fills.rowCount() >= 2, what="one row per execution")


async def test_the_blotter_filters_by_source_and_exports_csv(
    make_desk: MakeDesk, tmp_path: Path, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    other = shim.IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=0)
    try:
        other.reqAutoOpenOrders(True)
        await running_strategy(desk, tmp_path, "trend")
        desk.place(lmt(es, 6790.0))
        desk.place(
            OrderIntent(
                es, Side.SELL, 1, OrderType.LIMIT, Source("strategy", "trend"), limit_price=6810.0
            )
        )
        blotter = desk.window.blotter_panel
        await wait_until(lambda: blotter.working.rowCount() == 2, what="two working orders")
        blotter.source.setCurrentIndex(blotter.source.findData("strategy"))
        proxy = blotter.working_view.model()
        assert proxy.rowCount() == 1 and proxy.index(0, 0).data(KEY_ROLE).startswith(
            "strategy:trend#"
        )
        out = tmp_path / "working.csv"
        assert blotter.export(out) == 1
        rows = list(csv.reader(out.open()))
        assert rows[0][0] == "Time (exchange)"  # the export says whose clock its times are on
        assert rows[1][rows[0].index("Source")] == "strategy:trend"
        blotter.source.setCurrentIndex(0)
        assert proxy.rowCount() == 2
    finally:
        other.disconnect()


async def test_cancel_all_reaches_other_clients(
    make_desk: MakeDesk, sim: SimThread, qtbot: Any
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    mine = desk.place(lmt(es, 6790.0)).refs[0]
    other = shim.IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=42)
    try:
        contract = shim.Future(conId=es.con_id, exchange="CME")
        trade = other.placeOrder(contract, shim.LimitOrder("SELL", 1, 6815.0))
        await wait_until(lambda: trade.orderStatus.status == "Submitted", what="other order")
        qtbot.mouseClick(desk.window.blotter_panel.cancel_all_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="theirs")
        await wait_until(lambda: state(desk, mine) is OrderState.CANCELLED, what="mine")
        assert sim.control.orders(open_only=True) == []
    finally:
        other.disconnect()


async def test_blotter_models_pass_the_model_tester(
    make_desk: MakeDesk, sim: SimThread, qtmodeltester: Any
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    desk.place(lmt(es, 6790.0))
    desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET))
    blotter = desk.window.blotter_panel
    await wait_until(
        lambda: (
            blotter.working.rowCount() and blotter.completed.rowCount() and blotter.fills.rowCount()
        ),
        what="rows in every tab",
    )
    for model in (blotter.working, blotter.completed, blotter.fills):
        qtmodeltester.check(model)
