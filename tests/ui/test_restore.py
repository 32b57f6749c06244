"""What comes back from the journal at the next start, and what the broker says of it.

Orders restored from the journal that the broker does not report after a full sync (a
different TWS or simulator for the same account, as every demo restart with leftover orders
is) are never shown as working: they are Gone with the reason, drawn nowhere, counted as no
stop cover and no risk, and listed in the reconnect report. And a journal shared by two
accounts gives each only its own orders, fills and trading state.
"""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
TICKET = Source("ticket")
ACCOUNT = "DU1234567"


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True, positions=(("ES", 1.0),))


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


def stop(inst: Any, price: float) -> OrderIntent:
    return OrderIntent(inst, Side.SELL, 1, OrderType.STOP, TICKET, stop_price=price)


async def first_desk_with_a_working_stop(make_desk: MakeDesk, sim: SimThread) -> tuple[Any, str]:
    desk = await make_desk(state_name="a.ini", risk=limits_off())
    await wait_until(lambda: connected(desk), what="connected")
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    [ref] = desk.place(stop(es, 6790.0)).refs
    await wait_until(
        lambda: desk.orders.get(ref).state is OrderState.WORKING, what="the stop working"
    )
    model = desk.window.positions_model
    await wait_until(
        lambda: (
            (ACCOUNT, es.con_id) in desk.positions.positions
            and not model.naked((ACCOUNT, es.con_id))
        ),
        what="the position covered by the stop",
    )
    await desk.close()
    return desk, ref


async def test_an_order_the_new_broker_does_not_know_is_gone_not_working(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    _first, ref = await first_desk_with_a_working_stop(make_desk, sim)
    with SimThread(quick_sim(start_paused=True, positions=(("ES", 1.0),))) as fresh:
        desk = await make_desk(state_name="b.ini", risk=limits_off(), port=fresh.port)
        await wait_until(lambda: connected(desk), what="connected to the fresh simulator")
        await wait_until(
            lambda: (
                desk.orders.get(ref) is not None and desk.orders.get(ref).state is OrderState.GONE
            ),
            timeout=10,
            what=f"the journal's stop shown as gone ({desk.orders.get(ref)})",
        )
        snap = desk.orders.get(ref)
        assert "Not reported by the broker" in snap.reason
        assert ref not in {o.ref for o in desk.orders.live()}
        key = (ACCOUNT, snap.instrument.con_id)
        await wait_until(lambda: key in desk.positions.positions, what="the position")
        assert desk.window.positions_model.naked(key), "a gone stop covers nothing"
        usage = {u.key: u.text for u in desk.risk_usage()}
        assert usage["open_orders"].split()[0] == "0"
        await wait_until(lambda: "reconcile" in desk.link.notices, what="the reconnect report")
        assert "no longer reported by the broker" in desk.link.notices["reconcile"].text
        assert desk.cancel_all().accepted
        assert desk.orders.get(ref).state is OrderState.GONE
        await desk.close()  # before its simulator stops


async def test_a_journal_shared_by_two_accounts_keeps_each_apart(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    first, ref = await first_desk_with_a_working_stop(make_desk, sim)
    fills_before = set(first.orders.fills)
    again = await make_desk(state_name="a2.ini", risk=limits_off())
    await wait_until(lambda: connected(again), what="the same account again")
    report = await again.kill("kill button")
    assert report.verified and again.gate.state is TradingState.HALTED
    await again.close()
    with SimThread(quick_sim(start_paused=True, accounts=("U7654321",))) as live:
        desk = await make_desk(state_name="c.ini", risk=limits_off(), port=live.port)
        await wait_until(lambda: connected(desk), what="connected to the other account")
        await wait_until(
            lambda: desk.gate.state is TradingState.ACTIVE,
            what="the other account's own (active) state",
        )
        assert desk.orders.get(ref) is None
        assert not set(desk.orders.fills) & fills_before
        assert all(o.account == "U7654321" for o in desk.orders.orders.values())
        await desk.close()  # before its simulator stops
