"""Historical bars consistent with the live market.

Before the simulator started, each family's past is synthetic but fixed by the seed: a
log-normal walk of daily closes going back from the starting price, minute prices bridged
between them for the last 30 days, and 5-second prices bridged between those for the last
2 days. Every bar size is aggregated from those same prices, so a 1-hour bar closes where its
last 1-minute bar does. Since the start, the *tape* records what the live market really did
in 5-second bars, so the last historical bar joins the live price.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.market import FAMILY_DAILY_VOL, Market
from ibdesk.simtws.throttle import show

F64 = npt.NDArray[np.float64]

BAR_SECONDS = {
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1 week": 604800,
}
DURATION_UNITS = {"S": 1, "D": 86400, "W": 604800, "M": 30 * 86400, "Y": 365 * 86400}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")
FIVE_SEC_DAYS = 2
MINUTE_DAYS = 30
DAILY_YEARS = 5
TAPE = 5
#: Families whose synthetic past has no upward drift (commodities and currencies).
FLAT_FAMILIES = frozenset({"WTI", "GOLD", "EURUSD"})
#: Daily log drift of equity families' synthetic past (about 8 % a year).
EQUITY_DRIFT = 0.08 / 365
#: Longest duration a request may ask for (IB's own limit for daily bars is of this order).
MAX_DURATION = 30 * DURATION_UNITS["Y"]


class HistoryRequestError(ValueError):
    """A historical request TWS would refuse (bad bar size, duration or what-to-show)."""


def parse_bar_size(text: str) -> int:
    """Seconds in a bar size setting such as ``"5 mins"``."""
    seconds = BAR_SECONDS.get(" ".join(text.split()))
    if seconds is None:
        raise HistoryRequestError(f"Historical data bar size setting is invalid: {show(text)}")
    return seconds


def parse_duration(text: str) -> int:
    """Seconds in a duration string such as ``"2 D"`` or ``"3600 S"``."""
    parts = text.split()
    if (
        len(parts) != 2
        or parts[1] not in DURATION_UNITS
        or not (parts[0].isascii() and parts[0].isdigit())
    ):
        raise HistoryRequestError(f"Invalid duration format: {show(text)}")
    seconds = int(parts[0]) * DURATION_UNITS[parts[1]]
    if not 0 < seconds <= MAX_DURATION:
        raise HistoryRequestError(f"Duration {show(text)} must be more than 0 and at most 30 Y")
    return seconds


def parse_end(text: str, now: float) -> float:
    """End time of a request: ``""`` is now; IB's ``YYYYMMDD HH:MM:SS [tz]`` or ``-`` forms."""
    text = text.strip()
    if not text:
        return now
    body, _, tz = text.replace("-", " ", 1).partition(" ")
    rest = tz.split()
    clock = rest[0] if rest else "00:00:00"
    zone = rest[1] if len(rest) > 1 else "UTC"
    try:
        from zoneinfo import ZoneInfo

        stamp = dt.datetime.strptime(f"{body} {clock}", "%Y%m%d %H:%M:%S")
        return stamp.replace(tzinfo=ZoneInfo(zone)).timestamp()
    except (ValueError, KeyError, OSError) as exc:
        # OSError: with the tzdata package, ZoneInfo("America") names a directory.
        raise HistoryRequestError(f"Invalid end date/time: {show(text)}") from exc


def _liquid_windows(inst: Instrument, first: float, last: float) -> tuple[F64, F64]:
    """Opens and closes (epoch) of the regular sessions around ``[first, last]``."""
    first_day = dt.datetime.fromtimestamp(first, dt.UTC).date() - dt.timedelta(days=2)
    days = (dt.datetime.fromtimestamp(last, dt.UTC).date() - first_day).days + 3
    rows = [
        (o.timestamp(), c.timestamp())
        for _, o, c in inst.session.liquid_sessions(first_day, days)
        if o is not None and c is not None
    ]
    opens = np.array([r[0] for r in rows], dtype=np.float64)
    closes = np.array([r[1] for r in rows], dtype=np.float64)
    return opens, closes


def liquid_mask(inst: Instrument, times: F64, width: float = 0.0) -> npt.NDArray[np.bool_]:
    """Which bars ``[t, t + width)`` overlap the instrument's regular trading hours.

    With no width, whether each time lies inside them. Sessions never overlap, so the
    last one to open before a bar ends is the only one that can overlap it.
    """
    result = np.zeros(len(times), dtype=bool)
    if not len(times):
        return result
    opens, closes = _liquid_windows(inst, float(times[0]), float(times[-1]) + width)
    if width > 0:
        idx = np.searchsorted(opens, times + width, side="left") - 1
    else:
        idx = np.searchsorted(opens, times, side="right") - 1
    ok = idx >= 0
    result[ok] = closes[idx[ok]] > times[ok]
    return result


def liquid_start(inst: Instrument, end: float, sessions: int) -> float | None:
    """Where ``sessions`` regular sessions back from ``end`` begin (useRTH with ``"N D"``).

    IB counts a duration in days as trading days when only regular hours are wanted, so
    ``"1 D"`` on a Sunday is Friday's session, not an empty weekend. None if there is none.
    """
    # Weekends and holidays never outnumber trading days two to one, plus a margin.
    span = 2 * sessions + 10
    opens, _ = _liquid_windows(inst, end - span * 86400.0, end)
    opens = opens[opens < end]
    if not len(opens):
        return None
    return float(opens[-sessions] if len(opens) >= sessions else opens[0])


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


def _noise(index: F64, salt: float) -> F64:
    """Deterministic pseudo-random numbers in [0, 1) from bar indices (vectorised)."""
    x = np.sin(index * 12.9898 + salt * 78.233) * 43758.5453
    return np.asarray(x - np.floor(x), dtype=np.float64)


@dataclass(slots=True)
class _FamilyPast:
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
    highs = np.maximum(opens, closes) + wiggle * _noise(idx, salt)
    lows = np.minimum(opens, closes) - wiggle * _noise(idx, salt + 1)
    # Never below one tick: decades of a random walk may wander close to zero.
    grid = [np.maximum(np.round(x / tick) * tick, tick) for x in (opens, highs, lows, closes)]
    volume = np.round(seconds * (0.5 + _noise(idx, salt + 2)) * 2)
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
) -> _FamilyPast:
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
    return _FamilyPast(daily, minute, five)


@dataclass(slots=True)
class _TapeBucket:
    start: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    count: float = 0.0


@dataclass(slots=True)
class Tape:
    """What the live market did since the start, in 5-second bars per family and instrument.

    Family bars carry the family (bid) price; instrument bars carry that instrument's trades.
    """

    start: float
    family: dict[str, list[_TapeBucket]] = field(default_factory=dict)
    trades: dict[int, list[_TapeBucket]] = field(default_factory=dict)

    def record_family(self, name: str, price: float, now: float) -> None:
        """Note a family price at ``now``."""
        _touch(self.family.setdefault(name, []), price, now, 0.0)

    def record_trade(self, con_id: int, price: float, size: float, now: float) -> None:
        """Note a trade of an instrument."""
        _touch(self.trades.setdefault(con_id, []), price, now, size)

    def bars(self, name: str) -> list[_TapeBucket]:
        """The family's recorded 5-second bars."""
        return self.family.get(name, [])


def _touch(rows: list[_TapeBucket], price: float, now: float, size: float) -> None:
    start = math.floor(now / TAPE) * TAPE
    if rows and rows[-1].start == start:
        row = rows[-1]
        row.high = max(row.high, price)
        row.low = min(row.low, price)
        row.close = price
    else:
        row = _TapeBucket(start, price, price, price, price)
        rows.append(row)
    if size:
        row.volume += size
        row.count += 1


def _tape_bars(rows: list[_TapeBucket]) -> Bars:
    if not rows:
        return Bars.empty()
    cols = np.array(
        [(r.start, r.open, r.high, r.low, r.close, r.volume, r.count) for r in rows],
        dtype=np.float64,
    )
    return Bars(*(cols[:, i].copy() for i in range(7)))


@dataclass(slots=True)
class HistoryService:
    """Answers historical requests from the synthetic past and the tape."""

    market: Market
    tape: Tape
    seed: int
    _past: dict[str, _FamilyPast] = field(default_factory=dict)

    def past(self, family: str) -> _FamilyPast:
        """The family's synthetic past (built once, on first use)."""
        got = self._past.get(family)
        if got is None:
            fam = self.market.families[family]
            if not self.tape.bars(family):
                # Asked before the market's first step (or with it paused from the start):
                # the price now is the starting price, and the bar it opens is the forming one.
                self.tape.record_family(family, fam.price, self.tape.start)
            start_price = self.tape.bars(family)[0].open
            members = [i for i in self.market.catalog.instruments.values() if i.family == family]
            since = min((self.head_timestamp(i) for i in members), default=None)
            got = synthesize_past(
                family,
                start_price,
                fam.tick,
                self.synthetic_end,
                self.seed,
                since=since,
                drift=0.0 if family in FLAT_FAMILIES else EQUITY_DRIFT,
            )
            self._past[family] = got
        return got

    @property
    def synthetic_end(self) -> float:
        """The synthetic past ends where the tape's first 5-second bar starts."""
        return math.floor(self.tape.start / TAPE) * TAPE

    def bars(
        self,
        inst: Instrument,
        bar_seconds: int,
        start: float,
        end: float,
        what: str = "TRADES",
        liquid_only: bool = False,
    ) -> Bars:
        """Bars of ``bar_seconds`` for ``inst`` starting in ``[start, end)``.

        With ``liquid_only`` (useRTH) the base bars outside regular trading hours are dropped
        *before* aggregating, so no bar carries prices from outside them; an intraday bar
        that starts before the open is labelled with the open, as IB labels it.
        """
        past = self.past(inst.family)
        # Nothing before the instrument was listed (its head timestamp's day).
        first = max(float(math.floor(start / bar_seconds) * bar_seconds), listing_midnight(inst))
        if bar_seconds < 60:
            segments = [(past.five, TAPE)]
        elif bar_seconds < 86400:
            segments = [(past.minute, 60)]
        else:
            # Daily and weekly: synthetic days before the minute window, minutes within it.
            segments = [(past.daily.window(0, past.minute.time[0]), 86400), (past.minute, 60)]
        live = _tape_bars(self.tape.bars(inst.family))
        if what == "TRADES":
            live = self._with_trades(live, inst)
        cut = min(end, self.synthetic_end)
        pieces = [seg.window(first, cut) for seg, _ in segments] + [live.window(first, end)]
        widths = [width for _, width in segments] + [TAPE]
        merged = Bars.empty()
        for piece, width in zip(pieces, widths, strict=True):
            kept = piece.select(liquid_mask(inst, piece.time, width)) if liquid_only else piece
            merged = merged.concat(kept)
        out = resample(merged, bar_seconds, label_first=liquid_only and bar_seconds < 86400)
        return self._shift(out, inst, what)

    def _with_trades(self, family_bars: Bars, inst: Instrument) -> Bars:
        """Family bars, replaced by the instrument's own trades where it traded.

        Trade prices are moved back into family space (minus the basis) so that one shift
        at the end serves both; bars without trades get synthetic volume.
        """
        out = family_bars
        idx = out.time / TAPE
        out.volume = np.round(TAPE * (0.5 + _noise(idx, 7.0)) * 2)
        out.count = np.maximum(1, np.round(out.volume / 3))
        for row in self.tape.trades.get(inst.con_id, []):
            i = int(np.searchsorted(out.time, row.start))
            if i < len(out.time) and out.time[i] == row.start:
                out.open[i] = row.open - inst.basis
                out.high[i] = max(row.high - inst.basis, out.high[i])
                out.low[i] = min(row.low - inst.basis, out.low[i])
                out.close[i] = row.close - inst.basis
                out.volume[i] = row.volume
                out.count[i] = row.count
        return out

    @staticmethod
    def _shift(b: Bars, inst: Instrument, what: str) -> Bars:
        offset = inst.basis + {"ASK": inst.min_tick, "MIDPOINT": inst.min_tick / 2}.get(what, 0)
        if not offset:
            return b
        tick = inst.min_tick / (2 if what == "MIDPOINT" else 1)
        return b.with_prices(lambda x: np.round((x + offset) / tick) * tick)

    def head_timestamp(self, inst: Instrument, use_rth: bool = False) -> float:
        """The earliest time any bar exists for the instrument: the open of its listing day
        (stocks: the regular open, as IB reports them; futures and FX: the session open,
        or the regular open with ``use_rth``)."""
        day = listing_day(inst)
        liquid = use_rth or inst.sec_type == "STK"
        for _, opened, _ in (
            inst.session.liquid_sessions(day, 7) if liquid else inst.session.sessions(day, 7)
        ):
            if opened is not None:
                return opened.timestamp()
        return listing_midnight(inst)


def listing_day(inst: Instrument) -> dt.date:
    """The day an instrument was listed (five years ago if the catalog does not say)."""
    if inst.listed:
        return dt.datetime.strptime(inst.listed, "%Y%m%d").date()
    return dt.date.today() - dt.timedelta(days=DAILY_YEARS * 365)


def listing_midnight(inst: Instrument) -> float:
    """UTC midnight of the listing day: no bar of the instrument starts before it."""
    day = listing_day(inst)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
