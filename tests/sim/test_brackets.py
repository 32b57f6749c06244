"""Brackets and OCA groups: IB's transmit semantics, activation, and one-cancels-other."""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import EngineConfig, SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import front_future, wait_until
from .test_orders import placed, sim_order

pytestmark = pytest.mark.sim


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


async def bracket(
    ib: Any,
    contract: Any,
    entry: float,
    take: float,
    stop: float,
    qty: int = 1,
    action: str = "BUY",
) -> list[Any]:
    return await placed_working(ib, contract, ib.bracketOrder(action, qty, entry, take, stop))


async def placed_working(
    ib: Any, contract: Any, orders: Any, what: str = "bracket working"
) -> list[Any]:
    """Place the orders; their trades once the simulator has them working (or filled)."""
    trades = [ib.placeOrder(contract, o) for o in orders]
    await wait_until(
        lambda: all(
            t.orderStatus.status in ("Submitted", "PreSubmitted", "Filled") for t in trades
        ),
        what=what,
    )
    return trades


async def test_children_wait_for_the_parent_then_take_profit_cancels_the_stop(
    ib: Any, es: Any, sim: SimThread
) -> None:
    parent, take, stop = await bracket(ib, es, 6798.0, 6806.0, 6794.0, qty=2)
    rows = {o["perm_id"]: o for o in sim.control.orders()}
    assert rows[take.order.permId]["parent_perm_id"] == parent.order.permId
    assert rows[stop.order.permId]["parent_perm_id"] == parent.order.permId
    assert take.orderStatus.status == stop.orderStatus.status == "PreSubmitted"
    # The stop would trigger at 6794, but it must not work before the parent fills.
    sim.control.set_price(es.conId, 6798.0)
    await wait_until(lambda: parent.orderStatus.status == "Filled", what="parent fill")
    await wait_until(
        lambda: take.orderStatus.status == stop.orderStatus.status == "Submitted",
        what="children activated",
    )
    sim.control.set_price(es.conId, 6806.0)
    await wait_until(lambda: take.orderStatus.status == "Filled", what="take-profit fill")
    await wait_until(lambda: stop.orderStatus.status == "Cancelled", what="stop cancelled")
    assert sim.control.positions() == []
    # Cancelled as placed: still a 2-lot, none of it filled (not shrunk to a 0-lot).
    assert sim_order(sim, stop.order.permId)["total_qty"] == 2
    assert stop.orderStatus.filled == 0 and stop.orderStatus.remaining == 2


async def test_stop_loss_fill_cancels_the_take_profit(ib: Any, es: Any, sim: SimThread) -> None:
    parent, take, stop = await bracket(ib, es, 6800.25, 6806.0, 6794.0)
    await wait_until(lambda: parent.orderStatus.status == "Filled", what="marketable parent")
    sim.control.set_price(es.conId, 6794.0)
    await wait_until(lambda: stop.orderStatus.status == "Filled", what="stop fill")
    await wait_until(lambda: take.orderStatus.status == "Cancelled", what="take-profit cancel")
    assert stop.orderStatus.avgFillPrice == 6794.0


async def test_untransmitted_orders_are_held_until_the_group_is_transmitted(
    ib: Any, es: Any, sim: SimThread
) -> None:
    parent_order, take_order, stop_order = ib.bracketOrder("BUY", 1, 6790.0, 6810.0, 6780.0)
    parent = ib.placeOrder(es, parent_order)
    take = ib.placeOrder(es, take_order)
    await ib.reqCurrentTimeAsync()  # barrier: both reached the simulator
    assert {o["status"] for o in sim.control.orders()} == {"Held"}
    assert parent.orderStatus.status == take.orderStatus.status == "PendingSubmit"
    stop = ib.placeOrder(es, stop_order)
    await wait_until(lambda: stop.orderStatus.status == "PreSubmitted", what="transmitted")
    assert parent.orderStatus.status == "Submitted"


async def test_cancelling_the_parent_cancels_its_children(ib: Any, es: Any, sim: SimThread) -> None:
    parent, take, stop = await bracket(ib, es, 6790.0, 6810.0, 6780.0)
    ib.cancelOrder(parent.order)
    await wait_until(
        lambda: all(t.orderStatus.status == "Cancelled" for t in (parent, take, stop)),
        what="all cancelled",
    )
    assert sim.control.orders(open_only=True) == []


async def test_explicit_oca_group_cancels_the_others(ib: Any, es: Any, sim: SimThread) -> None:
    group = []
    for price in (6795.0, 6790.0):
        order = shim.LimitOrder("BUY", 1, price, ocaGroup="oca-1", ocaType=1)
        group.append(await placed(ib, es, order))
    sim.control.set_price(es.conId, 6795.0)
    await wait_until(lambda: group[0].orderStatus.status == "Filled", what="first fill")
    await wait_until(lambda: group[1].orderStatus.status == "Cancelled", what="oca cancel")


async def test_oca_type_2_reduces_the_others(ib: Any, es: Any, sim: SimThread) -> None:
    first = await placed(ib, es, shim.LimitOrder("SELL", 1, 6805.0, ocaGroup="g2", ocaType=2))
    second = await placed(ib, es, shim.StopOrder("SELL", 3, 6790.0, ocaGroup="g2", ocaType=2))
    sim.control.set_price(es.conId, 6805.0)
    await wait_until(lambda: first.orderStatus.status == "Filled", what="fill")
    await wait_until(
        lambda: sim_order(sim, second.order.permId)["total_qty"] == 2,
        what="the other order reduced by the fill",
    )
    assert sim_order(sim, second.order.permId)["status"] == "Submitted"


class TestPartialParent:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(
            start_paused=True,
            engine=EngineConfig(partial_fills=True),
        )

    async def test_children_cover_only_what_the_parent_filled(
        self, ib: Any, es: Any, sim: SimThread
    ) -> None:
        parent, take, stop = await bracket(ib, es, 6798.0, 6806.0, 6794.0, qty=4)
        sim.control.fill_order(parent.order.permId, qty=1)
        await wait_until(lambda: parent.orderStatus.filled == 1, what="partial parent fill")
        await wait_until(lambda: take.orderStatus.status == "Submitted", what="children live")
        sim.control.set_price(es.conId, 6806.0)
        await wait_until(lambda: take.orderStatus.filled == 1, what="take-profit partial")
        await ib.reqCurrentTimeAsync()
        assert take.orderStatus.filled == 1  # never more than the parent filled
        assert sim_order(sim, stop.order.permId)["total_qty"] == 3  # reduced by the sibling
        assert [p["qty"] for p in sim.control.positions()] == []


async def trailing_bracket(ib: Any, contract: Any, entry: float, **trail: float) -> list[Any]:
    """BUY 1 at ``entry`` with a take-profit 12 points up and a TRAIL stop (``auxPrice`` or
    ``trailingPercent``, ``trailStopPrice``) as its last child, which transmits the group."""
    parent = shim.LimitOrder("BUY", 1, entry, orderId=ib.client.getReqId(), transmit=False)
    take = shim.LimitOrder("SELL", 1, entry + 12, orderId=ib.client.getReqId(), transmit=False)
    stop = shim.Order(
        orderId=ib.client.getReqId(), action="SELL", totalQuantity=1, orderType="TRAIL", **trail
    )
    for child in (take, stop):
        child.parentId = parent.orderId
    return await placed_working(ib, contract, (parent, take, stop), "trailing bracket working")


async def test_a_trailing_stop_child_waits_then_trails_the_rise_and_fills_on_the_reversal(
    ib: Any, es: Any, sim: SimThread
) -> None:
    parent, take, stop = await trailing_bracket(ib, es, 6798.0, auxPrice=2.0, trailStopPrice=6794.0)
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6794.0
    # A rally while the parent waits: a held child does not trail (it protects nothing yet).
    sim.control.set_price(es.conId, 6830.0)
    assert stop.orderStatus.status == "PreSubmitted"
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6794.0
    sim.control.set_price(es.conId, 6798.0)
    await wait_until(lambda: parent.orderStatus.status == "Filled", what="the parent fill")
    await wait_until(lambda: stop.orderStatus.status == "Submitted", what="the stop working")
    # From its first stop, or the trailing amount under the market if that is higher.
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6796.0
    sim.control.set_price(es.conId, 6805.0)  # in favour: the stop follows, 2 points behind
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6803.0
    sim.control.set_price(es.conId, 6804.0)  # a dip: the stop stays
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6803.0
    assert stop.orderStatus.status == "Submitted"
    sim.control.set_price(es.conId, 6803.0)  # the reversal reaches it: sold at the market
    await wait_until(lambda: stop.orderStatus.status == "Filled", what="the trailing stop fill")
    await wait_until(lambda: take.orderStatus.status == "Cancelled", what="take-profit cancel")
    assert stop.orderStatus.avgFillPrice >= 6802.5
    assert sim.control.positions() == []


async def test_a_trailing_percent_child_trails_by_its_share_of_the_price(
    ib: Any, es: Any, sim: SimThread
) -> None:
    parent, _take, stop = await trailing_bracket(
        ib, es, 6800.25, trailingPercent=0.1, trailStopPrice=6790.0
    )
    await wait_until(lambda: parent.orderStatus.status == "Filled", what="a marketable parent")
    sim.control.set_price(es.conId, 6810.0)  # 0.1% of 6810 is 6.81: the stop at 6803.25
    assert sim_order(sim, stop.order.permId)["trail_stop_price"] == 6803.25
    sim.control.set_price(es.conId, 6803.0)
    await wait_until(lambda: stop.orderStatus.status == "Filled", what="the trailing stop fill")
