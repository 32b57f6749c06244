"""A bracket's trailing stop (IB's TRAIL) without a broker: the ticket's fields, the gate's
validation and judgement (the same as a STP stop's, as stop cover too), and the IB order it
becomes (auxPrice the trailing amount or trailingPercent, trailStopPrice the first stop)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from ibdesk.broker import translate
from ibdesk.config import RiskSettings, limits_off
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.orders import (
    BracketIntent,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Trail,
)
from ibdesk.state.orders import OrderStore
from ibdesk.trading.checks import build_checks
from ibdesk.trading.context import CheckContext
from ibdesk.trading.protection import StopCoverIndex
from ibdesk.trading.ticket import TicketForm, TicketRules, evaluate
from tests.unit.test_gate import ES, TICKET, FakePort, MemoryJournal, limit, make_gate
from tests.unit.test_ticket import ES_MARKET, RULES

# ---- the ticket --------------------------------------------------------------------------------


def trail_form(**fields: Any) -> TicketForm:
    base = TicketForm(
        ES, entry="6800.00", take_profit="8", stop_loss="6", stop_type=OrderType.TRAIL, trail="4"
    )
    return dataclasses.replace(base, **fields)


@pytest.mark.parametrize(
    ("trail", "unit", "amount", "percent"),
    [
        ("4", "ticks", 1.00, None),
        ("1.5", "points", 1.50, None),
        ("60", "dollars", 1.00, None),  # $60 on ES ($12.50 a tick) is 4 ticks, rounded down
        ("0.05", "percent", None, 0.05),
    ],
)
def test_the_ticket_builds_a_trailing_stop_in_each_unit(
    trail: str, unit: str, amount: float | None, percent: float | None
) -> None:
    r = evaluate(trail_form(trail=trail, trail_unit=unit), ES_MARKET, RULES)
    assert r.ok, r.errors
    assert isinstance(r.intent, BracketIntent)
    assert r.intent.stop_loss == 6798.50  # the first stop: 6 ticks under the entry
    assert r.intent.trail == Trail(amount=amount, percent=percent)
    assert r.figures is not None and r.figures.risk == 75.0  # measured to the first stop


@pytest.mark.parametrize(
    ("trail", "unit", "message"),
    [
        ("", "ticks", "Enter the trailing amount"),
        ("0", "ticks", "above 0"),
        ("1,5", "points", "point for decimals"),
        ("1.1", "points", "not on ESZ6's 0.25 tick"),
        ("10", "dollars", "less than one tick"),
        ("100", "percent", "between 0 and 100"),
    ],
)
def test_a_wrong_trailing_amount_gets_a_message(trail: str, unit: str, message: str) -> None:
    r = evaluate(trail_form(trail=trail, trail_unit=unit), ES_MARKET, RULES)
    assert not r.ok and message in r.errors["trail"], r.errors


def test_a_stp_stop_ignores_the_trail_field() -> None:
    r = evaluate(trail_form(stop_type=OrderType.STOP, trail="nonsense"), ES_MARKET, RULES)
    assert r.ok and isinstance(r.intent, BracketIntent) and r.intent.trail is None


def test_the_tickets_trailing_bracket_passes_the_gates_validation() -> None:
    r = evaluate(trail_form(), ES_MARKET, TicketRules())
    assert isinstance(r.intent, BracketIntent)
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    assert make_gate(port, store, journal).submit(r.intent).accepted


# ---- the gate ----------------------------------------------------------------------------------


def bracket(trail: Trail | None, qty: float = 2, stop: float = 6790.0) -> BracketIntent:
    return BracketIntent(limit(qty, 6795.0), take_profit=6805.0, stop_loss=stop, trail=trail)


def test_a_trailing_bracket_sends_a_trail_leg_with_its_first_stop() -> None:
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    decision = make_gate(port, store, journal).submit(bracket(Trail(amount=1.25)))
    assert decision.accepted, decision.reason
    parent, take, stop = port.placed
    leg = stop["intent"]
    assert (leg.order_type, leg.side, leg.qty) == (OrderType.TRAIL, Side.SELL, 2)
    assert (leg.stop_price, leg.trail_stop_price, leg.trailing_percent) == (1.25, 6790.0, None)
    assert [p["transmit"] for p in port.placed] == [False, False, True]
    assert stop["parent"] == parent["id"] and stop["oca"] == take["oca"]
    snap = store.get(decision.refs[2])
    assert snap is not None and snap.order_type is OrderType.TRAIL


def test_a_trailing_percent_goes_without_an_amount() -> None:
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    assert make_gate(port, store, journal).submit(bracket(Trail(percent=0.1))).accepted
    leg = port.placed[2]["intent"]
    assert (leg.stop_price, leg.trailing_percent, leg.trail_stop_price) == (None, 0.1, 6790.0)


@pytest.mark.parametrize(
    ("trail", "why"),
    [
        (Trail(amount=1.3), "not on ESZ6's 0.25 tick"),
        (Trail(amount=0.0), "trailing amount must be above 0"),
        (Trail(percent=0.0), "between 0 and 100"),
        (Trail(percent=120.0), "between 0 and 100"),
        (Trail(amount=1.0, percent=0.1), "an amount or a percent, not both"),
        (Trail(), "an amount or a percent"),
    ],
)
def test_a_bad_trail_is_refused_before_anything_is_sent(trail: Trail, why: str) -> None:
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    decision = make_gate(port, store, journal).submit(bracket(trail))
    assert not decision.accepted and decision.check == "validate"
    assert why in decision.reason, decision.reason
    assert port.placed == []


def test_trailing_fields_on_another_order_type_are_refused() -> None:
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    odd = dataclasses.replace(limit(), trailing_percent=0.5)
    decision = make_gate(port, store, journal).submit(odd)
    assert not decision.accepted and "takes no trailing" in decision.reason


def gate_with(risk: RiskSettings, position: float = 0.0) -> Any:
    def ctx() -> CheckContext:
        return CheckContext(0.0, lambda _a, _c: position, (), lambda _c: 6800.0)

    port, store, journal = FakePort(), OrderStore(), MemoryJournal()
    return make_gate(port, store, journal, context=ctx, checks=build_checks(risk))


@pytest.mark.parametrize(
    "risk",
    [
        dataclasses.replace(limits_off(), max_position={"*FUT": 2.0}),
        dataclasses.replace(limits_off(), max_order_notional=700_000.0),
        dataclasses.replace(limits_off(), collar_ticks=30.0),  # the first stop is 40 ticks away
        dataclasses.replace(limits_off(), collar_pct=0.1),
        RiskSettings(),
    ],
    ids=["position", "notional", "collar-ticks", "collar-pct", "defaults"],
)
def test_the_gate_judges_a_trailing_stop_as_it_judges_a_stp_stop(risk: RiskSettings) -> None:
    """The stop leg, as the exit it becomes: a position limit at the entry's size, the
    notional at the stop's price, the collar on the first stop; TRAIL decides as STP does."""
    for qty in (1, 2, 3):
        stp = gate_with(risk).judge(bracket(None, qty))
        trail = gate_with(risk).judge(bracket(Trail(amount=1.0), qty))
        assert (trail.accepted, trail.check, trail.reason) == (
            stp.accepted,
            stp.check,
            stp.reason,
        ), (qty, stp.reason, trail.reason)


def test_a_collar_refuses_a_trailing_stops_first_stop_far_from_the_market() -> None:
    risk = dataclasses.replace(limits_off(), collar_ticks=30.0)
    denied = gate_with(risk).judge(bracket(Trail(amount=1.0)))
    assert not denied.accepted and denied.check == "price_collar"
    assert denied.reason.startswith("Stop-loss: Stop 6790.00 is 40 ticks")


def test_a_working_trail_child_covers_the_position_once_its_entry_filled() -> None:
    store = OrderStore()
    entry = OrderSnapshot("ticket#1.1", ES, Side.BUY, 2, OrderType.LIMIT, OrderState.FILLED)
    child = OrderSnapshot(
        "ticket#1.3",
        ES,
        Side.SELL,
        2,
        OrderType.TRAIL,
        OrderState.WORKING,
        stop_price=1.0,
        parent_ref="ticket#1.1",
    )
    store.put(dataclasses.replace(entry, state=OrderState.WORKING))
    store.put(child)
    index = StopCoverIndex(store)
    long = PositionSnapshot("DU1", ES, 2.0, 6795.0)
    assert index.cover(long) == 0  # its entry still working: it protects nothing yet
    store.put(dataclasses.replace(entry, filled=2))
    assert index.cover(long) == 2 and not index.naked(long)


# ---- the IB order -------------------------------------------------------------------------------


def test_the_ib_order_carries_the_amount_or_the_percent_and_the_first_stop() -> None:
    by_amount = OrderIntent(
        ES, Side.SELL, 2, OrderType.TRAIL, TICKET, stop_price=1.25, trail_stop_price=6790.0
    )
    order = translate.order_of(by_amount, "ticket#1.3", 3, parent_id=1)
    assert (order.orderType, order.auxPrice, order.trailStopPrice) == ("TRAIL", 1.25, 6790.0)
    assert order.trailingPercent >= 1e300  # IB's unset double: not sent
    by_percent = OrderIntent(
        ES, Side.SELL, 2, OrderType.TRAIL, TICKET, trailing_percent=0.1, trail_stop_price=6790.0
    )
    order = translate.order_of(by_percent, "ticket#1.4", 4)
    assert (order.trailingPercent, order.trailStopPrice) == (0.1, 6790.0)
    assert order.auxPrice >= 1e300 or math.isnan(order.auxPrice)
