"""Library objects to frozen domain snapshots: the one place camelCase becomes snake_case.

Nothing the client library mutates in place (Ticker, Trade, PortfolioItem) ever leaves the
broker layer; other layers get these snapshots instead.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote

#: IB's "no value" markers, which must never reach a table as a price.
UNSET_DOUBLE = 1.7976931348623157e308


def num(value: Any) -> float:
    """A price or size as a float; NaN for None, UNSET, -1 ("no quote") and junk."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    if math.isinf(x) or abs(x) >= UNSET_DOUBLE:
        return math.nan
    return x


def price(value: Any) -> float:
    """A price: like :func:`num`, and IB's -1 (no quote) becomes NaN."""
    x = num(value)
    return math.nan if x == -1 else x


def instrument(contract: Any, details: Any | None = None) -> Instrument:
    """A qualified Contract (and its ContractDetails, which carry the tick) as an Instrument."""
    sec_type = (
        SecType(contract.secType)
        if contract.secType in SecType.__members__.values()
        else SecType.STOCK
    )
    if sec_type is SecType.CONTINUOUS_FUTURE:
        sec_type = SecType.FUTURE
    multiplier = num(contract.multiplier) if contract.multiplier else 1.0
    min_tick = num(details.minTick) if details is not None else math.nan
    if math.isnan(min_tick) or min_tick <= 0:
        min_tick = 0.01
    return Instrument(
        con_id=int(contract.conId),
        symbol=contract.symbol,
        sec_type=sec_type,
        exchange=contract.exchange,
        currency=contract.currency,
        local_symbol=contract.localSymbol or contract.symbol,
        multiplier=1.0 if math.isnan(multiplier) or sec_type is not SecType.FUTURE else multiplier,
        min_tick=min_tick,
        expiry=(contract.lastTradeDateOrContractMonth or "")[:8],
        trading_class=contract.tradingClass or "",
        primary_exchange=contract.primaryExchange or "",
        long_name=getattr(details, "longName", "") or "",
        liquid_hours=getattr(details, "liquidHours", "") or "",
        time_zone=getattr(details, "timeZoneId", "") or "",
    )


def quote(con_id: int, ticker: Any) -> Quote:
    """A Ticker's current state as a Quote."""
    stamp = ticker.time.timestamp() if getattr(ticker, "time", None) else time.time()
    return Quote(
        con_id=con_id,
        bid=price(ticker.bid),
        ask=price(ticker.ask),
        last=price(ticker.last),
        bid_size=num(ticker.bidSize),
        ask_size=num(ticker.askSize),
        last_size=num(ticker.lastSize),
        volume=num(ticker.volume),
        close=price(ticker.close),
        high=price(ticker.high),
        low=price(ticker.low),
        time=stamp,
    )


def position(item: Any, inst: Instrument) -> PositionSnapshot:
    """A PortfolioItem (updatePortfolio) as a PositionSnapshot."""
    return PositionSnapshot(
        account=item.account,
        instrument=inst,
        qty=float(item.position),
        avg_cost=num(item.averageCost),
        market_price=price(item.marketPrice),
        market_value=num(item.marketValue),
        unrealized_pnl=num(item.unrealizedPNL),
        realized_pnl=num(item.realizedPNL),
    )


#: accountValue tags (currency USD or BASE) -> AccountSnapshot fields.
ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "AvailableFunds": "available_funds",
    "ExcessLiquidity": "excess_liquidity",
    "InitMarginReq": "init_margin",
    "MaintMarginReq": "maint_margin",
    "BuyingPower": "buying_power",
    "TotalCashValue": "cash",
}
