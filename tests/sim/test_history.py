"""Historical data end to end: bar sizes, what-to-show, consistency, live joins, pacing, RTH.

The simulated market trades around the clock (its trading hours are published in the
contract details, but the price process never stops), so a window of ``N`` seconds holds
``N / bar`` bars, plus the one its start falls in. Regular trading hours are those the
exchanges publish: ES 08:30-15:00 Central, US stocks 09:30-16:00 Eastern, weekdays.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import front_future, wait_until

pytestmark = pytest.mark.sim

UTC = dt.UTC
CENTRAL, EASTERN = ZoneInfo("US/Central"), ZoneInfo("US/Eastern")


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    """The default fast simulator, with a test's overrides (``indirect`` parameters)."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return quick_sim(**overrides)


def on_grid(price: float, tick: float) -> bool:
    """Whether ``price`` is a whole number of ticks (to within float noise)."""
    return abs(price / tick - round(price / tick)) < 1e-6


def epoch(bar: Any) -> float:
    """A bar's start in epoch seconds (daily bars: their date's UTC midnight)."""
    d = bar.date
    if isinstance(d, dt.datetime):
        return d.timestamp()
    return dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def assert_sane(bars: list[Any], tick: float) -> None:
    """Ordered, OHLC-consistent bars on the tick grid."""
    assert bars, "no bars"
    starts = [epoch(b) for b in bars]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "bars out of order"
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high, b
        assert all(on_grid(p, tick) for p in (b.open, b.high, b.low, b.close)), b
        assert b.volume >= 0 and b.barCount >= 0


def within(bars: list[Any], start: float, seconds: int) -> list[Any]:
    """The bars that start in ``[start, start + seconds)``."""
    return [b for b in bars if start <= epoch(b) < start + seconds]


def assert_aggregates(big: Any, small: list[Any], check_volume: bool = True) -> None:
    """``big`` is exactly the aggregation of the smaller bars it spans."""
    assert small, f"no smaller bars inside {big}"
    assert big.open == small[0].open, (big, small[0])
    assert big.close == small[-1].close, (big, small[-1])
    assert big.high == max(b.high for b in small), big
    assert big.low == min(b.low for b in small), big
    if check_volume:
        assert big.volume == sum(b.volume for b in small), big


async def history(ib: Any, contract: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """reqHistoricalDataAsync as a plain list."""
    return list(await ib.reqHistoricalDataAsync(contract, *args, **kwargs))


def error_log(ib: Any) -> list[tuple[int, int]]:
    """(reqId, code) of every error the client reports from now on."""
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    return errors


# ---- bar sizes, what-to-show, date formats -----------------------------------------------------

CASES = [
    # barSize, duration, whatToShow, formatDate, seconds per bar, bars in the duration, tick
    ("5 secs", "600 S", "TRADES", 1, 5, 120, 0.25),
    ("5 secs", "600 S", "MIDPOINT", 2, 5, 120, 0.125),
    ("1 min", "7200 S", "BID", 1, 60, 120, 0.25),
    ("1 min", "7200 S", "ASK", 2, 60, 120, 0.25),
    ("1 hour", "2 D", "TRADES", 2, 3600, 48, 0.25),
    ("1 day", "30 D", "MIDPOINT", 1, 86400, 30, 0.125),
    ("1 day", "30 D", "TRADES", 2, 86400, 30, 0.25),
]


@pytest.mark.parametrize(
    ("bar_size", "duration", "what", "fmt", "seconds", "expected", "tick"), CASES
)
async def test_bars_fill_the_duration_in_order_and_on_the_grid(
    ib: Any,
    bar_size: str,
    duration: str,
    what: str,
    fmt: int,
    seconds: int,
    expected: int,
    tick: float,
) -> None:
    es = await front_future(ib)
    bars = await history(ib, es, "", duration, bar_size, what, False, fmt)
    assert_sane(bars, tick)
    starts = [epoch(b) for b in bars]
    now = dt.datetime.now(UTC).timestamp()
    if seconds >= 86400:
        # Daily bars are trading days: the weekend is a gap of three days, not two bars.
        today = dt.datetime.now(UTC).date()
        # The day the window starts in counts too, as the forming bar does for intraday.
        weekdays = [today - dt.timedelta(days=n) for n in range(expected + 1)]
        assert len(bars) == sum(d.weekday() < 5 for d in weekdays), len(bars)
        assert {b - a for a, b in itertools.pairwise(starts)} <= {seconds, 3 * seconds}
        assert bars[-1].date == max(d for d in weekdays if d.weekday() < 5)
        assert all(type(b.date) is dt.date for b in bars), "daily bars are dated, not timed"
        return
    assert expected <= len(bars) <= expected + 1, len(bars)
    assert {b - a for a, b in itertools.pairwise(starts)} == {seconds}, "gaps"
    assert starts[-1] <= now < starts[-1] + seconds + 2, "the last bar is the forming one"
    if fmt == 1:
        assert {str(b.date.tzinfo) for b in bars} == {"US/Central"}, "exchange time zone"
    else:
        assert {b.date.utcoffset() for b in bars} == {dt.timedelta(0)}, "epoch seconds"


async def test_format_date_1_and_2_name_the_same_instants(ib: Any) -> None:
    es = await front_future(ib)
    end = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=3)
    local = await history(ib, es, end, "1800 S", "1 min", "TRADES", False, 1)
    epochs = await history(ib, es, end, "1800 S", "1 min", "TRADES", False, 2)
    assert len(local) == len(epochs) == 30
    assert [b.date for b in local] == [b.date for b in epochs]  # aware datetimes compare
    assert [(b.open, b.close) for b in local] == [(b.open, b.close) for b in epochs]
    assert epoch(epochs[-1]) == end.timestamp() - 60, "the end is exclusive"


async def test_bid_ask_and_midpoint_bars_agree(ib: Any) -> None:
    es = await front_future(ib)
    end = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    bid, ask, mid = [
        await history(ib, es, end, "3600 S", "1 min", what, False, 2)
        for what in ("BID", "ASK", "MIDPOINT")
    ]
    assert len(bid) == len(ask) == len(mid) == 60
    for b, a, m in zip(bid, ask, mid, strict=True):
        assert b.date == a.date == m.date
        for side in ("open", "high", "low", "close"):
            assert getattr(a, side) > getattr(b, side), (a, b)
        # At one instant the midpoint is exactly halfway between bid and ask.
        assert m.open == (a.open + b.open) / 2 and m.close == (a.close + b.close) / 2


# ---- consistency with each other and with the live market ---------------------------------------


async def test_every_bar_size_aggregates_the_same_prices(ib: Any, sim: SimThread) -> None:
    es = await front_future(ib)
    # Frozen, so that the three requests see the same live bars up to now.
    sim.control.pause_market()
    await ib.reqCurrentTimeAsync()
    hours = await history(ib, es, "", "3 D", "1 hour", "TRADES", False, 2)
    minutes = await history(ib, es, "", "10800 S", "1 min", "TRADES", False, 2)
    fives = await history(ib, es, "", "3600 S", "5 secs", "TRADES", False, 2)
    assert_sane(hours, 0.25)
    assert_sane(minutes, 0.25)
    assert_sane(fives, 0.25)
    compared = 0
    for hour in hours:
        inside = within(minutes, epoch(hour), 3600)
        if inside and epoch(inside[0]) == epoch(hour):  # only hours the minutes fully cover
            assert_aggregates(hour, inside)
            compared += 1
    assert compared >= 2, "the forming hour and at least one whole hour"
    for minute in minutes:
        inside = within(fives, epoch(minute), 60)
        if inside and epoch(inside[0]) == epoch(minute):
            assert_aggregates(minute, inside)
            compared += 1
    assert compared >= 50, "every minute of the last hour, the live one included"


async def test_last_bar_joins_the_live_price(ib: Any, sim: SimThread) -> None:
    es = await front_future(ib)
    ticker = ib.reqMktData(es)
    await wait_until(lambda: ticker.last > 0 and ticker.bid > 0, what="a live quote")
    sim.control.pause_market()
    await ib.reqCurrentTimeAsync()  # the last ticks before the pause have arrived
    trades = await history(ib, es, "", "60 S", "5 secs", "TRADES", False, 2)
    mids = await history(ib, es, "", "600 S", "1 min", "MIDPOINT", False, 2)
    # The last trade bar closes on the last trade, or on the book where nothing traded.
    assert abs(trades[-1].close - ticker.last) <= 2 * 0.25, (trades[-1], ticker.last)
    assert mids[-1].close == (ticker.bid + ticker.ask) / 2


async def test_keep_up_to_date_updates_the_forming_bar_and_rolls_to_a_new_one(ib: Any) -> None:
    es = await front_future(ib)
    bars = await ib.reqHistoricalDataAsync(es, "", "60 S", "5 secs", "TRADES", False, 2, True)
    first_last = epoch(bars[-1])
    updates: list[tuple[bool, float]] = []
    bars.updateEvent += lambda b, new: updates.append((new, epoch(b[-1])))
    # Updates come about once a second, and a new 5-second bucket starts within 5 s.
    await wait_until(
        lambda: (
            any(new and t > first_last for new, t in updates) and any(not new for new, _ in updates)
        ),
        timeout=8,
        what="an update of the forming bar and a new bar",
    )
    assert_sane(list(bars), 0.25)
    starts = [epoch(b) for b in bars]
    assert {b - a for a, b in itertools.pairwise(starts)} == {5}, "no bar skipped"
    ib.cancelHistoricalData(bars)


async def test_real_time_bars_are_the_5_second_bars_of_history(ib: Any) -> None:
    es = await front_future(ib)
    live = ib.reqRealTimeBars(es, 5, "TRADES", False)
    await wait_until(lambda: len(live) >= 1, timeout=8, what="a real-time bar")
    bar = live[0]
    start = bar.time.timestamp()
    assert start % 5 == 0 and 0 < dt.datetime.now(UTC).timestamp() - start < 15
    assert bar.low <= min(bar.open_, bar.close) <= max(bar.open_, bar.close) <= bar.high
    assert all(on_grid(p, 0.25) for p in (bar.open_, bar.high, bar.low, bar.close))
    [same] = within(await history(ib, es, "", "30 S", "5 secs", "TRADES", False, 2), start, 5)
    assert (same.open, same.high, same.low, same.close) == (
        bar.open_,
        bar.high,
        bar.low,
        bar.close,
    )
    ib.cancelRealTimeBars(live)


async def test_head_timestamp_is_where_history_begins(ib: Any) -> None:
    errors = error_log(ib)
    es = await front_future(ib)
    head = await ib.reqHeadTimeStampAsync(es, "TRADES", False, 1)
    head_epoch = await ib.reqHeadTimeStampAsync(es, "TRADES", False, 2)
    assert isinstance(head, dt.datetime) and head.tzinfo is not None
    assert head == head_epoch, "both date formats name one instant"
    # A quarterly future is listed some 15 months before it expires, the front one < 3 away.
    assert dt.datetime.now(UTC) - head > dt.timedelta(days=300)
    after = await history(ib, es, head + dt.timedelta(days=10), "10 D", "1 day", "TRADES", False, 1)
    assert after and epoch(after[0]) >= head.timestamp()
    # Before the head there is nothing: HMDS says so with 162, as IB's does.
    before = await history(ib, es, head - dt.timedelta(days=5), "3 D", "1 day", "TRADES", False, 1)
    assert before == []
    assert any(code == 162 for _, code in errors)


# ---- pacing and bad requests ------------------------------------------------------------------


async def test_identical_small_bar_request_within_15_seconds_is_pacing_error_162(ib: Any) -> None:
    errors = error_log(ib)
    es = await front_future(ib)
    first = await history(ib, es, "", "300 S", "5 secs", "TRADES", False, 2)
    assert len(first) >= 60
    again = await history(ib, es, "", "300 S", "5 secs", "TRADES", False, 2)
    assert again == []
    assert [code for _, code in errors if code == 162] == [162]
    # Larger bars are not paced this way.
    assert await history(ib, es, "", "3600 S", "1 min", "TRADES", False, 2)
    assert await history(ib, es, "", "3600 S", "1 min", "TRADES", False, 2)


async def test_seven_small_bar_requests_for_one_contract_in_two_seconds_is_error_162(
    ib: Any,
) -> None:
    errors = error_log(ib)
    es = await front_future(ib)
    answers = [
        await history(ib, es, "", f"{60 + 5 * i} S", "5 secs", "MIDPOINT", False, 2)
        for i in range(7)
    ]
    assert all(answers[:6]) and answers[6] == []
    assert [code for _, code in errors if code == 162] == [162]


@pytest.mark.parametrize("sim_config", [{"pacing": False}], indirect=True)
async def test_pacing_can_be_switched_off(ib: Any) -> None:
    errors = error_log(ib)
    es = await front_future(ib)
    first = await history(ib, es, "", "300 S", "5 secs", "TRADES", False, 2)
    again = await history(ib, es, "", "300 S", "5 secs", "TRADES", False, 2)
    assert len(again) >= len(first) >= 60
    assert not [e for e in errors if e[1] == 162]


@pytest.mark.parametrize(
    ("bar_size", "duration", "what"),
    [("7 secs", "60 S", "TRADES"), ("1 min", "60 X", "TRADES"), ("1 min", "1 D", "VOLUME")],
)
async def test_invalid_request_is_error_321_and_the_server_carries_on(
    ib: Any, bar_size: str, duration: str, what: str
) -> None:
    errors = error_log(ib)
    es = await front_future(ib)
    # Sent through the client directly: ib_async counts 321 as a warning and would wait out
    # its timeout; what matters here is the server's answer.
    req_id = ib.client.getReqId()
    ib.client.reqHistoricalData(req_id, es, "", duration, bar_size, what, 0, 1, False, [])
    await wait_until(lambda: (req_id, 321) in errors, what="error 321")
    assert await history(ib, es, "", "3600 S", "1 min", "TRADES", False, 2)
    assert [rid for rid, code in errors if code >= 300 and code < 2100] == [req_id]


# ---- regular trading hours -------------------------------------------------------------------


def latest_sessions(zone: ZoneInfo, opens: dt.time, count: int) -> list[dt.date]:
    """The last ``count`` weekdays whose regular session has opened by now, oldest first."""
    now = dt.datetime.now(zone)
    day = now.date()
    out: list[dt.date] = []
    while len(out) < count:
        if day.weekday() < 5 and dt.datetime.combine(day, opens, zone) <= now:
            out.append(day)
        day -= dt.timedelta(days=1)
    return out[::-1]


@pytest.mark.parametrize("days", [1, 2])
async def test_use_rth_returns_the_last_sessions_inside_liquid_hours(
    ib: Any, sim: SimThread, days: int
) -> None:
    es = await front_future(ib)
    sim.control.pause_market()
    bars = await history(ib, es, "", f"{days} D", "1 min", "TRADES", True, 2)
    assert_sane(bars, 0.25)
    local = [b.date.astimezone(CENTRAL) for b in bars]
    for t in local:
        assert t.weekday() < 5 and dt.time(8, 30) <= t.time() < dt.time(15, 0), t
    sessions = sorted({t.date() for t in local})
    # "N D" with regular hours only is N trading sessions, even over a weekend.
    assert sessions == latest_sessions(CENTRAL, dt.time(8, 30), days)
    for day in sessions[:-1]:
        assert sum(t.date() == day for t in local) == 390, "a whole session is 6.5 hours"
    everything = await history(ib, es, "", f"{days} D", "1 min", "TRADES", False, 2)
    assert len(everything) > len(bars), "without useRTH the night is there too"


async def test_use_rth_hourly_bars_start_at_the_open_and_hold_only_regular_hours(
    ib: Any, sim: SimThread
) -> None:
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    sim.control.pause_market()
    hours = await history(ib, aapl, "", "3 D", "1 hour", "TRADES", True, 2)
    minutes = await history(ib, aapl, "", "3 D", "1 min", "TRADES", True, 2)
    assert_sane(hours, 0.01)
    by_day: dict[dt.date, list[dt.time]] = {}
    for h in hours:
        t = h.date.astimezone(EASTERN)
        by_day.setdefault(t.date(), []).append(t.time())
    assert len(by_day) == 3
    for day, times in list(by_day.items())[:-1]:
        # 09:30 (half an hour), 10:00 ... 15:00: the first bar is dated at the open.
        assert times == [dt.time(9, 30)] + [dt.time(h) for h in range(10, 16)], day
    for h in hours:
        span = 3600 - (epoch(h) % 3600)  # the 09:30 bar ends at 10:00
        inside = within(minutes, epoch(h), int(span))
        assert_aggregates(h, inside), "an hourly bar holds exactly its regular minutes"
