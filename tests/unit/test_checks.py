"""The pre-trade checks: one deny and one allow test at each boundary, the exit exemptions,
each limit off at 0, build_checks, and hypothesis properties over limits and sizes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ibdesk.config import RiskSettings
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderIntent, OrderSnapshot, OrderState, OrderType, Side, Source
from ibdesk.trading import checks
from ibdesk.trading.checks import build_checks, reduces_position
from ibdesk.trading.context import CheckContext

CHICAGO = ZoneInfo("America/Chicago")  # IB says "US/Central"; the tests use the IANA name
ES_HOURS = (
    "20261123:0830-20261123:1500;20261124:0830-20261124:1500;"
    "20261125:CLOSED;20261126:0830-20261126:1200"
)
ES = Instrument(
    11,
    "ES",
    SecType.FUTURE,
    "CME",
    "USD",
    "ESZ6",
    50,
    0.25,
    "20261218",
    liquid_hours=ES_HOURS,
    time_zone="US/Central",
)
NQ = Instrument(12, "NQ", SecType.FUTURE, "CME", "USD", "NQZ6", 20, 0.25, "20261218")
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")
TICKET = Source("ticket")
TREND = Source("strategy", "trend")
BUY, SELL = Side.BUY, Side.SELL
LMT, MKT, STP, STP_LMT = OrderType.LIMIT, OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT


def at(year: int, month: int, day: int, hour: int, minute: int, second: float = 0) -> float:
    """Epoch seconds of a Chicago wall-clock time."""
    whole = dt.datetime(year, month, day, hour, minute, tzinfo=CHICAGO).timestamp()
    return whole + second


NOW = at(2026, 11, 23, 10, 0)  # a Monday, inside ES's regular hours


def order(
    qty: float = 1,
    side: Side = BUY,
    order_type: OrderType = LMT,
    limit: float | None = 6800.0,
    stop: float | None = None,
    inst: Instrument = ES,
    source: Source = TICKET,
    account: str = "",
) -> OrderIntent:
    if order_type in (MKT, STP, OrderType.TRAIL) and limit == 6800.0:
        limit = None
    return OrderIntent(inst, side, qty, order_type, source, limit, stop, account=account)


def working(
    side: Side,
    qty: float,
    filled: float = 0.0,
    inst: Instrument = ES,
    state: OrderState = OrderState.WORKING,
    account: str = "",
) -> OrderSnapshot:
    return OrderSnapshot(
        f"ticket#{id(object()):x}", inst, side, qty, LMT, state, account, 6800.0, filled=filled
    )


def ctx(
    *,
    position: float | Mapping[int, float] = 0.0,
    working: Sequence[OrderSnapshot] = (),
    prices: Mapping[int, float] | None = None,
    recent: Sequence[tuple[float, str, OrderIntent]] = (),
    daily_pnl: float = math.nan,
    now: float = NOW,
    position_of: Callable[[str, int], float] | None = None,
) -> CheckContext:
    table = position if isinstance(position, Mapping) else {ES.con_id: position}
    known = {ES.con_id: 6800.0} if prices is None else prices

    def pos(account: str, con_id: int) -> float:
        return table.get(con_id, 0.0)

    return CheckContext(
        now,
        position_of or pos,
        tuple(working),
        lambda con_id: known.get(con_id, math.nan),
        tuple(recent),
        daily_pnl,
    )


# ---- reduces_position -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "intent", "expected"),
    [
        (0.0, order(1, SELL), False),
        (5.0, order(5, SELL), True),
        (5.0, order(6, SELL), False),  # would flip to short
        (5.0, order(1, BUY), False),
        (-5.0, order(3, BUY), True),
        (-5.0, order(1, SELL), False),
        (math.nan, order(1, SELL), False),
    ],
)
def test_reduces_position(position: float, intent: OrderIntent, expected: bool) -> None:
    assert reduces_position(intent, ctx(position=position)) is expected


def test_reduces_position_counts_working_exits_on_the_same_side() -> None:
    exits = [working(SELL, 3)]
    assert reduces_position(order(2, SELL), ctx(position=5, working=exits))
    assert not reduces_position(order(3, SELL), ctx(position=5, working=exits))
    # 1 of the 3 already filled (and the position is 4 now): 2 remain working.
    partly = [working(SELL, 3, filled=1)]
    assert reduces_position(order(2, SELL), ctx(position=4, working=partly))
    assert not reduces_position(order(3, SELL), ctx(position=4, working=partly))


def test_a_brackets_take_profit_and_stop_count_once_as_exits() -> None:
    """One-cancels-other legs (a bracket's, same parent) can together fill only the larger:
    counted as one exit, so moving the stop of a bracket long 2 is still an exit (it was
    refused while REDUCING and for a paused strategy)."""
    legs = [
        dataclasses.replace(working(SELL, 2), ref="t", parent_ref="p"),
        dataclasses.replace(working(SELL, 2), ref="s", parent_ref="p"),
    ]
    assert reduces_position(order(2, SELL), ctx(position=4, working=legs))
    assert not reduces_position(order(3, SELL), ctx(position=4, working=legs))


@pytest.mark.parametrize(
    "other",
    [
        working(BUY, 3),  # the other side adds, it does not reduce
        working(SELL, 3, inst=NQ),
        working(SELL, 3, account="U2"),
        working(SELL, 3, state=OrderState.CANCELLED),
        working(SELL, 3, filled=3, state=OrderState.FILLED),
    ],
)
def test_reduces_position_ignores_unrelated_orders(other: OrderSnapshot) -> None:
    c = ctx(position=5, working=[other])
    assert reduces_position(order(5, SELL, account="U1"), c)


def test_an_empty_account_matches_any_account_of_a_working_order() -> None:
    c = ctx(position=5, working=[working(SELL, 3, account="U1")])
    assert not reduces_position(order(5, SELL), c)


# ---- max_order_qty ----------------------------------------------------------------------------

QTY_LIMITS = {"ES": 5.0, "*": 10.0}


def test_max_order_qty_allows_exactly_the_limit() -> None:
    assert checks.max_order_qty(order(5), ctx(), limits=QTY_LIMITS) is None


def test_max_order_qty_denies_one_over() -> None:
    reason = checks.max_order_qty(order(6), ctx(), limits=QTY_LIMITS)
    assert reason == "ES order quantity 6 is over the limit of 5."


def test_max_order_qty_uses_the_star_default_for_other_roots() -> None:
    assert checks.max_order_qty(order(10, inst=AAPL), ctx(), limits=QTY_LIMITS) is None
    reason = checks.max_order_qty(order(11, inst=AAPL), ctx(), limits=QTY_LIMITS)
    assert reason == "AAPL order quantity 11 is over the limit of 10."


def test_limits_fall_back_to_the_security_type_before_the_star() -> None:
    limits = {"ES": 5.0, "*FUT": 8.0, "*STK": 1000.0, "*": 10.0}
    assert checks.limit_for(limits, ES) == 5.0
    assert checks.limit_for(limits, NQ) == 8.0
    assert checks.limit_for(limits, AAPL) == 1000.0
    assert checks.max_order_qty(order(1000, inst=AAPL), ctx(), limits=limits) is None
    assert checks.max_order_qty(order(9, inst=NQ), ctx(), limits=limits)


def test_max_order_qty_is_off_at_zero_per_root_and_overall() -> None:
    assert checks.max_order_qty(order(1000), ctx(), limits={"ES": 0.0, "*": 10.0}) is None
    assert checks.max_order_qty(order(1000, inst=NQ), ctx(), limits={"*": 0.0}) is None
    assert checks.max_order_qty(order(11, inst=NQ), ctx(), limits={"ES": 0.0, "*": 10.0})


def test_max_order_qty_never_blocks_an_exit() -> None:
    assert checks.max_order_qty(order(8, SELL), ctx(position=8), limits=QTY_LIMITS) is None
    # Selling 9 against a long 8 opens a short: not an exit.
    assert checks.max_order_qty(order(9, SELL), ctx(position=8), limits=QTY_LIMITS)


@given(
    limit=st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False)),
    qty=st.integers(1, 120),
    position=st.integers(-120, 120),
    side=st.sampled_from([BUY, SELL]),
)
def test_max_order_qty_property(limit: float, qty: int, position: int, side: Side) -> None:
    reducing = position * side.sign < 0 and qty <= abs(position)
    reason = checks.max_order_qty(
        order(qty, side), ctx(position=position), limits={"*": float(limit)}
    )
    assert (reason is not None) == (limit > 0 and qty > limit and not reducing)


# ---- max_order_notional -----------------------------------------------------------------------

# 2 ES at 6800.00 x 50 = 680,000.00
NOTIONAL = 680_000.0


def test_max_order_notional_allows_exactly_the_limit() -> None:
    assert checks.max_order_notional(order(2), ctx(), limit=NOTIONAL) is None


def test_max_order_notional_denies_over_the_limit() -> None:
    reason = checks.max_order_notional(order(3), ctx(), limit=NOTIONAL)
    assert reason == (
        "ES order value 1,020,000.00 USD (3 \u00d7 6800.00 \u00d7 50) is over the limit "
        "of 680,000.00."
    )
    # One tick more on the price is over, too.
    assert checks.max_order_notional(order(2, limit=6800.25), ctx(), limit=NOTIONAL)


def test_max_order_notional_values_a_stop_at_its_stop_and_a_market_at_the_market() -> None:
    stop = order(2, order_type=STP, stop=6800.25)
    assert checks.max_order_notional(stop, ctx(prices={}), limit=NOTIONAL)
    market = order(2, order_type=MKT)
    assert checks.max_order_notional(market, ctx(prices={11: 6800.0}), limit=NOTIONAL) is None
    assert checks.max_order_notional(market, ctx(prices={11: 6800.25}), limit=NOTIONAL)


def test_max_order_notional_values_a_trail_at_the_market_not_its_trailing_amount() -> None:
    trail = order(3, order_type=OrderType.TRAIL, stop=10.0)
    reason = checks.max_order_notional(trail, ctx(), limit=NOTIONAL)
    assert reason is not None and "6800.00" in reason


def test_max_order_notional_denies_an_order_it_cannot_value() -> None:
    reason = checks.max_order_notional(order(1, order_type=MKT), ctx(prices={}), limit=NOTIONAL)
    assert reason == (
        "ES order cannot be valued for the notional limit: no market price for ES; "
        "add it to the watchlist."
    )


def test_max_order_notional_is_off_at_zero_and_never_blocks_an_exit() -> None:
    assert checks.max_order_notional(order(1000), ctx(), limit=0.0) is None
    exit_ = order(3, SELL, order_type=MKT)
    assert checks.max_order_notional(exit_, ctx(position=3, prices={}), limit=NOTIONAL) is None
    assert checks.max_order_notional(exit_, ctx(position=2, prices={}), limit=NOTIONAL)


# ---- price_collar -----------------------------------------------------------------------------


def test_price_collar_pct_allows_the_edge_of_the_band() -> None:
    # 0.5% of 6800.00 is 34.00 either side.
    assert checks.price_collar(order(limit=6834.0), ctx(), pct=0.5) is None
    assert checks.price_collar(order(side=SELL, limit=6766.0), ctx(), pct=0.5) is None


def test_price_collar_pct_denies_one_tick_outside() -> None:
    reason = checks.price_collar(order(limit=6834.25), ctx(), pct=0.5)
    assert reason == "Limit 6834.25 is 0.504% from the market 6800.00; the collar is 0.500%."
    assert checks.price_collar(order(side=SELL, limit=6765.75), ctx(), pct=0.5)


def test_price_collar_pct_message() -> None:
    reason = checks.price_collar(order(limit=6850.0), ctx(), pct=0.5)
    assert reason == "Limit 6850.00 is 0.74% from the market 6800.00; the collar is 0.50%."


def test_price_collar_ticks() -> None:
    assert checks.price_collar(order(limit=6802.0), ctx(), ticks=8) is None
    assert checks.price_collar(order(limit=6798.0), ctx(), ticks=8) is None
    reason = checks.price_collar(order(limit=6802.25), ctx(), ticks=8)
    assert reason == "Limit 6802.25 is 9 ticks from the market 6800.00; the collar is 8 ticks."


def test_price_collar_ticks_take_precedence_over_pct() -> None:
    assert checks.price_collar(order(limit=6802.25), ctx(), ticks=8, pct=50.0)


def test_price_collar_checks_stops_and_both_prices_of_a_stop_limit() -> None:
    stop = order(side=SELL, order_type=STP, stop=6700.0)
    assert checks.price_collar(stop, ctx(), pct=0.5) == (
        "Stop 6700.00 is 1.47% from the market 6800.00; the collar is 0.50%."
    )
    both_in = order(order_type=STP_LMT, stop=6810.0, limit=6812.0)
    assert checks.price_collar(both_in, ctx(), pct=0.5) is None
    limit_out = order(order_type=STP_LMT, stop=6810.0, limit=6840.0)
    reason = checks.price_collar(limit_out, ctx(), pct=0.5)
    assert reason is not None and reason.startswith("Limit 6840.00")


def test_price_collar_denies_a_priced_order_without_a_market_price() -> None:
    reason = checks.price_collar(order(limit=6800.0), ctx(prices={}), pct=0.5)
    assert reason == (
        "No market price for ES to check the collar against; add it to the watchlist."
    )


def test_price_collar_passes_market_and_trail_orders_and_is_off_at_zero() -> None:
    assert checks.price_collar(order(order_type=MKT), ctx(prices={}), pct=0.5) is None
    trail = order(order_type=OrderType.TRAIL, stop=500.0)
    assert checks.price_collar(trail, ctx(), pct=0.5) is None
    assert checks.price_collar(order(limit=9000.0), ctx(), ticks=0, pct=0) is None


@given(
    tick=st.sampled_from([0.25, 0.01, 0.0001, 0.5, 1.0]),
    market_ticks=st.integers(1, 100_000),
    offset=st.integers(-2_000, 2_000),
    collar=st.integers(1, 1_000),
)
def test_price_collar_ticks_property(
    tick: float, market_ticks: int, offset: int, collar: int
) -> None:
    inst = dataclasses.replace(ES, min_tick=tick)
    market = inst.round_to_tick(market_ticks * tick)
    price = inst.round_to_tick((market_ticks + offset) * tick)
    reason = checks.price_collar(
        order(inst=inst, limit=price), ctx(prices={ES.con_id: market}), ticks=collar
    )
    assert (reason is None) == (abs(offset) <= collar)


@given(
    market_ticks=st.integers(1, 100_000),
    offset=st.integers(-5_000, 5_000),
    pct=st.floats(0.01, 20.0),
)
def test_price_collar_pct_property(market_ticks: int, offset: int, pct: float) -> None:
    # Exact arithmetic decides; cases within a hair of the edge are float's, not ours.
    band = Fraction(market_ticks) * Fraction(pct) / 100
    assume(abs(abs(offset) - band) > band * Fraction(1, 10**6))
    market, price = market_ticks * 0.25, (market_ticks + offset) * 0.25
    reason = checks.price_collar(order(limit=price), ctx(prices={ES.con_id: market}), pct=pct)
    assert (reason is None) == (abs(offset) <= band)


# ---- max_position -----------------------------------------------------------------------------

POS_LIMITS = {"ES": 5.0, "*": 20.0}


def test_max_position_allows_exactly_the_limit() -> None:
    assert checks.max_position(order(5), ctx(), limits=POS_LIMITS) is None
    c = ctx(position=2, working=[working(BUY, 2)])
    assert checks.max_position(order(1), c, limits=POS_LIMITS) is None


def test_max_position_denies_one_over_counting_working_orders() -> None:
    c = ctx(position=2, working=[working(BUY, 3), working(SELL, 4)])
    reason = checks.max_position(order(2), c, limits=POS_LIMITS)
    assert reason == (
        "ES position would be 7 long; the limit is 5 "
        "(now 2 long, 3 more in working buy orders, 2 in this one)."
    )
    assert checks.max_position(order(6), ctx(), limits=POS_LIMITS)


def test_max_position_short_side() -> None:
    assert checks.max_position(order(1, SELL), ctx(position=-4), limits=POS_LIMITS) is None
    reason = checks.max_position(order(2, SELL), ctx(position=-4), limits=POS_LIMITS)
    assert reason is not None and reason.startswith("ES position would be 6 short;")


def test_max_position_ignores_finished_orders() -> None:
    done = [working(BUY, 3, state=OrderState.CANCELLED), working(BUY, 3, filled=3)]
    assert checks.max_position(order(5), ctx(working=done), limits=POS_LIMITS) is None


def test_max_position_never_blocks_an_exit_but_checks_a_flip() -> None:
    # Long 8 after the limit was lowered to 5: selling any part of it is allowed.
    assert checks.max_position(order(3, SELL), ctx(position=8), limits=POS_LIMITS) is None
    # Long 2, sell 7: short 5 is within the limit; sell 8: short 6 is not.
    assert checks.max_position(order(7, SELL), ctx(position=2), limits=POS_LIMITS) is None
    assert checks.max_position(order(8, SELL), ctx(position=2), limits=POS_LIMITS)


def test_max_position_is_off_at_zero_and_denies_an_unknown_position() -> None:
    assert checks.max_position(order(100), ctx(), limits={"ES": 0.0, "*": 5.0}) is None
    reason = checks.max_position(order(1), ctx(position=math.nan), limits=POS_LIMITS)
    assert reason == "ES position is not known, so its limit of 5 cannot be checked."


@given(
    limit=st.integers(0, 50),
    position=st.integers(-60, 60),
    pending=st.integers(0, 30),
    qty=st.integers(1, 60),
    side=st.sampled_from([BUY, SELL]),
)
def test_max_position_property(
    limit: int, position: int, pending: int, qty: int, side: Side
) -> None:
    c = ctx(position=position, working=[working(side, pending)] if pending else [])
    reducing = position * side.sign < 0 and qty <= abs(position) - pending
    worst = abs(position + side.sign * (pending + qty))
    reason = checks.max_position(order(qty, side), c, limits={"*": float(limit)})
    assert (reason is not None) == (limit > 0 and not reducing and worst > limit)


# ---- max_open_orders --------------------------------------------------------------------------


def test_max_open_orders_allows_up_to_the_limit() -> None:
    c = ctx(working=[working(BUY, 1), working(SELL, 1, inst=NQ)])
    assert checks.max_open_orders(order(), c, limit=3) is None


def test_max_open_orders_denies_one_over() -> None:
    c = ctx(working=[working(BUY, 1), working(SELL, 1, inst=NQ), working(BUY, 2)])
    reason = checks.max_open_orders(order(), c, limit=3)
    assert reason == "3 orders are already working; the limit is 3 open orders."


def test_max_open_orders_ignores_finished_orders_and_is_off_at_zero() -> None:
    finished = [working(BUY, 1, state=OrderState.CANCELLED)] * 5
    assert checks.max_open_orders(order(), ctx(working=finished), limit=3) is None
    many = [working(BUY, 1)] * 50
    assert checks.max_open_orders(order(), ctx(working=many), limit=0) is None


# ---- max_orders_per_minute --------------------------------------------------------------------


def sent(source: Source, *ages: float, intent: OrderIntent | None = None) -> list[Any]:
    return [(NOW - age, str(source), intent or order(source=source)) for age in ages]


def test_max_orders_per_minute_allows_the_limit() -> None:
    c = ctx(recent=sent(TREND, 50, 10))
    assert checks.max_orders_per_minute(order(source=TREND), c, limit=3) is None


def test_max_orders_per_minute_denies_one_over() -> None:
    c = ctx(recent=sent(TREND, 45, 30, 1))
    reason = checks.max_orders_per_minute(order(source=TREND), c, limit=3)
    assert reason == (
        "3 orders from strategy:trend in the last minute; the limit is 3. The next can go in 15 s."
    )


def test_max_orders_per_minute_counts_per_source_within_60_seconds() -> None:
    others = sent(TICKET, 5, 4, 3, 2, 1)
    old = sent(TREND, 60.0)  # exactly a minute ago: out of the window
    c = ctx(recent=[*others, *old, *sent(TREND, 30, 20)])
    assert checks.max_orders_per_minute(order(source=TREND), c, limit=3) is None
    c = ctx(recent=[*others, *sent(TREND, 59.5), *sent(TREND, 30, 20)])
    assert checks.max_orders_per_minute(order(source=TREND), c, limit=3)


def test_max_orders_per_minute_is_off_at_zero_and_never_blocks_an_exit() -> None:
    busy = ctx(recent=sent(TREND, *range(1, 50)), position=4)
    assert checks.max_orders_per_minute(order(source=TREND), busy, limit=0) is None
    exit_ = order(4, SELL, source=TREND)
    assert checks.max_orders_per_minute(exit_, busy, limit=3) is None
    assert checks.max_orders_per_minute(order(5, SELL, source=TREND), busy, limit=3)


@given(
    limit=st.integers(1, 8),
    arrivals=st.lists(
        st.tuples(st.integers(0, 3_000), st.sampled_from([TREND, TICKET])), max_size=60
    ),
)
def test_max_orders_per_minute_allows_exactly_limit_per_source_per_minute(
    limit: int, arrivals: list[tuple[int, Source]]
) -> None:
    accepted: list[tuple[float, str, OrderIntent]] = []
    for tenths, source in sorted(arrivals, key=lambda a: a[0]):
        now = NOW + tenths / 10
        intent = order(source=source)
        in_window = sum(1 for t, s, _ in accepted if s == str(source) and now - t < 60)
        reason = checks.max_orders_per_minute(intent, ctx(now=now, recent=accepted), limit=limit)
        # Denied exactly when `limit` orders of this source are already in the last minute.
        assert (reason is not None) == (in_window >= limit)
        if reason is None:
            accepted.append((now, str(source), intent))
    for t, s, _ in accepted:
        assert sum(1 for u, r, _ in accepted if r == s and t - 60 < u <= t) <= limit


# ---- duplicate_guard --------------------------------------------------------------------------


def test_duplicate_guard_denies_the_same_order_within_the_window() -> None:
    c = ctx(recent=sent(TICKET, 0.12))
    reason = checks.duplicate_guard(order(), c, window_ms=500)
    assert reason == (
        "Looks like a duplicate of an order sent 120 ms ago "
        "(ticket: BUY 1 ESZ6 LMT 6800.00); the guard is 500 ms."
    )


def test_duplicate_guard_boundary() -> None:
    assert checks.duplicate_guard(order(), ctx(recent=sent(TICKET, 0.5)), window_ms=500)
    late = ctx(recent=sent(TICKET, 0.5 + 2**-10))  # 500.98 ms
    assert checks.duplicate_guard(order(), late, window_ms=500) is None


@pytest.mark.parametrize(
    "different",
    [
        order(2),
        order(side=SELL),
        order(limit=6800.25),
        order(order_type=MKT),
        order(inst=NQ),
        order(order_type=STP_LMT, stop=6799.0),
    ],
)
def test_duplicate_guard_allows_different_terms(different: OrderIntent) -> None:
    c = ctx(recent=sent(TICKET, 0.1, intent=different))
    assert checks.duplicate_guard(order(), c, window_ms=500) is None


def test_duplicate_guard_ignores_the_source_and_is_off_at_zero() -> None:
    c = ctx(recent=sent(Source("hotkey"), 0.1, intent=order(source=Source("hotkey"))))
    assert checks.duplicate_guard(order(), c, window_ms=500)
    assert checks.duplicate_guard(order(), c, window_ms=0) is None


# ---- trading_hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [at(2026, 11, 23, 8, 30), at(2026, 11, 23, 14, 59, 59.9), at(2026, 11, 26, 11, 59)],
)
def test_trading_hours_allows_inside_a_session(now: float) -> None:
    assert checks.trading_hours(order(), ctx(now=now)) is None


@pytest.mark.parametrize("now", [at(2026, 11, 23, 8, 29, 59.9), at(2026, 11, 23, 15, 0)])
def test_trading_hours_denies_at_the_edges(now: float) -> None:
    reason = checks.trading_hours(order(), ctx(now=now))
    assert reason == "ES is outside its regular trading hours (08:30\u201315:00 US/Central)."


def test_trading_hours_on_a_closed_day_names_the_next_session() -> None:
    reason = checks.trading_hours(order(), ctx(now=at(2026, 11, 25, 10, 0)))
    assert reason == (
        "ES is outside its regular trading hours "
        "(closed today; next Thu 2026-11-26 08:30\u201312:00 US/Central)."
    )


def test_trading_hours_reads_the_exchange_time_zone_across_dst() -> None:
    summer = dataclasses.replace(ES, liquid_hours="20260706:0830-20260706:1500")
    utc = dt.UTC
    open_ = dt.datetime(2026, 7, 6, 13, 30, tzinfo=utc).timestamp()  # 08:30 CDT
    assert checks.trading_hours(order(inst=summer), ctx(now=open_)) is None
    assert checks.trading_hours(order(inst=summer), ctx(now=open_ - 1))
    # The same string read in New York: open an hour earlier, closed an hour earlier.
    eastern = dataclasses.replace(summer, time_zone="US/Eastern")
    assert checks.trading_hours(order(inst=eastern), ctx(now=open_ - 3600)) is None
    assert checks.trading_hours(order(inst=summer), ctx(now=open_ - 3600))
    assert checks.trading_hours(order(inst=eastern), ctx(now=open_ + 6 * 3600))
    assert checks.trading_hours(order(inst=summer), ctx(now=open_ + 6 * 3600)) is None


def test_trading_hours_reads_the_old_format() -> None:
    old = dataclasses.replace(ES, liquid_hours="20261123:0830-1500,1600-1700;20261124:CLOSED")
    assert checks.trading_hours(order(inst=old), ctx(now=at(2026, 11, 23, 9, 0))) is None
    assert checks.trading_hours(order(inst=old), ctx(now=at(2026, 11, 23, 16, 30))) is None
    assert checks.trading_hours(order(inst=old), ctx(now=at(2026, 11, 23, 15, 30))) == (
        "ES is outside its regular trading hours (08:30\u201315:00, 16:00\u201317:00 US/Central)."
    )


def test_trading_hours_passes_an_instrument_without_hours() -> None:
    assert checks.trading_hours(order(inst=NQ), ctx(now=at(2026, 11, 25, 3, 0))) is None


@pytest.mark.parametrize(
    ("hours", "zone"),
    [("20261123:0830-20261123:1500", "Mars/Olympus"), ("whenever", "US/Central")],
)
def test_trading_hours_denies_what_it_cannot_read(hours: str, zone: str) -> None:
    odd = dataclasses.replace(ES, liquid_hours=hours, time_zone=zone)
    reason = checks.trading_hours(order(inst=odd), ctx(now=at(2026, 11, 23, 10, 0)))
    assert reason is not None and "cannot be read" in reason


# ---- daily_loss -------------------------------------------------------------------------------


def test_daily_loss_allows_above_the_limit() -> None:
    assert checks.daily_loss(order(), ctx(daily_pnl=-999.99), limit=1000) is None
    assert checks.daily_loss(order(), ctx(daily_pnl=math.nan), limit=1000) is None


def test_daily_loss_denies_at_and_past_the_limit() -> None:
    assert checks.daily_loss(order(), ctx(daily_pnl=-1000.0), limit=1000)
    reason = checks.daily_loss(order(), ctx(daily_pnl=-1020.0), limit=1000)
    assert reason == (
        "Daily loss limit reached: -1,020.00 of -1,000.00. "
        "Only orders that reduce a position are allowed."
    )


def test_daily_loss_is_off_at_zero_and_lets_exits_through() -> None:
    assert checks.daily_loss(order(), ctx(daily_pnl=-1e9), limit=0) is None
    assert checks.daily_loss(order(2, SELL), ctx(daily_pnl=-5000, position=2), limit=1000) is None
    assert checks.daily_loss(order(3, SELL), ctx(daily_pnl=-5000, position=2), limit=1000)


def test_daily_loss_steps_aside_after_a_typed_rearm() -> None:
    waived = dataclasses.replace(ctx(daily_pnl=-5000), loss_limit_waived=True)
    assert checks.daily_loss(order(), waived, limit=1000) is None


def test_trading_hours_lets_exits_through_after_the_close() -> None:
    closed = at(2026, 11, 23, 16, 0)
    assert checks.trading_hours(order(2, SELL), ctx(now=closed, position=2)) is None
    assert checks.trading_hours(order(3, SELL), ctx(now=closed, position=2))


# ---- build_checks -----------------------------------------------------------------------------

ALL_ON = RiskSettings(
    max_order_qty={"*": 5.0},
    max_position={"*": 5.0},
    max_order_notional=680_000.0,
    collar_pct=0.5,
    collar_ticks=0.0,
    max_open_orders=3,
    max_orders_per_minute=3,
    duplicate_window_ms=500.0,
    trading_hours_only=True,
    daily_loss_limit=1000.0,
)
ALL_OFF = RiskSettings(
    max_order_qty={"*": 0.0},
    max_position={"*": 0.0},
    max_order_notional=0.0,
    collar_pct=0.0,
    collar_ticks=0.0,
    max_open_orders=0,
    max_orders_per_minute=0,
    duplicate_window_ms=0.0,
    trading_hours_only=False,
    daily_loss_limit=0.0,
)
ORDER = [
    "daily_loss",
    "trading_hours",
    "duplicate_guard",
    "max_orders_per_minute",
    "max_open_orders",
    "max_order_qty",
    "price_collar",
    "max_order_notional",
    "max_position",
]
# For each check: one setting that turns it on alone, and an order + context it must deny.
TURN_ON: dict[str, tuple[dict[str, Any], OrderIntent, CheckContext]] = {
    "daily_loss": ({"daily_loss_limit": 1000.0}, order(), ctx(daily_pnl=-1000.0)),
    "trading_hours": ({"trading_hours_only": True}, order(), ctx(now=at(2026, 11, 23, 16, 0))),
    "duplicate_guard": ({"duplicate_window_ms": 500.0}, order(), ctx(recent=sent(TICKET, 0.1))),
    "max_orders_per_minute": (
        {"max_orders_per_minute": 3},
        order(source=TREND),
        ctx(recent=sent(TREND, 3, 2, 1)),
    ),
    "max_open_orders": ({"max_open_orders": 3}, order(), ctx(working=[working(BUY, 1)] * 3)),
    "max_order_qty": ({"max_order_qty": {"ES": 5.0, "*": 0.0}}, order(6), ctx()),
    "price_collar": ({"collar_ticks": 8.0}, order(limit=6802.25), ctx()),
    "max_order_notional": ({"max_order_notional": 680_000.0}, order(3), ctx()),
    "max_position": ({"max_position": {"ES": 5.0, "*": 0.0}}, order(6), ctx()),
}


def names(risk: RiskSettings) -> list[str]:
    return [name for name, _ in build_checks(risk)]


def test_build_checks_all_on_in_order() -> None:
    assert names(ALL_ON) == ORDER


def test_build_checks_all_off() -> None:
    assert build_checks(ALL_OFF) == []


def test_build_checks_defaults() -> None:
    # Defaults: no daily loss limit and no trading-hours rule; everything else on.
    assert names(RiskSettings()) == ORDER[2:]


@pytest.mark.parametrize("name", ORDER)
def test_build_checks_includes_exactly_the_enabled_check(name: str) -> None:
    changes, intent, c = TURN_ON[name]
    built = build_checks(dataclasses.replace(ALL_OFF, **changes))
    assert [n for n, _ in built] == [name]
    [(_, check)] = built
    assert check(intent, c) is not None  # bound to the configured limit
    assert check(order(1, limit=6800.0), ctx()) is None


def test_build_checks_binds_the_limits() -> None:
    checks_by_name = dict(build_checks(ALL_ON))
    c = ctx(position=0)
    assert checks_by_name["max_order_qty"](order(5), c) is None
    assert checks_by_name["max_order_qty"](order(6), c) is not None
    assert checks_by_name["price_collar"](order(limit=6834.0), c) is None
    assert checks_by_name["price_collar"](order(limit=6834.25), c) is not None
