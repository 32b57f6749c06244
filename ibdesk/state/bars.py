"""Bar series for charts: numpy columns, O(1) live updates, history joined without gaps.

A :class:`BarSeries` keeps the bars of one (instrument, timeframe) as six float64 rows
(time, open, high, low, close, volume) of one buffer with room at the end: appending a bar and
revising the forming bar are O(1) amortised, and a cap bounds memory by dropping the oldest
bars. It is a ring buffer that compacts instead of wrapping round, so every column stays one
contiguous numpy view that slicing and ``reduceat`` take as is.

Positions: ``index`` is where a bar is now (0 is the oldest kept bar); ``seq = first_seq +
index`` is where it is counted from a fixed origin. A bar keeps its seq when bars are
appended, when the cap drops the oldest and when older history is put in front, so a chart
that uses seq as its x coordinate does not move under a trader who scrolled back. Only bars
inserted *between* kept bars shift the seq of the bars after them, and the change reported
then starts at the insertion.

Joining history and the live stream: one bar per start time, and what arrives last wins.
IB's keepUpToDate stream revises the forming bar in place and then opens the next one, so the
newest data is always the best; a back-fill after a reconnect replaces the bars it overlaps
(the forming bar the stream left half-built included) and appends the rest, with no gap and
no doubled bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ibdesk import events
from ibdesk.domain.bars import Bar, Timeframe
from ibdesk.state.lod import Buckets, LodPyramid, aggregate

F64 = npt.NDArray[np.float64]
IDX = npt.NDArray[np.intp]

#: Bars kept per series unless told otherwise: a million 5-second bars is 58 days round the clock.
DEFAULT_CAP = 1_000_000
TIME, OPEN, HIGH, LOW, CLOSE, VOLUME = range(6)


class BarSeries:
    """The bars of one instrument in one timeframe, oldest first, one per start time.

    Column views (:attr:`times`, :attr:`opens` …) are read-only and valid until the next
    change.

    Args:
        timeframe: the bar size (extrapolates times past either end; says what a tick may
            fold into).
        cap: most bars kept; beyond it the oldest are dropped (their seqs are not reused).
    """

    def __init__(self, timeframe: Timeframe, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.timeframe = timeframe
        self.cap = cap
        self.first_seq = 0
        """ seq of the bar at index 0 """
        self.revision = 0
        """ bumped on every change, for consumers that poll """
        self._buf: F64 = np.empty((6, 0))
        self._start = 0
        self._end = 0
        self._lod: LodPyramid | None = None

    # ---- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._end - self._start

    def column(self, row: int) -> F64:
        """Row ``row`` (:data:`TIME` … :data:`VOLUME`) as a read-only view."""
        view = self._buf[row, self._start : self._end]
        view.flags.writeable = False
        return view

    @property
    def times(self) -> F64:
        """Start times, epoch seconds, strictly increasing."""
        return self.column(TIME)

    @property
    def opens(self) -> F64:
        """Opening prices."""
        return self.column(OPEN)

    @property
    def highs(self) -> F64:
        """Highest prices."""
        return self.column(HIGH)

    @property
    def lows(self) -> F64:
        """Lowest prices."""
        return self.column(LOW)

    @property
    def closes(self) -> F64:
        """Closing (or latest, for the forming bar) prices."""
        return self.column(CLOSE)

    @property
    def volumes(self) -> F64:
        """Volumes."""
        return self.column(VOLUME)

    @property
    def last_seq(self) -> int:
        """seq of the newest bar (``first_seq - 1`` when empty)."""
        return self.first_seq + len(self) - 1

    def bar(self, index: int) -> Bar:
        """The bar at ``index`` (negative counts from the newest) as a snapshot."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"bar index {index} out of range for {n} bars")
        col = self._buf[:, self._start + index % n]
        return Bar(*(float(x) for x in col))

    def last(self) -> Bar | None:
        """The newest bar, or None."""
        return self.bar(-1) if len(self) else None

    def index_at(self, time: float) -> int:
        """Index of the bar whose period holds ``time``: the last one starting at or before
        it (-1 if ``time`` is before the first bar)."""
        return int(np.searchsorted(self.times, time, side="right")) - 1

    def times_at(self, seqs: npt.ArrayLike) -> F64:
        """Start times of the bars at ``seqs`` (rounded to whole bars); past either end the
        times go on by one timeframe per bar, so an axis can label empty space."""
        n = len(self)
        x = np.rint(np.asarray(seqs, dtype=np.float64)) - self.first_seq
        if not n:
            return np.full(x.shape, np.nan)
        i = np.clip(x, 0, n - 1).astype(np.intp)
        return np.asarray(self.times[i] + (x - i) * self.timeframe.seconds, dtype=np.float64)

    def seq_at(self, time: float) -> float:
        """seq of the bar that holds ``time``; outside the series, extrapolated by one seq
        per timeframe (NaN when empty)."""
        n = len(self)
        if not n:
            return math.nan
        times, step = self.times, self.timeframe.seconds
        first, last = float(times[0]), float(times[-1])
        if time < first:
            return float(self.first_seq + math.floor((time - first) / step))
        if time >= last + step:
            return float(self.last_seq + math.floor((time - last) / step))
        return float(self.first_seq + self.index_at(time))

    def buckets(self, k: int, seq0: float, seq1: float) -> Buckets:
        """The bars of every bucket of ``k`` (a power of two) that seqs ``[seq0, seq1]``
        touch, merged; buckets align on multiples of ``k`` in seq, so that panning moves whole
        candles instead of reshuffling which bars share one.

        Cost O((seq1 - seq0) / k) once the series' merge pyramid is built (it is built on the
        first zoomed-out call and after history changes, O(len) then).
        """
        n = len(self)
        k = 1 << (max(k, 1) - 1).bit_length()  # a power of two: the pyramid's levels
        i0 = max(0, math.floor(seq0) - self.first_seq)
        i1 = min(n, math.floor(seq1) - self.first_seq + 1)
        if k <= 1 or i1 <= i0:
            return aggregate(self.ohlcv(i0, i1), self.first_seq + i0, 1)
        lod = self._lod
        if lod is None or not lod.fits(self.first_seq, n):
            lod = self._lod = LodPyramid(self.ohlcv(0, n), self.first_seq)
        return lod.buckets(k, self.first_seq + i0, self.first_seq + i1, self.ohlcv, self.first_seq)

    def ohlcv(self, i0: int, i1: int) -> F64:
        """Open, high, low, close and volume of bars ``[i0, i1)`` (clipped to the series: the
        buffer's spare room past the newest bar holds garbage) as one read-only 5-row view."""
        i0, i1 = max(0, i0), min(i1, len(self))
        view = self._buf[OPEN:, self._start + i0 : self._start + max(i0, i1)]
        view.flags.writeable = False
        return view

    # ---- the live path ---------------------------------------------------------------------

    def put(self, bar: Bar) -> int:
        """A bar from the stream: appended if newer than the newest, the forming bar revised
        if it starts at the same time, merged in otherwise. Returns the index changes start
        at."""
        n = len(self)
        row = (bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if n and bar.time == self._buf[TIME, self._end - 1]:
            self._buf[:, self._end - 1] = row
            return self._changed(n - 1, 0)
        if n and bar.time < self._buf[TIME, self._end - 1]:
            return self._merge(np.array(row, dtype=np.float64).reshape(6, 1))
        self._reserve(1)
        self._buf[:, self._end] = row
        self._end += 1
        return self._changed(n, self._trim())

    def touch(self, price: float, time: float) -> int | None:
        """Fold a trade at ``time`` into the forming bar (high, low, close; not volume, which
        the stream's next revision brings). Returns the bar's index, or None when the trade
        is outside the forming bar's period: the stream opens new bars, not ticks. Daily bars
        take no ticks: a trading day does not start at midnight."""
        n = len(self)
        if not n or not self.timeframe.intraday or math.isnan(price):
            return None
        col = self._end - 1
        start = self._buf[TIME, col]
        if not start <= time < start + self.timeframe.seconds:
            return None
        buf = self._buf
        buf[HIGH, col] = max(buf[HIGH, col], price)
        buf[LOW, col] = min(buf[LOW, col], price)
        buf[CLOSE, col] = price
        return self._changed(n - 1, 0)

    # ---- history ---------------------------------------------------------------------------

    def merge_bars(self, bars: Iterable[Bar]) -> int:
        """Join a batch of bars (any order); see :meth:`merge`."""
        rows = [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in bars]
        return self._merge(np.array(rows, dtype=np.float64).reshape(-1, 6).T)

    def merge(self, *columns: npt.ArrayLike) -> int:
        """Join six columns (time, open, high, low, close, volume) of a history batch.

        One bar per start time; a batch bar replaces a kept bar of the same start time (it
        is the newer word on that period), and within the batch the later row wins. Returns
        the index from which bars changed (``len(self)`` if none did).
        """
        if len(columns) != 6:
            raise ValueError("six columns: time, open, high, low, close, volume")
        cols = np.array([np.asarray(c, dtype=np.float64) for c in columns])
        if cols.ndim != 2:
            raise ValueError("the six columns must have one length")
        return self._merge(cols)

    def _merge(self, cols: F64) -> int:
        n = len(self)
        if not cols.shape[1]:
            return n
        if not (cols[TIME, 1:] > cols[TIME, :-1]).all():  # IB sends them sorted: skip the copy
            cols = cols[:, np.argsort(cols[TIME], kind="stable")]
            last_of_time = np.append(cols[TIME, 1:] != cols[TIME, :-1], True)
            cols = cols[:, last_of_time]
        times = self.times
        pos = np.searchsorted(times, cols[TIME], side="left")
        exists = pos < n
        exists[exists] = times[pos[exists]] == cols[TIME, exists]
        changed = int(pos[0])  # pos is sorted, as the times are
        if exists.any():
            self._buf[:, self._start + pos[exists]] = cols[:, exists]
            cols, pos = cols[:, ~exists], pos[~exists]
        if cols.shape[1] and pos[0] == n:
            self._append_block(cols)  # the usual case: history up to now
        elif cols.shape[1]:
            self._insert(cols, pos)
        return self._changed(changed, self._trim())

    def _append_block(self, new: F64) -> None:
        m = new.shape[1]
        self._reserve(m)
        self._buf[:, self._end : self._end + m] = new
        self._end += m

    def _insert(self, new: F64, pos: IDX) -> None:
        """Put bars ``new`` (sorted) before kept indexes ``pos``: O(n + m)."""
        n, m = len(self), new.shape[1]
        at = pos + np.arange(m)
        kept = np.ones(n + m, dtype=bool)
        kept[at] = False
        buf = np.empty((6, _capacity(n + m, self.cap)))
        buf[:, at] = new
        buf[:, : n + m][:, kept] = self._buf[:, self._start : self._end]
        self._buf, self._start, self._end = buf, 0, n + m
        # Bars put in front take seqs below the kept ones, which keep theirs.
        self.first_seq -= int(np.count_nonzero(pos == 0))

    # ---- storage ---------------------------------------------------------------------------

    def _changed(self, from_index: int, dropped: int) -> int:
        """Book a change from ``from_index`` (before ``dropped`` bars were trimmed)."""
        self.revision += 1
        lod = self._lod
        if lod is not None:
            lod.changed_from(self.first_seq - dropped + from_index)
        return max(0, from_index - dropped)

    def _reserve(self, k: int) -> None:
        """Room for ``k`` more bars at the end: grows or compacts the buffer (amortised O(1)
        per bar: a move copies n bars after at least n/4 appends)."""
        if self._end + k <= self._buf.shape[1]:
            return
        n = len(self)
        buf = np.empty((6, _capacity(n + k, self.cap)))
        buf[:, :n] = self._buf[:, self._start : self._end]
        self._buf, self._start, self._end = buf, 0, n

    def _trim(self) -> int:
        """Drop the oldest bars beyond the cap (O(1)); returns how many."""
        drop = len(self) - self.cap
        if drop <= 0:
            return 0
        self._start += drop
        self.first_seq += drop
        return drop


def _capacity(n: int, cap: int) -> int:
    """Buffer columns for ``n`` bars: doubling while small, at most a quarter over the cap,
    so that at the cap a compaction happens once per cap/4 appends."""
    return max(n, min(max(1024, 2 * n), cap + max(cap // 4, 1)))


class BarKey(NamedTuple):
    """Which series: an instrument's conId and a timeframe."""

    con_id: int
    timeframe: Timeframe


class BarStore:
    """Bar series per instrument and timeframe.

    Events:
        updated(key, from_index): the bars of series ``key`` from ``from_index`` on are new
            or changed; those before are unchanged, in content and seq. A revision of the
            forming bar gives ``len - 1``; history put in front gives 0. Charts note it and
            repaint on their own timer.
    """

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.series: dict[BarKey, BarSeries] = {}
        """ (conId, Timeframe) -> BarSeries """
        self.updated = events.new("barsUpdated")

    def get(self, key: BarKey) -> BarSeries | None:
        """The series for ``key``, if there is one."""
        return self.series.get(key)

    def open(self, key: BarKey) -> BarSeries:
        """The series for ``key``, created empty if needed."""
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = BarSeries(key.timeframe, self.cap)
        return series

    def put(self, key: BarKey, bar: Bar) -> int:
        """A bar from the live stream (see :meth:`BarSeries.put`)."""
        return self._announce(key, self.open(key).put(bar))

    def merge(self, key: BarKey, *columns: npt.ArrayLike) -> int:
        """A history batch as six columns (see :meth:`BarSeries.merge`)."""
        return self._announce(key, self.open(key).merge(*columns))

    def merge_bars(self, key: BarKey, bars: Iterable[Bar]) -> int:
        """A history batch as bars."""
        return self._announce(key, self.open(key).merge_bars(bars))

    def touch(self, con_id: int, price: float, time: float) -> None:
        """Fold a trade into the forming bar of every series of the instrument."""
        for key, series in self.series.items():
            if key.con_id == con_id:
                index = series.touch(price, time)
                if index is not None:
                    self.updated.emit(key, index)

    def forget(self, key: BarKey) -> None:
        """Drop a series nobody charts any more."""
        self.series.pop(key, None)

    def _announce(self, key: BarKey, from_index: int) -> int:
        if from_index < len(self.series[key]):
            self.updated.emit(key, from_index)
        return from_index
