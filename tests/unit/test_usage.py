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
    assert text["rate:ticket"] == "1 / 60"
    assert text["rate:chart"] == "1 / 60"


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
    assert text["order_qty"] == "futures 10, stocks 1,000, FX 1,000,000, others 10"
    assert text["daily_loss"] == "off"
    assert text["watchdog"] == "1.5 s"
