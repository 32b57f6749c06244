"""Orders on the desk without its window: the cancel lane, disconnects, id rollbacks, fills
while away, honest rejects, the journal's orders at the next start."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ibdesk.config import limits_off
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.simtws import SimConfig, SimThread
from tests.desk.kit import TICKET, at_sim, connected, lmt, state
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def ready_desk(make_desk: MakeDesk, sim: SimThread, **kw: Any) -> tuple[Any, Any]:
    """A connected desk and the ES front month at 6800, limits off (these tests are about
    the order path)."""
    kw.setdefault("risk", limits_off())
    desk = await make_desk(**kw)
    await wait_until(lambda: connected(desk), what="connected")
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    return desk, es


async def test_a_cancel_overtakes_150_queued_orders(make_desk: MakeDesk, sim: SimThread) -> None:
    desk, es = await ready_desk(make_desk, sim)
    [first] = desk.place(lmt(es, 6700.0)).refs
    await wait_until(lambda: state(desk, first) is OrderState.WORKING, what="first working")
    refs = [desk.place(lmt(es, 6700.0 - i * 0.25)).refs[0] for i in range(150)]
    assert desk.router.pacer.queued > 100
    since = time.perf_counter()
    assert desk.cancel_order(first).accepted
    await wait_until(lambda: sim.control.received(since=since, msg_id=4), what="cancel at sim")
    arrived = sim.control.received(since=since, msg_id=4)[0]["monotonic"]
    placed_before = [
        r for r in sim.control.received(since=since, msg_id=3) if r["monotonic"] < arrived
    ]
    assert (arrived - since) * 1000 < 100
    assert len(placed_before) < 50  # it did not wait behind the queue
    await wait_until(lambda: state(desk, first) is OrderState.CANCELLED, what="cancelled")
    await wait_until(
        lambda: all(state(desk, r) is OrderState.WORKING for r in refs),
        timeout=10,
        what="the queue drains within IB's budget",
    )
    assert not [e for e in desk.link.notices.values() if e.code == 100]


async def test_a_disconnect_with_a_full_queue_leaves_nothing_pending(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    refs = [desk.place(lmt(es, 6700.0 - i * 0.25)).refs[0] for i in range(150)]
    await wait_until(
        lambda: any(state(desk, r) is OrderState.WORKING for r in refs),
        what="some orders on the wire",
    )
    seen: list[set[OrderState | None]] = []  # the orders' states as the drop is handled

    def on_drop() -> None:
        seen.append({state(desk, r) for r in refs})

    desk.session.disconnected += on_drop
    sim.control.drop_clients()
    # Without a window the desk reconnects within milliseconds: watch the event, not a poll.
    await wait_until(lambda: seen, what="disconnected")
    desk.session.disconnected -= on_drop
    states = {state(desk, r) for r in refs}
    assert OrderState.NOT_SENT in states and OrderState.QUEUED not in states
    await wait_until(lambda: connected(desk), what="reconnected")
    pending = (OrderState.QUEUED, OrderState.SENT, OrderState.UNKNOWN)
    await wait_until(
        lambda: not [r for r in refs if state(desk, r) in pending],
        timeout=5,
        what="every order settled within 5 s",
    )
    at_broker = {o["order_ref"] for o in sim.control.orders()}
    for ref in refs:  # honest: working where the broker has it, not sent where it has not
        assert (state(desk, ref) is OrderState.WORKING) == (ref in at_broker)


async def test_order_ids_are_not_reused_after_a_rollback(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    before = [desk.place(lmt(es, 6700.0)).refs[0] for _ in range(3)]
    await wait_until(
        lambda: all(state(desk, r) is OrderState.WORKING for r in before), what="working"
    )
    sim.control.restart(down_seconds=0.3, roll_back_ids=50)
    await wait_until(lambda: not connected(desk), what="restart seen")
    await wait_until(lambda: connected(desk), what="back")
    after = [desk.place(lmt(es, 6700.0)).refs[0] for _ in range(2)]
    await wait_until(
        lambda: all(state(desk, r) is OrderState.WORKING for r in after), what="new orders working"
    )
    ids = [o["order_id"] for o in sim.control.orders() if o["client_id"] == desk.session.client_id]
    assert len(ids) == len(set(ids)) == 5
    assert min(desk.orders.get(r).order_id for r in after) > max(
        desk.orders.get(r).order_id for r in before
    )


async def test_fills_while_away_are_recovered_and_reported(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(lmt(es, 6790.0, qty=2)).refs
    await wait_until(
        lambda: at_sim(sim, ref) and state(desk, ref) is OrderState.WORKING, what="working"
    )
    sim.control.drop_clients()
    sim.control.fill_order(at_sim(sim, ref)["perm_id"])  # while ibdesk is not there
    await wait_until(
        lambda: state(desk, ref) is OrderState.FILLED,
        timeout=8,
        what="the fill recovered after the reconnect",
    )
    fills = [f for f in desk.orders.fills.values() if f.ref == ref]
    assert sum(f.qty for f in fills) == 2
    await wait_until(lambda: "reconcile" in desk.link.notices, what="a reconcile notice")
    text = desk.link.notices["reconcile"].text
    assert "1 fill recovered" in text and "filled or cancelled while away" in text
    assert {f.exec_id for f in fills} <= desk.journal.exec_ids_since(0)


def reconciles(desk: Any) -> list[dict[str, int]]:
    """The counts of every reconciliation the desk makes from now on."""
    seen: list[dict[str, int]] = []
    desk.router.on_reconciled.append(seen.append)
    return seen


async def test_a_first_start_does_not_call_todays_fills_recovered(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """A fill from before ibdesk ever ran (an order typed into TWS) is today's history, not a
    recovery: a first start greets nobody with "While ibdesk was away"."""
    sim.control.enter_manual_order("ES", "BUY", 1, "MKT")
    desk = await make_desk(start=False)
    seen = reconciles(desk)
    desk.start()
    await wait_until(lambda: seen, timeout=10, what="the first reconciliation")
    assert seen[0]["fills"] == 1  # the fill was taken from the broker ...
    assert len(desk.orders.fills) == 1
    assert "reconcile" not in desk.link.notices  # ... and not reported as recovered


async def test_fills_since_the_last_session_are_reported_at_the_next_start(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    first = await make_desk(start=False)
    seen = reconciles(first)
    first.start()
    await wait_until(lambda: seen, timeout=10, what="the first session reconciled")
    await first.close()
    sim.control.enter_manual_order("ES", "BUY", 1, "MKT")  # while ibdesk is closed
    again = await make_desk(start=False)
    seen = reconciles(again)
    again.start()
    await wait_until(lambda: seen, timeout=10, what="the next start reconciled")
    await wait_until(lambda: "reconcile" in again.link.notices, what="the report")
    assert again.link.notices["reconcile"].text == "While ibdesk was away: 1 fill recovered."


async def test_rejects_and_untrusted_local_cancels_end_honestly(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    [big] = desk.place(lmt(es, 6795.0, qty=600)).refs
    await wait_until(lambda: state(desk, big) is OrderState.REJECTED, what="rejected")
    assert "Size Limit" in desk.orders.get(big).reason
    [ref] = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.FILLED, what="filled")
    desk.router.cancel(desk.orders.get(ref))  # as if the cancel raced the fill
    await wait_until(lambda: "Already filled" in desk.orders.get(ref).reason, what="already filled")
    await wait_until(lambda: state(desk, ref) is OrderState.FILLED, what="still filled")


async def test_todays_orders_come_back_from_the_journal(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(lmt(es, 6790.0)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
    await desk.close()
    again = await make_desk(start=False)
    # Which account's orders to show is known once connected (a journal can hold several).
    assert again.orders.get(ref) is None
    again.start()
    await wait_until(lambda: connected(again), what="connected")
    await wait_until(
        lambda: (
            again.orders.get(ref) is not None
            and again.orders.get(ref).perm_id == at_sim(sim, ref)["perm_id"]
            and again.orders.get(ref).state is OrderState.WORKING
        ),
        what="restored and reconciled with the broker",
    )
