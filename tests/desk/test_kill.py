"""The kill switch on the desk without its window: a kill while disconnected, a kill with
150 orders queued, a limit denied end to end, a client placing orders through a kill."""

from __future__ import annotations

import asyncio
import time

import pytest

from ibdesk.broker import ib as shim
from ibdesk.config import RiskSettings
from ibdesk.domain.orders import OrderState
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from tests.desk.kit import (
    OTHER_CLIENT,
    actions,
    asked_after,
    at_sim,
    connected,
    es_contract,
    es_last,
    lmt,
    my_orders,
    other_orders,
    placed_by,
    raw_client,
    ready_desk,
    report_of,
    state,
    watched,
)
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk
ACCOUNT = "DU1234567"
PLACE_ORDER, GLOBAL_CANCEL, START_API = 3, 58, 71
REQ_ALL_OPEN_ORDERS = 16


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def test_kill_while_disconnected_halts_at_once_and_cancels_first_on_reconnect(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Kill with TWS down: HALTED at once; reqGlobalCancel is the first message the broker
    reads from the desk after its startApi, and it reaches every client's orders."""
    desk, es = await ready_desk(make_desk, sim)
    mine = await my_orders(desk, sim, es, 2)
    async with raw_client(sim) as other:
        await other_orders(other, es, (6810.0,))
        since = time.perf_counter()
        sim.control.restart(down_seconds=1.0)
        await wait_until(
            lambda: not connected(desk) and not desk.safety.port.connected,
            timeout=10,
            what="the desk sees the drop",
        )
        started = time.time()
        desk.kill("kill button")
        assert desk.gate.state is TradingState.HALTED
        assert desk.place(lmt(es, 6790.0)).check == "halted"
        await wait_until(lambda: connected(desk), timeout=15, what="reconnected")
        await wait_until(
            lambda: sim.control.orders(open_only=True) == [],
            timeout=10,
            what="every order cancelled after the reconnect",
        )
    # The simulator learns a session's client id from its startApi, so that record itself
    # carries no client id: find it by its clientId field, then read what client 1 sent next.
    [start] = [
        r for r in sim.control.received(since=since, msg_id=START_API) if r["fields"][2] == "1"
    ]
    ids = [r["msg_id"] for r in sim.control.received(since=start["monotonic"], client_id=1)]
    assert ids[0] == GLOBAL_CANCEL, f"after startApi came {ids[:5]}"
    assert ids.count(GLOBAL_CANCEL) == 1
    await wait_until(lambda: report_of(desk, started), timeout=15, what="the kill report")
    assert report_of(desk, started).verified, report_of(desk, started).summary()
    assert asked_after(sim, since, GLOBAL_CANCEL, REQ_ALL_OPEN_ORDERS)
    await wait_until(
        lambda: all(state(desk, r) is OrderState.CANCELLED for r in mine),
        timeout=10,
        what="the desk's orders cancelled",
    )


async def test_kill_with_150_queued_orders_lets_none_of_them_out(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """150 orders queued behind the 40/s budget, then KILL: none still queued reaches the
    broker, each ends NOT_SENT with a reason, and nothing is left working."""
    desk, es = await ready_desk(make_desk, sim)
    refs = [desk.place(lmt(es, 6700.0 - i * 0.25)).refs[0] for i in range(150)]
    assert desk.router.pacer.queued > 100
    started = time.time()
    desk.kill("kill button")
    assert desk.router.pacer.queued == 0  # purged before kill() returned
    not_sent = [r for r in refs if state(desk, r) is OrderState.NOT_SENT]
    assert len(not_sent) > 100
    await wait_until(lambda: report_of(desk, started), timeout=15, what="the kill report")
    assert report_of(desk, started).verified
    assert sim.control.orders(open_only=True) == []
    # The global cancel and every placeOrder share one socket, read in order: no placeOrder
    # may come after the cancel.
    [cancel] = sim.control.received(msg_id=GLOBAL_CANCEL, client_id=1)
    after = [
        r
        for r in sim.control.received(since=cancel["monotonic"], client_id=1)
        if r["msg_id"] == PLACE_ORDER
    ]
    assert after == []
    assert asked_after(sim, 0.0, GLOBAL_CANCEL, REQ_ALL_OPEN_ORDERS)
    reached = set(placed_by(sim, 1))
    for ref in refs:
        snap = desk.orders.get(ref)
        if snap.state is OrderState.NOT_SENT:
            assert snap.order_id not in reached and at_sim(sim, ref) is None
            assert "never sent" in snap.reason
        else:
            assert snap.order_id in reached
    await wait_until(
        lambda: all(state(desk, r) in (OrderState.NOT_SENT, OrderState.CANCELLED) for r in refs),
        timeout=10,
        what="every order settled",
    )
    assert not [n for n in desk.link.notices.values() if n.code == 100]


async def test_an_order_over_the_quantity_limit_is_denied_end_to_end(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Default limits: an ES order of 11 (limit 10) is denied by max_order_qty with the
    numbers, journaled, and never reaches the broker; one of 1 goes through."""
    desk, _ = await ready_desk(make_desk, sim, price=None, risk=RiskSettings())
    es = await watched(desk, sim, "ES")
    decided = []
    desk.gate.decided += lambda kind, source, d: decided.append((kind, str(source), d))
    price = es_last(sim, es) - 10
    decision = desk.place(lmt(es, price, qty=11))
    assert not decision.accepted and decision.refs == ()
    assert decision.check == "max_order_qty"
    assert decision.reason == "ES order quantity 11 is over the limit of 10."
    assert decided == [("order", "ticket", decision)]
    assert ("ticket", "denied order", f"max_order_qty: {decision.reason}") in actions(desk)
    [ref] = desk.place(lmt(es, price, qty=1)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, timeout=10, what="working")
    [order] = sim.control.orders()
    assert order["order_ref"] == ref and order["total_qty"] == 1
    assert len(placed_by(sim, 1)) == 1


async def test_a_client_placing_orders_through_a_desk_kill_is_named_and_cancelled_again(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Another client keeps placing orders for a second after the desk's KILL: the desk
    cancels again until the book stays quiet, and its report names the client."""
    desk, es = await ready_desk(make_desk, sim)
    async with raw_client(sim) as other:
        stop = asyncio.Event()

        async def keep_placing() -> None:
            n = 0
            while not stop.is_set():
                other.placeOrder(es_contract(es), shim.LimitOrder("SELL", 1, 6900.0 + n * 0.25))
                n += 1
                await asyncio.sleep(0.02)

        task = asyncio.ensure_future(keep_placing())
        await wait_until(lambda: sim.control.orders(open_only=True), what="its first orders")
        asyncio.get_running_loop().call_later(1.0, stop.set)
        try:
            report = await desk.kill("kill button")
        finally:
            stop.set()
            await task
    assert report.verified, report.summary()
    assert any(f"client {OTHER_CLIENT} placed" in n for n in report.notes), report.notes
    assert f"Client {OTHER_CLIENT} placed" in report.summary()
    cancels = sim.control.received(msg_id=GLOBAL_CANCEL, client_id=1)
    assert len(cancels) >= 2
    assert sim.control.orders(open_only=True) == []
