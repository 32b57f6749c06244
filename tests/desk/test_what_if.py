"""IB's what-if for the ticket, against the simulator: a bracket is asked as its entry and its
exit at the stop (the worst case), each side's commission IB's own answer; a single order is
one side, never doubled into a "round trip"."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from ibdesk.config import limits_off
from ibdesk.domain.orders import BracketIntent, OrderIntent, OrderType, Side
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.simtws.order_codec import PlacedOrder, parse_place_order
from tests.desk.kit import TICKET, connected, lmt
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk

PLACE_ORDER = 3


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def ready(make_desk: MakeDesk, sim: SimThread, symbol: str, price: float) -> Any:
    desk = await make_desk(risk=limits_off())
    await wait_until(lambda: connected(desk), what="connected")
    inst = await desk.resolver.resolve(symbol)
    sim.control.set_price(inst.con_id, price)
    return desk, inst


def what_ifs(desk: Any, sim: SimThread, since: float) -> list[PlacedOrder]:
    """The what-if placeOrders the simulator read from the desk since ``since``."""
    version = desk.session.ib.client.serverVersion()
    placed = [
        parse_place_order(r["fields"], version)
        for r in sim.control.received(since=since, msg_id=PLACE_ORDER, client_id=1)
    ]
    return [p for p in placed if p.flag("whatIf")]


async def test_a_bracket_is_asked_as_its_entry_and_its_exit_at_the_stop(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready(make_desk, sim, "ES", 6800.0)
    bracket = BracketIntent(lmt(es, 6799.0, qty=2), take_profit=6801.0, stop_loss=6797.5)
    since = time.perf_counter()
    answer = await desk.what_if(bracket)
    asked = what_ifs(desk, sim, since)
    assert [(p.text("action"), p.text("orderType")) for p in asked] == [
        ("BUY", "LMT"),
        ("SELL", "STP"),
    ]
    entry, exit_ = asked
    assert entry.number("lmtPrice") == 6799.0 and entry.number("totalQuantity") == 2
    assert exit_.number("auxPrice") == 6797.5 and exit_.number("totalQuantity") == 2
    assert not exit_.text("parentId").strip("0")  # asked on its own: no parent to wait for
    # The simulator charges IB's fixed $0.85 a contract a side: $1.70 in, $1.70 out.
    assert answer.commission == pytest.approx(1.70)
    assert answer.exit_commission == pytest.approx(1.70)
    assert answer.total_commission == pytest.approx(3.40)
    assert answer.init_margin_change > 0  # the entry's margin: the exits only reduce
    assert sim.control.orders() == []  # a what-if places nothing


async def test_a_single_order_is_one_side_not_a_round_trip(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready(make_desk, sim, "ES", 6800.0)
    stop = OrderIntent(es, Side.SELL, 1, OrderType.STOP, TICKET, stop_price=6795.0)
    since = time.perf_counter()
    answer = await desk.what_if(stop)
    assert len(what_ifs(desk, sim, since)) == 1
    assert answer.commission == pytest.approx(0.85)
    assert answer.exit_commission is None
    assert answer.total_commission == pytest.approx(0.85)


async def test_an_exit_the_broker_does_not_answer_is_said_unknown_not_guessed(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """The broker refuses or times out on the exit's what-if (the router is made to, for the
    sell side only): the entry's figures stand and the exit is NaN, never the entry's
    commission copied in its place."""
    desk, es = await ready(make_desk, sim, "ES", 6800.0)
    real = desk.router.what_if
    calls: list[OrderIntent] = []

    async def refuse_exits(intent: OrderIntent, timeout: float = 5.0) -> Any:
        calls.append(intent)
        if intent.side is Side.SELL:
            raise LookupError("no answer for the exit")
        return await real(intent, timeout)

    desk.router.what_if = refuse_exits
    bracket = BracketIntent(lmt(es, 6799.0), take_profit=6801.0, stop_loss=6797.5)
    answer = await desk.what_if(bracket)
    assert len(calls) == 2
    assert answer.commission == pytest.approx(0.85)
    assert answer.exit_commission is not None and math.isnan(answer.exit_commission)
    assert math.isnan(answer.total_commission)


async def test_a_halted_desk_asks_no_what_if(make_desk: MakeDesk, sim: SimThread) -> None:
    """A what-if is a placeOrder on the wire: a halted desk sends nothing but cancels (the
    flatten test caught the ticket asking one for the linked instrument after a kill)."""
    desk, es = await ready(make_desk, sim, "ES", 6800.0)
    await desk.kill("test")
    since = time.perf_counter()
    with pytest.raises(LookupError, match="HALTED"):
        await desk.what_if(lmt(es, 6799.0))
    assert what_ifs(desk, sim, since) == []
