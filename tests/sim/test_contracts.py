"""Contract lookup end to end: futures chains, stocks, FX, contract details, errors.

The specifications asserted here are the exchanges' real ones (multiplier, tick, cycle, last
trading day), written out independently of the simulator's catalog so that a wrong entry there
fails a test. Holidays are not modelled by the simulator, so the expiry rules below count
weekdays as business days, as its documentation says.

Tests whose outcome depends on the contractDetails or error layout run at several server
versions (164 dropped a version field and mdSizeMultiplier, 163 has a one-off trailing field,
166 added a field to every error).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig
from tests.helpers import quick_sim

from .conftest import Connect, wait_until

pytestmark = pytest.mark.sim

LAYOUT_VERSIONS = [176, 166, 163, 157]
MONTH_CODES = "FGHJKMNQUVXZ"


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    """The default simulator, or one capped at the server version a test is run at."""
    version = getattr(request, "param", 176)
    return quick_sim(max_version=version)


at_each_layout = pytest.mark.parametrize("sim_config", LAYOUT_VERSIONS, indirect=True)


# ---- the exchanges' rules, stated independently of the simulator ----------------------------


def _business_days_back(day: dt.date, count: int) -> dt.date:
    """The weekday ``count`` weekdays before ``day``."""
    while count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _crude(extra: int) -> Callable[[int, int], dt.date]:
    """CL ends 3 business days before the 25th of the prior month (4 if the 25th is a
    weekend day); MCL one business day earlier still."""

    def last_trade(year: int, month: int) -> dt.date:
        prior = dt.date(year - 1, 12, 25) if month == 1 else dt.date(year, month - 1, 25)
        count = (3 if prior.weekday() < 5 else 4) + extra
        return _business_days_back(prior, count)

    return last_trade


def _gold(year: int, month: int) -> dt.date:
    """GC and MGC end on the third-last business day of the contract month."""
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return _business_days_back(following, 3)


@dataclass(frozen=True)
class Spec:
    """What CME Group publishes for one futures root."""

    exchange: str
    multiplier: str
    tick: float
    months: tuple[int, ...]
    last_trade: Callable[[int, int], dt.date]
    time_zone: str


QUARTERLY = (3, 6, 9, 12)
SPECS = {
    "ES": Spec("CME", "50", 0.25, QUARTERLY, _third_friday, "US/Central"),
    "MES": Spec("CME", "5", 0.25, QUARTERLY, _third_friday, "US/Central"),
    "NQ": Spec("CME", "20", 0.25, QUARTERLY, _third_friday, "US/Central"),
    "MNQ": Spec("CME", "2", 0.25, QUARTERLY, _third_friday, "US/Central"),
    "CL": Spec("NYMEX", "1000", 0.01, tuple(range(1, 13)), _crude(0), "US/Eastern"),
    "MCL": Spec("NYMEX", "100", 0.01, tuple(range(1, 13)), _crude(1), "US/Eastern"),
    "GC": Spec("COMEX", "100", 0.10, (2, 4, 6, 8, 10, 12), _gold, "US/Eastern"),
    "MGC": Spec("COMEX", "10", 0.10, (2, 4, 6, 8, 10, 12), _gold, "US/Eastern"),
}
STOCK_PRIMARY = {
    "AAPL": "NASDAQ",
    "MSFT": "NASDAQ",
    "NVDA": "NASDAQ",
    "TSLA": "NASDAQ",
    "SPY": "ARCA",
    "QQQ": "NASDAQ",
}


def expected_expiries(spec: Spec, today: dt.date, count: int) -> list[tuple[str, str]]:
    """(contract month YYYYMM, last trade YYYYMMDD) of the next ``count`` live contracts."""
    out: list[tuple[str, str]] = []
    year, month = today.year, today.month
    while len(out) < count:
        if month in spec.months:
            last = spec.last_trade(year, month)
            if last >= today:
                out.append((f"{year}{month:02d}", f"{last:%Y%m%d}"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# ---- helpers -----------------------------------------------------------------------------------


async def chain(ib: Any, symbol: str, exchange: str | None = None) -> list[Any]:
    """Every listed expiry of a root, as contractDetails, in the order TWS sent them."""
    spec = SPECS[symbol]
    return list(
        await ib.reqContractDetailsAsync(shim.Future(symbol, exchange=exchange or spec.exchange))
    )


def parse_hours(text: str) -> tuple[list[tuple[dt.datetime, dt.datetime]], list[str]]:
    """IB's ``YYYYMMDD:HHMM-YYYYMMDD:HHMM;YYYYMMDD:CLOSED`` into sessions and closed dates.

    Naive datetimes, in the contract's time zone.
    """
    sessions: list[tuple[dt.datetime, dt.datetime]] = []
    closed: list[str] = []
    for part in text.split(";"):
        day, _, rest = part.partition(":")
        if rest == "CLOSED":
            closed.append(day)
            continue
        opened, closes = part.split("-")
        sessions.append(
            (
                dt.datetime.strptime(opened, "%Y%m%d:%H%M"),
                dt.datetime.strptime(closes, "%Y%m%d:%H%M"),
            )
        )
    return sessions, closed


def assert_hours_are_consistent(cd: Any) -> None:
    """Trading and liquid hours parse, are ordered, never contradict, and nest."""
    ZoneInfo(cd.timeZoneId)  # a zone both client libraries can resolve
    trading, trading_closed = parse_hours(cd.tradingHours)
    liquid, liquid_closed = parse_hours(cd.liquidHours)
    assert len(trading) >= 5 and len(liquid) >= 5, "a week lists at least five sessions"
    for sessions, closed in ((trading, trading_closed), (liquid, liquid_closed)):
        for (o1, c1), (o2, _) in itertools.pairwise(sessions):
            assert o1 < c1 <= o2, f"sessions out of order or overlapping: {cd.tradingHours}"
        opening_days = {f"{o:%Y%m%d}" for o, _ in sessions}
        # A date listed as CLOSED must not also open a session (TWS never says both).
        assert not opening_days & set(closed), f"{sorted(opening_days & set(closed))} in both"
    for o, c in liquid:
        assert any(to <= o and c <= tc for to, tc in trading), f"liquid {o}-{c} outside trading"


# ---- futures -----------------------------------------------------------------------------------


@at_each_layout
async def test_every_futures_root_has_its_real_specification(
    ib: Any, sim_config: SimConfig
) -> None:
    assert ib.client.serverVersion() == sim_config.max_version
    for symbol, spec in SPECS.items():
        details = await chain(ib, symbol)
        assert len(details) >= 2, symbol
        for cd in details:
            c = cd.contract
            assert (c.symbol, c.secType, c.exchange, c.currency) == (
                symbol,
                "FUT",
                spec.exchange,
                "USD",
            )
            assert c.multiplier == spec.multiplier, symbol
            assert cd.minTick == pytest.approx(spec.tick), symbol
            assert c.tradingClass == symbol and cd.marketName == symbol
            assert cd.timeZoneId == spec.time_zone, symbol
            # The delivery month: the expiry's month, or (CL, MCL) the month after it.
            assert int(cd.contractMonth[4:]) in spec.months, symbol
            assert cd.contractMonth >= c.lastTradeDateOrContractMonth[:6]
            assert cd.realExpirationDate == c.lastTradeDateOrContractMonth
            assert cd.lastTradeTime, "the expiry time is split off the date"
            assert spec.exchange in cd.validExchanges.split(",")
            assert {"LMT", "MKT", "STP"} <= set(cd.orderTypes.split(","))
            assert cd.underSymbol and cd.underConId > 0
            if sim_config.max_version >= 164:
                assert (cd.minSize, cd.sizeIncrement) == (1, 1)
        assert len({cd.contract.conId for cd in details}) == len(details), "conIds unique"


async def test_future_without_expiry_returns_the_whole_chain_sorted_from_the_front(
    ib: Any,
) -> None:
    today = dt.date.today()
    for symbol, spec in SPECS.items():
        details = await chain(ib, symbol)
        got = [(cd.contractMonth, cd.contract.lastTradeDateOrContractMonth) for cd in details]
        assert got == sorted(got), f"{symbol} chain is not sorted by expiry"
        assert got[0][1] >= f"{today:%Y%m%d}", f"{symbol} front month has expired"
        # The chain is the next N contracts of the cycle, each expiring on the exchange's rule.
        assert got == expected_expiries(spec, today, len(got)), symbol


async def test_local_symbols_are_root_month_code_and_year_digit(ib: Any) -> None:
    for symbol in SPECS:
        for cd in await chain(ib, symbol):
            year, month = int(cd.contractMonth[:4]), int(cd.contractMonth[4:])
            assert cd.contract.localSymbol == f"{symbol}{MONTH_CODES[month - 1]}{year % 10}"
    es_front = (await chain(ib, "ES"))[0].contract
    [by_local] = await shim.qualify(
        ib, shim.Future(localSymbol=es_front.localSymbol, exchange="CME")
    )
    assert by_local is not None and by_local.conId == es_front.conId


async def test_future_qualifies_by_contract_month_or_exact_expiry(ib: Any) -> None:
    # CL expires in the month before delivery: the month asked for is the delivery month.
    back_details = (await chain(ib, "CL"))[2]
    back = back_details.contract
    by_month, by_day = await shim.qualify(
        ib,
        shim.Future("CL", back_details.contractMonth, "NYMEX"),
        shim.Future("CL", back.lastTradeDateOrContractMonth, "NYMEX"),
    )
    assert by_month is not None and by_month.conId == back.conId
    assert by_day is not None and by_day.conId == back.conId
    assert by_month.localSymbol == back.localSymbol


@at_each_layout
async def test_contfut_qualifies_to_the_front_month(ib: Any) -> None:
    for symbol, spec in SPECS.items():
        front = (await chain(ib, symbol))[0].contract
        [cont] = await shim.qualify(ib, shim.ContFuture(symbol, exchange=spec.exchange))
        assert cont is not None, symbol
        assert cont.conId == front.conId
        assert cont.lastTradeDateOrContractMonth == front.lastTradeDateOrContractMonth
        assert cont.localSymbol == front.localSymbol


async def test_globex_is_an_alias_of_cme(ib: Any) -> None:
    cme = [cd.contract.conId for cd in await chain(ib, "ES", "CME")]
    globex = await chain(ib, "ES", "GLOBEX")
    assert [cd.contract.conId for cd in globex] == cme
    assert {cd.contract.exchange for cd in globex} == {"CME"}


async def test_future_without_expiry_does_not_qualify_to_one_contract(ib: Any) -> None:
    # Several expiries match: TWS lists them all, and qualifying must not pick one at random.
    assert await shim.qualify(ib, shim.Future("ES", exchange="CME")) == [None]
    details = await ib.reqContractDetailsAsync(shim.Future("ES"))
    assert len(details) >= 2, "without an exchange the chain still resolves by symbol"


# ---- stocks and FX -----------------------------------------------------------------------------


@at_each_layout
async def test_stocks_route_smart_and_report_their_primary_exchange(ib: Any) -> None:
    for symbol, primary in STOCK_PRIMARY.items():
        [cd] = await ib.reqContractDetailsAsync(shim.Stock(symbol, "SMART", "USD"))
        c = cd.contract
        assert (c.symbol, c.secType, c.exchange, c.currency) == (symbol, "STK", "SMART", "USD")
        assert c.primaryExchange == primary
        assert c.localSymbol == symbol and c.conId > 0
        assert cd.minTick == pytest.approx(0.01)
        assert cd.marketName == c.tradingClass
        assert cd.timeZoneId == "US/Eastern"
        exchanges = cd.validExchanges.split(",")
        assert "SMART" in exchanges and primary in exchanges
        assert len(exchanges) == len(set(exchanges)), f"repeated exchange in {exchanges}"
        assert cd.stockType in ("COMMON", "ETF")
        # Directed to the primary exchange, the same stock comes back on that exchange.
        [direct] = await shim.qualify(ib, shim.Stock(symbol, primary, "USD"))
        assert direct is not None and direct.conId == c.conId and direct.exchange == primary


@at_each_layout
async def test_forex_pair_qualifies_on_idealpro(ib: Any) -> None:
    [eur] = await shim.qualify(ib, shim.Forex("EURUSD"))
    assert eur is not None
    assert (eur.secType, eur.symbol, eur.currency) == ("CASH", "EUR", "USD")
    assert eur.exchange == "IDEALPRO" and eur.localSymbol == "EUR.USD" and eur.conId > 0
    [cd] = await ib.reqContractDetailsAsync(eur)
    assert cd.minTick == pytest.approx(0.00005)
    assert_hours_are_consistent(cd)


# ---- contract details --------------------------------------------------------------------------


@at_each_layout
async def test_contract_details_carry_hours_time_zone_and_order_types(ib: Any) -> None:
    es = (await chain(ib, "ES"))[0]
    cl = (await chain(ib, "CL"))[0]
    [aapl] = await ib.reqContractDetailsAsync(shim.Stock("AAPL", "SMART", "USD"))
    for cd in (es, cl, aapl):
        assert_hours_are_consistent(cd)
        assert {"LMT", "MKT", "STP", "STPLMT"} <= set(cd.orderTypes.split(","))
        assert cd.longName
    # Regular hours are the exchanges' published ones.
    es_liquid, _ = parse_hours(es.liquidHours)
    assert {(f"{o:%H%M}", f"{c:%H%M}") for o, c in es_liquid} == {("0830", "1500")}
    aapl_liquid, _ = parse_hours(aapl.liquidHours)
    assert {(f"{o:%H%M}", f"{c:%H%M}") for o, c in aapl_liquid} == {("0930", "1600")}
    # Globex sessions open the evening before the trading day they belong to.
    es_trading, _ = parse_hours(es.tradingHours)
    assert all((c - o) == dt.timedelta(hours=23) for o, c in es_trading)


@at_each_layout
async def test_unknown_symbol_is_error_200_and_no_details(connect: Connect) -> None:
    ib = await connect()
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    assert await ib.reqContractDetailsAsync(shim.Stock("NOSUCH", "SMART", "USD")) == []
    await wait_until(lambda: any(code == 200 for _, code in errors), what="error 200")
    [(req_id, _)] = [e for e in errors if e[1] == 200]
    assert req_id > 0, "the error names the request, not -1"
    unknown, known = await shim.qualify(
        ib, shim.Future("ZZ", exchange="CME"), shim.Stock("AAPL", "SMART", "USD")
    )
    assert unknown is None
    assert known is not None and known.conId > 0
