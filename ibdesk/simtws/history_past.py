"""The synthetic past of a price family: bars fixed by the seed, from decades of daily bars
to the last two days in 5-second bars, all bridged so that every bar size agrees.

Columns of bars are numpy arrays (:class:`Bars`); :func:`resample` aggregates them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ibdesk.simtws.market import FAMILY_DAILY_VOL

F64 = npt.NDArray[np.float64]

FIVE_SEC_DAYS = 2
MINUTE_DAYS = 30
DAILY_YEARS = 5
TAPE = 5


@dataclass(slots=True)
class Bars:
    """Columns of OHLCV bars; ``time`` is each bar's start in epoch seconds."""

    time: F64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    count: F64

    @classmethod
    def empty(cls) -> Bars:
        """No bars."""
        z = np.zeros(0)
        return cls(z, z, z, z, z, z, z)

    def __len__(self) -> int:
        return len(self.time)

    def columns(self) -> tuple[F64, ...]:
        """The seven columns, in constructor order."""
        return (self.time, self.open, self.high, self.low, self.close, self.volume, self.count)

    def select(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Bars:
        """The rows picked by a boolean mask or index array."""
        c = [col[index] for col in self.columns()]
        return Bars(c[0], c[1], c[2], c[3], c[4], c[5], c[6])

    def with_prices(self, fn: Callable[[F64], F64]) -> Bars:
        """The same bars with ``fn`` applied to open, high, low and close."""
        return Bars(
            self.time,
            fn(self.open),
            fn(self.high),
            fn(self.low),
            fn(self.close),
            self.volume,
            self.count,
        )

    def concat(self, other: Bars) -> Bars:
        """These bars followed by ``other``'s."""
        c = [np.concatenate([a, b]) for a, b in zip(self.columns(), other.columns(), strict=True)]
        return Bars(c[0], c[1], c[2], c[3], c[4], c[5], c[6])

    def window(self, start: float, end: float) -> Bars:
        """Bars starting in ``[start, end)``."""
        return self.select((self.time >= start) & (self.time < end))


def resample(b: Bars, seconds: int, label_first: bool = False) -> Bars:
    """Aggregate bars into buckets of ``seconds``: open first, high max, low min, close last.

    Each bucket is labelled with its start, or with ``label_first`` the start of its first
    bar (a regular-hours bar that begins at 09:30 inside the 09:00 hour is dated 09:30).
    """
    if not len(b):
        return b
    bucket = np.floor(b.time / seconds) * seconds
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    return Bars(
        b.time[starts] if label_first else bucket[starts],
        b.open[starts],
        np.maximum.reduceat(b.high, starts),
        np.minimum.reduceat(b.low, starts),
        b.close[ends],
        np.add.reduceat(b.volume, starts),
        np.add.reduceat(b.count, starts),
    )


def split_seconds(b: Bars) -> Bars:
    """Five 1-second bars for every 5-second bar, adding up to it exactly.

    Each 5-second bar becomes a path of six points: its open, four inner points and its
    close; two inner points are its high and low (in an order fixed by the bar's time), the
    others repeat the open or the close, so every price stays on the tick grid. Volume and
    count are split in five whole parts, the remainder in the last second.
    """
    n = len(b)
    if not n:
        return b
    index = b.time / 5
    high_at = np.minimum(3, np.floor(noise(index, 11.0) * 4)).astype(np.int64)
    low_at = (high_at + 1 + np.minimum(2, np.floor(noise(index, 12.0) * 3)).astype(np.int64)) % 4
    inner = np.concatenate([np.repeat(b.open[:, None], 2, 1), np.repeat(b.close[:, None], 2, 1)], 1)
    rows = np.arange(n)
    inner[rows, high_at] = b.high
    inner[rows, low_at] = b.low
    path = np.concatenate([b.open[:, None], inner, b.close[:, None]], axis=1)
    opens, closes = path[:, :5], path[:, 1:]

    def parts(total: F64) -> F64:
        each = np.floor(total / 5)
        out = np.repeat(each[:, None], 5, axis=1)
        out[:, 4] += total - 5 * each
        return np.asarray(out.ravel(), dtype=np.float64)

    return Bars(
        (b.time[:, None] + np.arange(5.0)[None, :]).ravel(),
        opens.ravel(),
        np.maximum(opens, closes).ravel(),
        np.minimum(opens, closes).ravel(),
        closes.ravel(),
        parts(b.volume),
        parts(b.count),
    )


def group_by_calendar(days: Bars, by_month: bool) -> Bars:
    """Daily bars grouped by trading week (Monday to Sunday) or calendar month, each group
    dated by its last day, as IB dates weekly and monthly bars."""
    if not len(days):
        return days
    day_index = (days.time // 86400).astype(np.int64)
    if by_month:
        moments = days.time.astype("datetime64[s]")
        keys = moments.astype("datetime64[M]").astype(np.int64)
    else:
        keys = (day_index + 3) // 7  # 1970-01-01 was a Thursday: +3 makes weeks start Monday
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    return Bars(
        days.time[ends],
        days.open[starts],
        np.maximum.reduceat(days.high, starts),
        np.minimum.reduceat(days.low, starts),
        days.close[ends],
        np.add.reduceat(days.volume, starts),
        np.add.reduceat(days.count, starts),
    )


def noise(index: F64, salt: float) -> F64:
    """Deterministic pseudo-random numbers in [0, 1) from bar indices (vectorised)."""
    x = np.sin(index * 12.9898 + salt * 78.233) * 43758.5453
    return np.asarray(x - np.floor(x), dtype=np.float64)


@dataclass(slots=True)
class FamilyPast:
    """The synthetic past of one family as base bars at 1 day, 1 minute and 5 seconds."""

    daily: Bars
    minute: Bars
    five: Bars


def _bridge(rng: np.random.Generator, left: F64, right: F64, n: int, sigma: float) -> F64:
    """Log-prices of ``n`` steps bridged between each ``left[i]`` and ``right[i]``.

    Returns shape (len(left), n) where the last column equals ``right``.
    """
    steps = rng.normal(0.0, sigma, size=(len(left), n))
    walk = np.cumsum(steps, axis=1)
    frac = np.arange(1, n + 1) / n
    return np.asarray(
        left[:, None] + walk - frac * walk[:, -1:] + frac * (right - left)[:, None],
        dtype=np.float64,
    )


def _bars_from_points(
    t0: F64, logp: F64, open_log: F64, seconds: int, tick: float, vol: float, salt: float
) -> Bars:
    """Base bars whose closes are ``logp`` (flattened) and opens the previous close."""
    closes = np.exp(logp.ravel())
    opens = np.exp(np.concatenate([open_log[:, None], logp[:, :-1]], axis=1).ravel())
    times = (t0[:, None] + np.arange(logp.shape[1]) * seconds).ravel()
    idx = times / seconds
    wiggle = closes * vol * math.sqrt(seconds / 86400) * 0.5
    highs = np.maximum(opens, closes) + wiggle * noise(idx, salt)
    lows = np.minimum(opens, closes) - wiggle * noise(idx, salt + 1)
    # Never below one tick: decades of a random walk may wander close to zero.
    grid = [np.maximum(np.round(x / tick) * tick, tick) for x in (opens, highs, lows, closes)]
    volume = np.round(seconds * (0.5 + noise(idx, salt + 2)) * 2)
    count = np.maximum(1, np.round(volume / 3))
    return Bars(
        times.astype(np.float64),
        grid[0],
        grid[1],
        grid[2],
        grid[3],
        volume.astype(np.float64),
        count.astype(np.float64),
    )


def synthesize_past(
    name: str,
    start_price: float,
    tick: float,
    end: float,
    seed: int,
    since: float | None = None,
    drift: float = 0.0,
) -> FamilyPast:
    """The fixed synthetic past of one family, ending at ``start_price`` at ``end``.

    Daily bars go back ``DAILY_YEARS``, or to ``since`` if that is earlier (a stock listed in
    1980 has history since then). ``drift`` is a daily log return the walk rises by on
    average, so that decades back an index or a stock stood lower, as they did.

    Minute bars cover whole minutes; ``end`` may fall inside a minute (the simulator starts
    at any second), and the seconds between the last whole minute and ``end`` exist as
    5-second bars and one partial minute bar, so that history has no hole before the tape.
    Within the 5-second window the minute bars are aggregated from the 5-second bars, so
    every bar size agrees on open, high, low and close.
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFF, sum(map(ord, name))])
    vol = FAMILY_DAILY_VOL.get(name, 0.015)
    minute_end = math.floor(end / 60) * 60
    ndays = DAILY_YEARS * 365
    if since is not None:
        ndays = max(ndays, math.ceil((end - since) / 86400) + 2)
    last_midnight = math.ceil(minute_end / 86400) * 86400 - 86400
    marks = last_midnight - 86400.0 * np.arange(ndays - 1, -1, -1)
    anchor_t = np.concatenate([marks, [minute_end]])
    rets = rng.normal(0.0, vol, size=ndays)
    days_back = np.concatenate([np.arange(ndays, 0, -1), [0]])
    anchor_lp = (
        math.log(start_price)
        - np.concatenate([np.cumsum(rets[::-1])[::-1], [0.0]])
        - drift * days_back
    )
    anchor_t = np.asarray(anchor_t, dtype=np.float64)
    daily = _bars_from_points(
        anchor_t[:-1], anchor_lp[1:, None], anchor_lp[:-1], 86400, tick, vol, 1.0
    )
    # Minutes bridged from the anchor MINUTE_DAYS midnights back to the last whole minute.
    m_t0 = marks[-MINUTE_DAYS]
    m_left = anchor_lp[-MINUTE_DAYS - 1]
    n_min = int((minute_end - m_t0) // 60)
    minute_lp = _bridge(
        rng, np.array([m_left]), np.array([anchor_lp[-1]]), n_min, vol / math.sqrt(1440)
    ).ravel()
    minute = _bars_from_points(
        np.array([m_t0]), minute_lp[None, :], np.array([m_left]), 60, tick, vol, 2.0
    )
    # Five-second prices bridged inside each minute of the last FIVE_SEC_DAYS days.
    five_sigma = vol / math.sqrt(17280)
    k = min(FIVE_SEC_DAYS * 1440, n_min - 1)
    right = minute_lp[-k:]
    left = minute_lp[-k - 1 : -1]
    five_lp = _bridge(rng, left, right, 12, five_sigma)
    five_t0 = np.asarray(minute_end - np.arange(k, 0, -1) * 60.0, dtype=np.float64)
    five = _bars_from_points(five_t0, five_lp, left, 5, tick, vol, 3.0)
    # The partial minute up to ``end``: a walk that comes back to the start price.
    tail = int((end - minute_end) // 5)
    if tail:
        here = np.array([math.log(start_price)])
        tail_lp = _bridge(rng, here, here, tail, five_sigma)
        five = five.concat(
            _bars_from_points(np.array([minute_end]), tail_lp, here, 5, tick, vol, 3.0)
        )
    minute = minute.window(0, five.time[0]).concat(resample(five, 60))
    return FamilyPast(daily, minute, five)
