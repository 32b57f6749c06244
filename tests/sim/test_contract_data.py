"""Reference data as other tools need it: ISINs in the contract details of stocks, market
rules for every rule id the details advertise, head timestamps where instruments began."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ibdesk.broker import ib as shim

from .conftest import front_future

pytestmark = pytest.mark.sim

UTC = dt.UTC
#: Published ISINs (not the simulator's table: a typo there must fail here).
KNOWN_ISINS = {
    "AAPL": "US0378331005",
    "MSFT": "US5949181045",
    "NVDA": "US67066G1040",
    "TSLA": "US88160R1014",
    "SPY": "US78462F1030",
    "QQQ": "US46090E1038",
}
#: First trading day on the exchange, as the issuers publish it.
LISTED = {"AAPL": dt.date(1980, 12, 12), "TSLA": dt.date(2010, 6, 29), "SPY": dt.date(1993, 1, 29)}


def isin_check_digit_ok(isin: str) -> bool:
    """ISO 6166: letters to numbers (A=10 …), then the Luhn check over the digits."""
    digits = "".join(str(int(ch, 36)) for ch in isin)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n // 10 + n % 10
    return total % 10 == 0


async def details(ib: Any, contract: Any) -> Any:
    [found] = await ib.reqContractDetailsAsync(contract)
    return found


@pytest.mark.parametrize("symbol", sorted(KNOWN_ISINS))
async def test_stock_details_carry_the_isin(ib: Any, symbol: str) -> None:
    """Before: no secIdList, and NautilusTrader's instrument provider failed ("No ISIN")."""
    cd = await details(ib, shim.Stock(symbol, "SMART", "USD"))
    assert [(t.tag, t.value) for t in cd.secIdList] == [("ISIN", KNOWN_ISINS[symbol])]


async def test_every_stock_has_a_well_formed_isin_and_futures_have_none(ib: Any) -> None:
    stocks = await ib.reqMatchingSymbolsAsync("A")
    assert stocks
    for desc in stocks:
        if desc.contract.secType != "STK":
            continue
        cd = await details(ib, shim.Stock(desc.contract.symbol, "SMART", "USD"))
        [(tag, isin)] = [(t.tag, t.value) for t in cd.secIdList]
        assert tag == "ISIN" and isin.startswith("US") and len(isin) == 12
        assert isin_check_digit_ok(isin), isin
    fut = await details(ib, await front_future(ib))
    assert not fut.secIdList


@pytest.mark.parametrize("symbol", ["ES", "CL", "GC", "AAPL", "EUR"])
async def test_every_advertised_market_rule_gives_the_price_increments(
    ib: Any, symbol: str
) -> None:
    """Before: 320 "unknown message id" with reqId -1 (although details advertise rules)."""
    if symbol == "EUR":
        contract = shim.Forex("EURUSD")
    elif symbol == "AAPL":
        contract = shim.Stock("AAPL", "SMART", "USD")
    else:
        contract = await front_future(ib, symbol)
    cd = await details(ib, contract)
    rule_ids = {int(x) for x in cd.marketRuleIds.split(",") if x}
    assert rule_ids
    for rule_id in rule_ids:
        increments = await ib.reqMarketRuleAsync(rule_id)
        assert increments and increments[0].lowEdge == 0
        assert increments[0].increment == pytest.approx(cd.minTick)


@pytest.mark.parametrize("symbol", sorted(LISTED))
async def test_a_stocks_head_timestamp_is_its_listing_day_and_history_reaches_it(
    ib: Any, symbol: str
) -> None:
    """Before: every instrument began five years ago."""
    [stock] = await shim.qualify(ib, shim.Stock(symbol, "SMART", "USD"))
    head = await ib.reqHeadTimeStampAsync(stock, "TRADES", True, 1)
    assert head.astimezone(dt.timezone(dt.timedelta(hours=-5))).date() == LISTED[symbol]
    bars = await ib.reqHistoricalDataAsync(
        stock, head + dt.timedelta(days=25), "1 M", "1 day", "TRADES", True, 1
    )
    assert bars and bars[0].date == LISTED[symbol]
    assert all(0 < b.low <= b.high for b in bars)


async def test_a_futures_head_timestamp_is_when_its_contract_was_listed(ib: Any) -> None:
    es = await front_future(ib)
    head = await ib.reqHeadTimeStampAsync(es, "TRADES", False, 1)
    expiry = dt.datetime.strptime(es.lastTradeDateOrContractMonth[:8], "%Y%m%d").replace(tzinfo=UTC)
    # ES lists five quarterly expiries: a contract trades for some 15 months.
    assert dt.timedelta(days=14 * 30) < expiry - head < dt.timedelta(days=16 * 30)
