"""Order types, modify, cancel, global cancel, what-if, rejects and partial fills, end to end.

The market is paused and moved with the control port, so every fill is deterministic: after
``set_price(ES, P)`` the front month's bid and last are P and its ask is P + 0.25.
"""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import EngineConfig, SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until

pytestmark = pytest.mark.sim


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


async def placed(ib: Any, contract: Any, order: Any, status: str = "Submitted") -> Any:
    trade = ib.placeOrder(contract, order)
    await wait_until(
        lambda: trade.orderStatus.status == status,
        what=f"order status {status} (now {trade.orderStatus.status})",
    )
    return trade


def sim_order(sim: SimThread, perm_id: int) -> dict[str, Any]:
    [row] = [o for o in sim.control.orders() if o["perm_id"] == perm_id]
    return row


async def test_market_order_fills_at_the_touch(ib: Any, es: Any, sim: SimThread) -> None:
    buy = await placed(ib, es, shim.MarketOrder("BUY", 2), "Filled")
    assert buy.orderStatus.avgFillPrice == 6800.25  # the ask
    assert sum(f.execution.shares for f in buy.fills) == 2
    await wait_until(
        lambda: all(f.commissionReport.commission for f in buy.fills), what="commission reports"
    )
    assert sum(f.commissionReport.commission for f in buy.fills) == pytest.approx(1.70)
    sell = await placed(ib, es, shim.MarketOrder("SELL", 2), "Filled")
    assert sell.orderStatus.avgFillPrice == 6800.0  # the bid


async def test_resting_limit_fills_at_its_price_when_touched(
    ib: Any, es: Any, sim: SimThread
) -> None:
    trade = await placed(ib, es, shim.LimitOrder("BUY", 1, 6795.0))
    sim.control.set_price(es.conId, 6797.0)
    assert trade.orderStatus.status == "Submitted"
    sim.control.set_price(es.conId, 6795.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="limit fill")
    assert trade.orderStatus.avgFillPrice == 6795.0


async def test_marketable_limit_fills_at_the_ask_not_its_limit(ib: Any, es: Any) -> None:
    trade = await placed(ib, es, shim.LimitOrder("BUY", 1, 6802.0), "Filled")
    assert trade.orderStatus.avgFillPrice == 6800.25


async def test_limit_at_the_bid_does_not_fill_on_arrival(ib: Any, es: Any, sim: SimThread) -> None:
    trade = await placed(ib, es, shim.LimitOrder("BUY", 1, 6800.0))
    assert sim_order(sim, trade.order.permId)["status"] == "Submitted"


async def test_stop_triggers_on_last_then_fills_at_market(ib: Any, es: Any, sim: SimThread) -> None:
    trade = await placed(ib, es, shim.StopOrder("BUY", 1, 6805.0))
    sim.control.set_price(es.conId, 6804.75)
    assert sim_order(sim, trade.order.permId)["status"] == "Submitted"
    sim.control.set_price(es.conId, 6805.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="stop fill")
    assert trade.orderStatus.avgFillPrice == 6805.25


async def test_stop_limit_becomes_a_limit_when_triggered(ib: Any, es: Any, sim: SimThread) -> None:
    trade = await placed(ib, es, shim.StopLimitOrder("SELL", 1, 6794.0, 6795.0))
    sim.control.set_price(es.conId, 6795.0)  # triggers; bid 6795 >= limit 6794: fills
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="stop-limit fill")
    assert trade.orderStatus.avgFillPrice == 6795.0
    gapped = await placed(ib, es, shim.StopLimitOrder("SELL", 1, 6790.0, 6792.0))
    sim.control.set_price(es.conId, 6780.0)  # triggers, but the market is through the limit
    row = sim_order(sim, gapped.order.permId)
    assert row["status"] == "Submitted" and row["filled"] == 0


async def test_trailing_stop_follows_the_market_and_triggers(
    ib: Any, es: Any, sim: SimThread
) -> None:
    order = shim.Order(action="SELL", orderType="TRAIL", totalQuantity=1, auxPrice=2.0)
    trade = await placed(ib, es, order)
    sim.control.set_price(es.conId, 6810.0)
    assert sim_order(sim, trade.order.permId)["trail_stop_price"] == 6808.0
    sim.control.set_price(es.conId, 6809.0)
    assert sim_order(sim, trade.order.permId)["trail_stop_price"] == 6808.0
    sim.control.set_price(es.conId, 6808.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="trailing stop fill")


async def test_ioc_that_cannot_fill_is_cancelled_at_once(ib: Any, es: Any) -> None:
    order = shim.LimitOrder("BUY", 1, 6790.0, tif="IOC")
    await placed(ib, es, order, "Cancelled")


async def test_gtc_limit_rests_and_orderref_is_echoed(ib: Any, es: Any, sim: SimThread) -> None:
    order = shim.LimitOrder("SELL", 3, 6820.0, tif="GTC", orderRef="ticket:ab12")
    trade = await placed(ib, es, order)
    row = sim_order(sim, trade.order.permId)
    assert (row["tif"], row["order_ref"], row["total_qty"]) == ("GTC", "ticket:ab12", 3)
    other = await placed(ib, es, shim.LimitOrder("SELL", 1, 6821.0))
    assert other.order.permId != trade.order.permId
    sim.control.set_price(es.conId, 6820.0)
    await wait_until(lambda: trade.fills, what="fill")
    assert trade.fills[0].execution.orderRef == "ticket:ab12"


async def test_modify_price_and_quantity_keeps_the_order(ib: Any, es: Any, sim: SimThread) -> None:
    order = shim.LimitOrder("BUY", 1, 6790.0)
    trade = await placed(ib, es, order)
    order.lmtPrice = 6795.0
    order.totalQuantity = 2
    ib.placeOrder(es, order)
    await wait_until(
        lambda: sim_order(sim, trade.order.permId)["lmt_price"] == 6795.0,
        what="modify at the simulator",
    )
    assert sim_order(sim, trade.order.permId)["total_qty"] == 2
    assert len(sim.control.orders()) == 1
    sim.control.set_price(es.conId, 6795.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill at new price")
    assert trade.orderStatus.filled == 2


async def test_cancel_then_cancel_again_and_cancel_unknown(
    ib: Any, es: Any, sim: SimThread
) -> None:
    codes: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: codes.append((req_id, code))
    trade = await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0))
    ib.cancelOrder(trade.order)
    await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="cancel")
    await wait_until(lambda: (trade.order.orderId, 202) in codes, what="error 202")
    assert sim_order(sim, trade.order.permId)["status"] == "Cancelled"
    ib.client.cancelOrder(987654, "")
    await wait_until(lambda: (987654, 10147) in codes, what="error 10147")


async def test_cancel_of_a_filled_order_says_so(ib: Any, es: Any) -> None:
    codes: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: codes.append((req_id, code))
    trade = await placed(ib, es, shim.MarketOrder("BUY", 1), "Filled")
    ib.client.cancelOrder(trade.order.orderId, "")
    await wait_until(lambda: (trade.order.orderId, 10148) in codes, what="error 10148")


async def test_global_cancel_reaches_every_client(
    connect: Connect, es: Any, ib: Any, sim: SimThread
) -> None:
    other = await connect(client_id=2)
    mine = await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0))
    theirs = await placed(other, es, shim.LimitOrder("SELL", 1, 6810.0))
    manual = sim.control.enter_manual_order("ES", "BUY", 1, "LMT", 6780.0)
    ib.reqGlobalCancel()
    await wait_until(lambda: theirs.orderStatus.status == "Cancelled", what="other client")
    await wait_until(lambda: mine.orderStatus.status == "Cancelled", what="own order")
    assert sim.control.orders(open_only=True) == []
    assert sim_order(sim, manual["perm_id"])["status"] == "Cancelled"


async def test_what_if_reports_margin_and_commission_and_places_nothing(
    ib: Any, es: Any, sim: SimThread
) -> None:
    state = await ib.whatIfOrderAsync(es, shim.MarketOrder("BUY", 2))
    assert float(state.initMarginChange) == pytest.approx(50_000)
    assert float(state.maintMarginChange) == pytest.approx(45_400)
    assert state.commission == pytest.approx(1.70)
    assert sim.control.orders() == []
    assert sim.control.positions() == []


async def _rejected(ib: Any, contract: Any, order: Any) -> tuple[Any, list[tuple[int, str]]]:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: errors.append((code, text))
    trade = ib.placeOrder(contract, order)
    await wait_until(lambda: errors, what="an error")
    return trade, errors


async def test_rejects_carry_a_reason(ib: Any, es: Any, sim: SimThread) -> None:
    _, errors = await _rejected(ib, es, shim.MarketOrder("BUY", 600))
    assert errors[0][0] == 201 and "Size Limit" in errors[0][1]
    _, errors = await _rejected(ib, es, shim.MarketOrder("BUY", 100))
    assert errors[0][0] == 201 and "INITIAL MARGIN" in errors[0][1]
    assert sim.control.positions() == []


async def test_off_tick_price_is_refused_with_110_and_ends_cancelled(
    ib: Any, es: Any, sim: SimThread
) -> None:
    trade, errors = await _rejected(ib, es, shim.LimitOrder("BUY", 1, 6790.1))
    assert errors[0][0] == 110
    await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="final status")
    assert sim.control.orders(open_only=True) == []


async def test_unknown_contract_is_error_200(ib: Any) -> None:
    bogus = shim.Future(symbol="ZZZ", lastTradeDateOrContractMonth="203001", exchange="CME")
    _, errors = await _rejected(ib, bogus, shim.MarketOrder("BUY", 1))
    assert errors[0][0] == 200


async def test_reused_or_lower_order_id_is_refused(ib: Any, es: Any, sim: SimThread) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    first = await placed(ib, es, shim.MarketOrder("BUY", 1), "Filled")
    used = first.order.orderId
    ib.client.placeOrder(used, es, shim.MarketOrder("BUY", 1))
    await wait_until(lambda: (used, 104) in errors, what="error 104 for a filled order's id")
    assert used > 1  # startup sync consumed request ids, so a lower id exists
    ib.client.placeOrder(used - 1, es, shim.MarketOrder("BUY", 1))
    await wait_until(lambda: (used - 1, 103) in errors, what="error 103 for a lower id")
    assert len(sim.control.orders()) == 1


class TestPartialFills:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(
            start_paused=True,
            engine=EngineConfig(partial_fills=True),
        )

    async def test_fills_come_in_pieces_no_larger_than_the_touch(
        self, ib: Any, es: Any, sim: SimThread
    ) -> None:
        shown = sim.control.quote(es.conId)["ask_size"]
        qty = int(shown) + 5
        trade = ib.placeOrder(es, shim.MarketOrder("BUY", qty))
        await wait_until(lambda: trade.fills, what="first partial fill")
        assert trade.fills[0].execution.shares == shown
        assert trade.orderStatus.status == "Submitted"
        assert trade.orderStatus.remaining == qty - shown
        while trade.orderStatus.status != "Filled":
            sim.control.step(1)
            await wait_until(
                lambda: sim.control.orders()[0]["filled"] == trade.orderStatus.filled,
                what="client to catch up",
            )
        assert sum(f.execution.shares for f in trade.fills) == qty


async def test_executions_and_completed_orders_can_be_requested(ib: Any, es: Any) -> None:
    await placed(ib, es, shim.MarketOrder("BUY", 1), "Filled")
    await placed(ib, es, shim.MarketOrder("SELL", 1), "Filled")
    cancelled = await placed(ib, es, shim.LimitOrder("BUY", 1, 6700.0))
    ib.cancelOrder(cancelled.order)
    await wait_until(lambda: cancelled.orderStatus.status == "Cancelled", what="cancel")
    fills = await ib.reqExecutionsAsync()
    assert sorted(f.execution.side for f in fills) == ["BOT", "SLD"]
    sells = await ib.reqExecutionsAsync(shim.ExecutionFilter(side="SELL"))
    assert [f.execution.side for f in sells] == ["SLD"]
    none = await ib.reqExecutionsAsync(shim.ExecutionFilter(symbol="NQ"))
    assert none == []
    done = await ib.reqCompletedOrdersAsync(False)
    statuses = sorted(t.orderStatus.status for t in done)
    assert statuses == ["Cancelled", "Filled", "Filled"]


async def test_manual_orders_go_to_client_zero_and_the_master(
    connect: Connect, sim: SimThread
) -> None:
    sim.sim.config.master_client_id = 9
    zero = await connect(client_id=0)
    one = await connect(client_id=1)
    master = await connect(client_id=9)
    zero.reqAutoOpenOrders(True)
    await zero.reqCurrentTimeAsync()  # barrier: the server has handled reqAutoOpenOrders
    es = await front_future(one)
    sim.control.set_price(es.conId, 6800.0)
    manual = sim.control.enter_manual_order(es.conId, "BUY", 1, "LMT", 6790.0)
    assert manual["order_id"] < 0
    await wait_until(
        lambda: any(t.order.permId == manual["perm_id"] for t in zero.trades()),
        what="client 0 sees the manual order",
    )
    await wait_until(
        lambda: any(t.order.permId == manual["perm_id"] for t in master.trades()),
        what="the master sees it",
    )
    placed_by_one = await placed(one, es, shim.LimitOrder("SELL", 1, 6810.0))
    await wait_until(
        lambda: any(t.order.permId == placed_by_one.order.permId for t in master.trades()),
        what="master sees client 1",
    )
    assert all(t.order.permId != manual["perm_id"] for t in one.trades())
    everything = await one.reqAllOpenOrdersAsync()
    assert {t.order.permId for t in everything} >= {manual["perm_id"], placed_by_one.order.permId}
    [mine] = [t for t in zero.trades() if t.order.permId == manual["perm_id"]]
    zero.cancelOrder(mine.order)
    await wait_until(
        lambda: sim_order(sim, manual["perm_id"])["status"] == "Cancelled",
        what="client 0 cancels the manual order",
    )
