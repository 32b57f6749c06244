"""The Risk panel's lines: each limit with its current use, in words a trader reads at a glance."""

from __future__ import annotations

import math

from ibdesk.config import RiskSettings
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderIntent, OrderSnapshot, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from ibdesk.trading.context import CheckContext
from ibdesk.trading.usage import usage

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")
NOW = 1_800_000_000.0


def ctx(**kw: object) -> CheckContext:
    base: dict[str, object] = {
        "now": NOW,
        "position": lambda account, con_id: 0.0,
        "working": (),
        "last_price": lambda con_id: math.nan,
    }
    base.update(kw)
    return CheckContext(**base)  # type: ignore[arg-type]


def lines(risk: RiskSettings, c: CheckContext, positions: dict | None = None) -> dict[str, str]:
    return {u.key: u.text for u in usage(risk, c, "DU1", positions or {})}


def test_positions_are_read_against_their_own_limit_with_the_security_type_default() -> None:
    risk = RiskSettings(max_position={"ES": 5.0, "*STK": 5000.0, "*": 20.0})
    rows = {u.key: u for u in usage(risk, ctx(), "DU1", {"ES": (ES, 3.0), "AAPL": (AAPL, 100.0)})}
    assert rows["position:ES"].text == "3 / 5"
    assert rows["position:ES"].fraction == 0.6
    assert rows["position:AAPL"].text == "100 / 5,000"


def test_orders_per_minute_count_only_the_last_sixty_seconds_per_source() -> None:
    intent = OrderIntent(ES, Side.BUY, 1, OrderType.MARKET, Source("ticket"))
    recent = [
        (NOW - 60.0, "ticket", intent),
        (NOW - 59.9, "ticket", intent),
        (NOW, "chart", intent),
    ]
    text = lines(RiskSettings(max_orders_per_minute=60), ctx(recent=recent))
    assert text["rate:ticket"] == "1 / 60 per minute"
    assert text["rate:chart"] == "1 / 60 per minute"


def test_daily_pnl_open_orders_and_state() -> None:
    working = [
        OrderSnapshot(
            "ticket#1", ES, Side.BUY, 1, OrderType.LIMIT, OrderState.WORKING, "DU1", 6800.0
        )
    ]
    risk = RiskSettings(daily_loss_limit=1000.0, max_open_orders=60)
    c = ctx(working=working, daily_pnl=-420.0, state=TradingState.HALTED)
    rows = {u.key: u for u in usage(risk, c, "DU1", {})}
    assert rows["daily_loss"].text == "-420.00 / -1,000.00"
    assert rows["daily_loss"].fraction == 0.42
    assert rows["open_orders"].text == "1 / 60"
    assert rows["state"].text == "HALTED"
    waived = lines(risk, ctx(daily_pnl=-1500.0, loss_limit_waived=True))
    assert "waived" in waived["daily_loss"]


def test_settings_read_in_words() -> None:
    text = lines(RiskSettings(), ctx())
    assert [text[f"order_qty:{k}"] for k in ("*FUT", "*STK", "*CASH", "*")] == [
        "10",
        "1,000",
        "1,000,000",
        "10",
    ]
    assert text["daily_loss"] == "off"
    assert text["watchdog"] == "1.5 s"


# ---- every limit the gate enforces, with its use, one short line each --------------------------


def rows(risk: RiskSettings, c: CheckContext, positions: dict | None = None) -> dict[str, object]:
    return {u.key: u for u in usage(risk, c, "DU1", positions or {})}


def test_orders_per_minute_has_a_line_before_any_order() -> None:
    """The per-source rate limit shows its use from the start: 0 of 60, not only a setting."""
    shown = rows(RiskSettings(max_orders_per_minute=60), ctx())
    assert shown["rate"].text == "0 / 60 per minute"  # type: ignore[attr-defined]
    assert shown["rate"].fraction == 0.0  # type: ignore[attr-defined]


def test_orders_per_minute_count_rises_and_nears_its_limit() -> None:
    intent = OrderIntent(ES, Side.BUY, 1, OrderType.MARKET, Source("ticket"))
    recent = [(NOW - i, "ticket", intent) for i in range(12)]
    shown = rows(RiskSettings(max_orders_per_minute=60), ctx(recent=recent))
    assert shown["rate:ticket"].text == "12 / 60 per minute"  # type: ignore[attr-defined]
    assert "rate" not in shown  # the zero line gives way to the sources' own
    full = rows(RiskSettings(max_orders_per_minute=12), ctx(recent=recent))
    assert full["rate:ticket"].fraction == 1.0  # type: ignore[attr-defined]


def test_per_root_tables_are_one_line_per_entry_never_one_long_line() -> None:
    """``futures 10, stocks 1,000, FX 1,000,000, oth…`` was one elided cell: now each entry
    of a per-root table is a line of its own, short enough for a narrow panel."""
    shown = rows(RiskSettings(max_order_qty={"ES": 4.0, "*FUT": 10.0, "*STK": 1000.0}), ctx())
    assert shown["order_qty:ES"].text == "4"  # type: ignore[attr-defined]
    assert shown["order_qty:*FUT"].text == "10"  # type: ignore[attr-defined]
    assert shown["order_qty:*STK"].text == "1,000"  # type: ignore[attr-defined]
    assert shown["order_qty:*FUT"].name == "Max order quantity, futures"  # type: ignore[attr-defined]
    longest = max(len(u.text) for u in usage(RiskSettings(), ctx(), "DU1", {}))
    assert longest <= 32


def test_every_check_the_gate_runs_has_a_line() -> None:
    """Each limit ``build_checks`` turns into a check is on the panel."""
    from ibdesk.trading.checks import build_checks

    risk = RiskSettings(daily_loss_limit=500.0, trading_hours_only=True, collar_ticks=8)
    keys = {u.key.partition(":")[0] for u in usage(risk, ctx(), "DU1", {"ES": (ES, 1.0)})}
    line_of = {
        "daily_loss": "daily_loss",
        "trading_hours": "hours",
        "duplicate_guard": "duplicate",
        "max_orders_per_minute": "rate",
        "max_open_orders": "open_orders",
        "max_order_qty": "order_qty",
        "price_collar": "collar",
        "max_order_notional": "notional",
        "max_position": "max_position",
    }
    for name, _check in build_checks(risk):
        assert line_of[name] in keys, name
