"""Defects the chaos runner (``benchmarks.chaos``) found, each as the scenario of its seed,
small enough to read: the desk against the simulator, one fault at a time."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.config import RiskSettings, limits_off
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.simtws import SimConfig, SimThread
from tests.desk.kit import TICKET, at_sim, connected, lmt, ready_desk, state
from tests.helpers import quick_sim, wait_until
from tests.proxy import WireProxy, error_frame

from .conftest import MakeDesk

pytestmark = pytest.mark.desk


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def reconnected(desk: Any, sim: SimThread) -> None:
    """Drop the desk's socket and wait until it is back and has reconciled."""
    reconciled: list[dict[str, int]] = []
    dropped: list[bool] = []
    desk.router.on_reconciled.append(reconciled.append)
    # Without a window the desk reconnects within milliseconds: watch the event, not a poll.
    desk.session.disconnected += lambda: dropped.append(True)
    sim.control.drop_clients()
    await wait_until(lambda: dropped, what="the drop seen")
    await wait_until(lambda: connected(desk) and reconciled, timeout=15, what="reconciled")


async def test_a_filled_order_keeps_its_filled_quantity_across_a_reconnect(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Seeds 2, 4, 5: after a drop the library rebuilds a filled order from IB's completed
    order, whose status carries no quantity; the desk showed it Filled, 0 filled."""
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(OrderIntent(es, Side.BUY, 3, OrderType.MARKET, TICKET)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.FILLED, what="filled")
    assert desk.orders.get(ref).filled == 3
    await reconnected(desk, sim)
    snap = desk.orders.get(ref)
    assert (snap.state, snap.filled) == (OrderState.FILLED, 3)
    assert snap.avg_fill_price > 0


async def test_a_cancel_whose_status_comes_after_its_202_ends_cancelled(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Seed 3: the orderStatus Cancelled came late, behind error 202. The library had
    marked the order Cancelled on the 202 alone, so the desk (rightly) asked the broker
    again; but the broker's answer (a completed order) never reached the desk's book, and
    the order stayed Unknown for good."""
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(lmt(es, 6790.0)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
    sim.control.late_reports(1, ms=300)
    desk.cancel_order(ref)
    await wait_until(lambda: state(desk, ref) is OrderState.CANCELLED, timeout=10, what="cancelled")


async def test_a_late_partial_status_does_not_reopen_a_filled_order(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Seed 11: with partial fills, the status of the first piece (Submitted, 1 filled) came
    after the one that said Filled; the desk took it and showed the order Partially filled
    for good, while the broker had it Filled."""
    desk, es = await ready_desk(make_desk, sim)
    sim.control.partial_fills(True)
    shown = sim.control.quote(es.con_id)["ask_size"]
    sim.control.late_reports(2, ms=300)  # the first piece's execDetails and orderStatus
    [ref] = desk.place(OrderIntent(es, Side.BUY, shown + 1, OrderType.MARKET, TICKET)).refs
    await wait_until(lambda: at_sim(sim, ref) and at_sim(sim, ref)["filled"], what="a piece")
    sim.control.step(3)  # the rest fills while the first piece's reports are held
    await wait_until(lambda: at_sim(sim, ref)["status"] == "Filled", what="filled at the sim")
    await wait_until(lambda: state(desk, ref) is OrderState.FILLED, what="filled here")
    await asyncio.sleep(0.5)  # the scenario: the held reports arrive now, out of date
    snap = desk.orders.get(ref)
    assert (snap.state, snap.filled) == (OrderState.FILLED, shown + 1)


async def test_an_error_with_an_absurd_code_about_an_order_is_refused_not_raised(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """``benchmarks.fuzz desk``: an error frame about a working order with a code of 2**63
    reached the journal, whose INSERT raised OverflowError inside the session's error
    event (logged by ibdesk.events; the order's reason was never updated)."""
    with WireProxy(sim.port) as proxy:
        desk = await make_desk(risk=limits_off(), port=proxy.port)
        await wait_until(lambda: connected(desk), what="connected")
        es = await desk.resolver.resolve("ES")
        sim.control.set_price(es.con_id, 6800.0)
        [ref] = desk.place(lmt(es, 6790.0)).refs
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
        order_id = desk.orders.get(ref).order_id
        proxy.send(1, error_frame(order_id, 2**63, "Order junk"))
        # A round trip behind it (TCP keeps the order): the frame has been read.
        await desk.session.ib.reqContractDetailsAsync(shim.Contract(conId=es.con_id))
        # The library cancels its trade on an error code it does not know: the desk asks
        # the broker again (Unknown, then the broker's word), as for any such error.
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="reconciled")
        await desk.close()  # before the proxy goes


OPEN_ORDER_END = 53


async def test_an_order_made_unknown_again_while_the_broker_is_asked_is_asked_again(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """``benchmarks.fuzz desk``: a working order was left Unknown for good. An error made
    the library cancel its trade locally, so the desk asked the broker again (right); the
    broker's answer made the order working, and a second error, arriving before that
    resync had finished, made it Unknown once more. A resync was already running, so none
    was scheduled, and the running one ended on the second error's word."""
    with WireProxy(sim.port) as proxy:
        desk = await make_desk(
            risk=limits_off(RiskSettings(watchdog_halt_after=0)), port=proxy.port
        )
        await wait_until(lambda: connected(desk), what="connected")
        es = await desk.resolver.resolve("ES")
        sim.control.set_price(es.con_id, 6800.0)
        [ref] = desk.place(lmt(es, 6790.0)).refs
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
        order_id = desk.orders.get(ref).order_id
        second = error_frame(order_id, 9999, "Order junk, again")
        injected: list[bool] = []

        def then_again(fields: list[str]) -> list[str]:
            # On the proxy's thread, during the resync: after the broker's open orders (the
            # order working), before their end.
            if not injected:
                injected.append(True)
                proxy._down(proxy.link(1), second)
            return fields

        proxy.rewrite(OPEN_ORDER_END, then_again)
        proxy.send(1, error_frame(order_id, 9999, "Order junk"))
        await wait_until(lambda: injected, what="the second error sent during the resync")
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="asked again")
        await desk.close()  # before the proxy goes


async def test_an_error_of_code_0_about_a_working_order_does_not_cancel_it_here(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """``benchmarks.fuzz desk``: an error frame of code 0 about a working order. The
    library cancels its trade on it (as on any error it does not know) with error code 0
    in its log, which the desk read as no error at all: it showed the order Cancelled,
    working at the broker. The library's word after an error must be checked, as for
    every other code."""
    with WireProxy(sim.port) as proxy:
        desk = await make_desk(
            risk=limits_off(RiskSettings(watchdog_halt_after=0)), port=proxy.port
        )
        await wait_until(lambda: connected(desk), what="connected")
        es = await desk.resolver.resolve("ES")
        sim.control.set_price(es.con_id, 6800.0)
        [ref] = desk.place(lmt(es, 6790.0)).refs
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
        seen: list[OrderState] = []
        desk.orders.updated += lambda r: seen.append(state(desk, r)) if r == ref else None
        proxy.send(1, error_frame(desk.orders.get(ref).order_id, 0, "Order junk"))
        await wait_until(lambda: seen, what="the error read")
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="asked again")
        assert OrderState.CANCELLED not in seen
        await desk.close()  # before the proxy goes


async def test_a_modify_of_an_order_the_broker_has_done_places_no_new_order(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Chaos seed 67 (latency, a drop right behind a bracket): ``ticket#1.17`` went out under
    two order ids, a second order. It had filled while the desk was away; after the
    reconnect the library held it as a completed order, which carries no order id (0), and
    a modify sent before the desk had reconciled re-placed that order: with id 0 the
    library takes a fresh id, and the broker takes a new order. Here the desk's stale view
    (still working) is put back by hand, as it was in that window."""
    desk, es = await ready_desk(make_desk, sim)
    [ref] = desk.place(lmt(es, 6790.0, qty=2)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
    stale = desk.orders.get(ref)
    dropped: list[bool] = []
    desk.session.disconnected += lambda: dropped.append(True)
    sim.control.drop_clients()
    sim.control.fill_order(at_sim(sim, ref)["perm_id"])  # while the desk is away
    await wait_until(lambda: dropped, what="the drop seen")
    await wait_until(lambda: state(desk, ref) is OrderState.FILLED, timeout=10, what="reconciled")
    desk.orders.put(stale)  # the window before the reconcile: the desk still says working
    since = time.perf_counter()
    decision = desk.modify_order(ref, limit_price=6789.0)
    await desk.session.ib.reqCurrentTimeAsync()  # a round trip: anything sent has arrived
    placed = [int(r["fields"][1]) for r in sim.control.received(since=since, msg_id=3)]
    assert placed == []  # before the fix: one placeOrder under a fresh id, a second order
    assert not decision.accepted
    assert "done" in decision.reason


async def test_orders_not_sent_at_a_drop_are_journalled_not_sent(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Chaos seeds 333 and 370: the journal said Queued for an order the desk showed Not
    sent. The router changed the store (``merge``) and then asked the store again whether
    anything had changed before journalling: nothing had, since the merge already stored
    it, so Sent, Not sent, Unknown at a drop and Gone after a reconcile never reached the
    journal (the next start would restore a queued order that never went)."""
    desk, es = await ready_desk(make_desk, sim)
    refs = [desk.place(lmt(es, 6700.0 - i * 0.25)).refs[0] for i in range(150)]
    await wait_until(lambda: any(state(desk, r) is OrderState.WORKING for r in refs), what="sent")
    dropped: list[bool] = []
    desk.session.disconnected += lambda: dropped.append(True)
    sim.control.drop_clients()
    await wait_until(lambda: dropped, what="the drop seen")
    not_sent = [r for r in refs if state(desk, r) is OrderState.NOT_SENT]
    assert not_sent
    with contextlib.closing(sqlite3.connect(desk.journal_path)) as db:
        journalled = dict(db.execute("SELECT ref, state FROM orders"))
    assert {journalled[r] for r in not_sent} == {"Not sent"}
    await wait_until(lambda: connected(desk), what="reconnected")  # before the desk closes


async def test_a_connection_without_accounts_is_retried_not_the_end_of_reconnecting(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Chaos seeds 229-233 and 632 (restarts): ``IndexError: tuple index out of range`` in
    the session's ``_came_up``, and the desk never reconnected again (seeds 176, 584:
    unsettled, not connected). A drop right behind a connect had the library reset what
    it learnt (its managed accounts among it) before the session read them; the session
    took the first of none, its connect loop died, and nothing tried again. Here the
    library answers its first ``managedAccounts`` with none, as it did then."""
    desk = await make_desk(start=False, risk=limits_off(RiskSettings(watchdog_halt_after=0)))
    real = desk.session.ib.managedAccounts
    asked: list[bool] = []

    def first_none() -> list[str]:
        asked.append(True)
        return [] if len(asked) == 1 else real()

    desk.session.ib.managedAccounts = first_none
    desk.start()
    await wait_until(lambda: connected(desk), timeout=15, what="connected at the next try")
    assert desk.session.account == "DU1234567"
