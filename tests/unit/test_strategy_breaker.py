"""The runaway breaker: each limit trips on its own, and a tripped breaker stays tripped."""

from __future__ import annotations

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderIntent, OrderType, Side, Source
from ibdesk.strategies.breaker import BreakerLimits, RunawayBreaker

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
S = Source("strategy", "x")


def lmt(price: float, side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(ES, side, 1, OrderType.LIMIT, S, limit_price=price)


def test_the_same_order_twice_within_the_window_trips() -> None:
    b = RunawayBreaker(BreakerLimits(duplicate_ms=500, orders_per_second=0, orders_per_minute=0))
    assert b.order(lmt(6800), 0.0) == ""
    assert b.order(lmt(6800), 0.6) == ""  # outside the window
    assert "same order twice" in b.order(lmt(6800), 0.9)
    assert b.order(lmt(6700), 10.0) == b.tripped  # stays tripped


def test_order_rates_trip() -> None:
    b = RunawayBreaker(BreakerLimits(orders_per_second=3, orders_per_minute=0, duplicate_ms=0))
    assert [b.order(lmt(6800 - i), i * 0.1) for i in range(3)] == ["", "", ""]
    assert "more than 3 orders in a second" in b.order(lmt(6700), 0.35)
    m = RunawayBreaker(BreakerLimits(orders_per_second=0, orders_per_minute=5, duplicate_ms=0))
    assert all(m.order(lmt(6800 - i), i * 2.0) == "" for i in range(5))
    assert "in a minute" in m.order(lmt(6700), 11.0)
    assert RunawayBreaker(BreakerLimits(0, 5, 0, 0, 0)).order(lmt(1), 70.0) == ""


def test_rejects_in_a_row_trip_and_an_acceptance_resets_them() -> None:
    b = RunawayBreaker(BreakerLimits(rejects_in_a_row=3))
    b.rejected()
    b.rejected()
    b.accepted()
    assert b.rejected() == "" and b.rejected() == ""
    assert "3 orders rejected in a row" in b.rejected()


def test_cancelling_without_filling_trips() -> None:
    b = RunawayBreaker(BreakerLimits(cancels_per_fill=5))
    b.filled()
    b.filled()
    assert all(b.cancelled() == "" for _ in range(10))  # 5 per fill, and 10 prove little
    assert "11 cancels for 2 fills" in b.cancelled()
    b.reset()
    assert b.tripped == "" and b.order(lmt(6800), 0.0) == ""
