"""History as IB gives it: every bar size from 1 second to 1 month within IB's duration
limits, daily bars on trading days, weekly and monthly bars dated as IB dates them, and
volumes of each instrument's size and intraday shape."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig
from tests.helpers import quick_sim

from .conftest import front_future, wait_until
from .test_history import assert_aggregates, assert_sane, epoch, error_log, history, within

pytestmark = pytest.mark.sim

UTC = dt.UTC
EASTERN, CENTRAL = ZoneInfo("US/Eastern"), ZoneInfo("US/Central")
TIME_LENGTH = "Historical Market Data Service error message:Time length exceed max."


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(pacing=False)


def last_weekday(day: dt.date) -> dt.date:
    while day.weekday() > 4:
        day -= dt.timedelta(days=1)
    return day


# ---- every bar size ---------------------------------------------------------------------------

SIZES = [
    # barSize, a duration within IB's limit for it, seconds per bar (0: calendar-based)
    ("1 secs", "60 S", 1),
    ("5 secs", "3600 S", 5),
    ("10 secs", "14400 S", 10),
    ("15 secs", "14400 S", 15),
    ("30 secs", "28800 S", 30),
    ("1 min", "1 D", 60),
    ("2 mins", "2 D", 120),
    ("3 mins", "1 W", 180),
    ("5 mins", "1 W", 300),
    ("10 mins", "1 W", 600),
    ("15 mins", "1 W", 900),
    ("20 mins", "1 W", 1200),
    ("30 mins", "1 M", 1800),
    ("1 hour", "1 M", 3600),
    ("2 hours", "1 M", 7200),
    ("3 hours", "1 M", 10800),
    ("4 hours", "1 M", 14400),
    ("8 hours", "1 M", 28800),
    ("1 day", "1 Y", 0),
    ("1 week", "2 Y", 0),
    ("1W", "2 Y", 0),
    ("1 month", "5 Y", 0),
    ("1M", "5 Y", 0),
]


@pytest.mark.parametrize(("bar_size", "duration", "seconds"), SIZES)
async def test_every_ib_bar_size_is_answered(
    ib: Any, bar_size: str, duration: str, seconds: int
) -> None:
    """Before: "1 secs" and "1 month" were refused with 321."""
    es = await front_future(ib)
    bars = await history(ib, es, "", duration, bar_size, "TRADES", False, 2)
    assert_sane(bars, 0.25)
    if seconds:
        steps = {b - a for a, b in itertools.pairwise(epoch(b) for b in bars)}
        assert min(steps) == seconds


@pytest.mark.parametrize(
    ("bar_size", "duration"),
    [("1 secs", "3600 S"), ("5 secs", "2 D"), ("30 secs", "2 D"), ("1 min", "2 W")],
)
async def test_a_duration_beyond_ibs_limit_for_the_bar_size_is_error_162(
    ib: Any, bar_size: str, duration: str
) -> None:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: errors.append((req_id, code, text))
    es = await front_future(ib)
    assert await history(ib, es, "", duration, bar_size, "TRADES", False, 2) == []
    [(_, code, text)] = errors
    assert (code, text) == (162, TIME_LENGTH)


async def test_an_invalid_bar_size_lists_the_legal_ones_as_tws_does(ib: Any) -> None:
    errors = error_log(ib)
    texts: list[str] = []
    ib.errorEvent += lambda req_id, code, text, *_: texts.append(text)
    es = await front_future(ib)
    req_id = ib.client.getReqId()
    ib.client.reqHistoricalData(req_id, es, "", "1 D", "7 mins", "TRADES", 0, 1, False, [])
    await wait_until(lambda: (req_id, 321) in errors, what="error 321")
    assert texts == [
        "Error validating request.-'bK' : cause - Historical data bar size setting is "
        "invalid. Legal ones are: 1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, "
        "3 mins, 5 mins, 10 mins, 15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, "
        "4 hours, 8 hours, 1 day, 1W, 1M"
    ]


async def test_one_second_bars_aggregate_to_the_five_second_bars(ib: Any, sim: Any) -> None:
    es = await front_future(ib)
    sim.control.pause_market()
    await ib.reqCurrentTimeAsync()
    ones = await history(ib, es, "", "600 S", "1 secs", "TRADES", False, 2)
    fives = await history(ib, es, "", "600 S", "5 secs", "TRADES", False, 2)
    compared = 0
    for five in fives[:-1]:
        inside = within(ones, epoch(five), 5)
        if len(inside) == 5:
            assert_aggregates(five, inside)
            compared += 1
    assert compared >= 100


# ---- days, weeks, months ----------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["ES", "AAPL", "EUR"])
async def test_daily_bars_are_trading_days_only(ib: Any, symbol: str) -> None:
    contract = await _contract(ib, symbol)
    bars = await history(ib, contract, "", "3 M", "1 day", "MIDPOINT", False, 1)
    assert bars and all(b.date.weekday() < 5 for b in bars)
    assert bars[-1].date == last_weekday(dt.datetime.now(UTC).date())


async def test_weekly_bars_are_trading_weeks_dated_on_their_last_trading_day(ib: Any) -> None:
    """Before: weeks started on Thursdays (aligned to the Unix epoch)."""
    es = await front_future(ib)
    weeks = await history(ib, es, "", "6 M", "1 week", "TRADES", False, 1)
    days = await history(ib, es, "", "6 M", "1 day", "TRADES", False, 1)
    assert len(weeks) >= 24
    for week in weeks[1:-1]:
        assert week.date.weekday() == 4, week  # a whole week ends on its Friday
        monday = week.date - dt.timedelta(days=4)
        inside = [d for d in days if monday <= d.date <= week.date]
        assert len(inside) == 5
        assert_aggregates(week, inside)
    assert weeks[-1].date == days[-1].date  # the week in progress: its latest day


async def test_monthly_bars_are_calendar_months_dated_on_their_last_trading_day(
    ib: Any,
) -> None:
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    months = await history(ib, aapl, "", "2 Y", "1 month", "TRADES", True, 1)
    days = await history(ib, aapl, "", "2 Y", "1 day", "TRADES", True, 1)
    assert len(months) >= 23
    for month in months[1:-1]:
        inside = [
            d for d in days if (d.date.year, d.date.month) == (month.date.year, month.date.month)
        ]
        assert month.date == inside[-1].date
        assert_aggregates(month, inside)


# ---- volume -------------------------------------------------------------------------------------


async def _contract(ib: Any, symbol: str) -> Any:
    if symbol == "EUR":
        [fx] = await shim.qualify(ib, shim.Forex("EURUSD"))
        return fx
    if symbol in ("AAPL", "SPY", "MSFT"):
        [stock] = await shim.qualify(ib, shim.Stock(symbol, "SMART", "USD"))
        return stock
    return await front_future(ib, symbol)


async def _daily_volume(ib: Any, symbol: str) -> float:
    bars = await history(ib, await _contract(ib, symbol), "", "3 M", "1 day", "TRADES", False, 1)
    return statistics.median(b.volume for b in bars[:-1])


async def test_each_instrument_trades_its_own_volume(ib: Any) -> None:
    """Before: every instrument had the same volume series, of a few hundred thousand."""
    es, mes, aapl, msft = [await _daily_volume(ib, s) for s in ("ES", "MES", "AAPL", "MSFT")]
    assert 500_000 < es < 5_000_000
    assert 10_000_000 < aapl < 200_000_000
    assert len({round(es, -3), round(mes, -3), round(aapl, -3), round(msft, -3)}) == 4


def _hourly_by_clock(bars: list[Any], zone: ZoneInfo) -> dict[int, list[float]]:
    """Bar volumes by local start time, over past weekdays (not today: the live market
    trades around the clock and would blur the profile)."""
    out: dict[int, list[float]] = {}
    cutoff = dt.datetime.now(UTC).timestamp() - 86400
    for b in bars:
        if epoch(b) >= cutoff:
            continue
        local = dt.datetime.fromtimestamp(epoch(b), zone)
        if local.weekday() < 5:
            out.setdefault(local.hour * 60 + local.minute, []).append(b.volume)
    return out


async def test_a_stock_trades_most_at_the_open_and_the_close(ib: Any) -> None:
    aapl = await _contract(ib, "AAPL")
    bars = await history(ib, aapl, "", "1 M", "30 mins", "TRADES", False, 2)
    by = {k: statistics.mean(v) for k, v in _hourly_by_clock(bars, EASTERN).items()}
    opening, midday, closing, night = (
        by[9 * 60 + 30],
        by[12 * 60 + 30],
        by[15 * 60 + 30],
        by[22 * 60],
    )
    assert opening > 2 * midday and closing > 2 * midday
    assert night == 0  # after the evening session: closed
    assert by[7 * 60] < midday / 4  # pre-market: thin


async def test_a_future_lulls_overnight(ib: Any) -> None:
    es = await _contract(ib, "ES")
    bars = await history(ib, es, "", "1 M", "1 hour", "TRADES", False, 2)
    by = {k: statistics.mean(v) for k, v in _hourly_by_clock(bars, CENTRAL).items()}
    assert by[10 * 60] > 3 * by[2 * 60]  # regular hours against the small hours
    assert by[2 * 60] > 0
