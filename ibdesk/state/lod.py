"""Merging bars for the screen and between timeframes (numpy, no Qt).

A chart zoomed out to a million bars on a thousand pixels paints about one candle per pixel:
each bucket of ``k`` bars becomes one candle whose open is the first bar's open, high the
highest high, low the lowest low, close the last close and volume the sum (finplot's idea).
Buckets are aligned on multiples of ``k`` in seq, so panning moves whole buckets instead of
reshuffling which bars share one (which would make the candles shimmer).

:class:`LodPyramid` keeps the merges for every power of two, built once in O(n), so a
zoomed-out view costs O(pixels), not O(bars). :func:`resample` turns bars of one timeframe
into bars of a longer one by start time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
IDX = npt.NDArray[np.intp]

#: Rows of the 5-row arrays merged here.
OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)
#: New bars a pyramid serves from its raw tail before it is rebuilt.
REBUILD_AFTER = 8192


@dataclass(frozen=True, slots=True)
class Buckets:
    """Merged bars: bucket ``i`` covers seqs ``[start[i], start[i] + k)`` (some of them may
    hold no bar, at the ends of a series)."""

    k: int
    start: IDX
    rows: F64
    """ 5 x m: open, high, low, close, volume """

    def __len__(self) -> int:
        return len(self.start)

    @property
    def open(self) -> F64:
        """First open of each bucket."""
        return self._row(OPEN)

    @property
    def high(self) -> F64:
        """Highest high of each bucket."""
        return self._row(HIGH)

    @property
    def low(self) -> F64:
        """Lowest low of each bucket."""
        return self._row(LOW)

    @property
    def close(self) -> F64:
        """Last close of each bucket."""
        return self._row(CLOSE)

    @property
    def volume(self) -> F64:
        """Summed volume of each bucket."""
        return self._row(VOLUME)

    def _row(self, row: int) -> F64:
        out: F64 = self.rows[row]
        return out

    @classmethod
    def empty(cls, k: int) -> Buckets:
        """No buckets."""
        return cls(k, np.empty(0, dtype=np.intp), np.empty((5, 0)))

    def __add__(self, other: Buckets) -> Buckets:
        """These buckets followed by ``other``'s (same ``k``)."""
        if not len(other):
            return self
        if not len(self):
            return other
        return Buckets(
            self.k,
            np.concatenate((self.start, other.start)),
            np.concatenate((self.rows, other.rows), axis=1),
        )


def aggregate(rows: F64, first_seq: int, k: int) -> Buckets:
    """Merge consecutive bars (5 x n rows, the first at ``first_seq``) into buckets of ``k``
    aligned on multiples of ``k``; the first and last bucket may hold fewer bars."""
    n = rows.shape[1]
    if not n:
        return Buckets.empty(k)
    if k <= 1:
        return Buckets(1, np.arange(first_seq, first_seq + n, dtype=np.intp), rows.copy())
    b0 = first_seq // k
    cuts = np.arange((b0 + 1) * k - first_seq, n, k, dtype=np.intp)
    firsts = np.concatenate((np.zeros(1, dtype=np.intp), cuts))
    lasts = np.concatenate((cuts, np.full(1, n, dtype=np.intp))) - 1
    out = np.empty((5, len(firsts)))
    out[OPEN] = rows[OPEN, firsts]
    out[HIGH] = np.maximum.reduceat(rows[HIGH], firsts)
    out[LOW] = np.minimum.reduceat(rows[LOW], firsts)
    out[CLOSE] = rows[CLOSE, lasts]
    out[VOLUME] = np.add.reduceat(rows[VOLUME], firsts)
    return Buckets(k, (b0 + np.arange(len(firsts), dtype=np.intp)) * k, out)


class LodPyramid:
    """Buckets of 2, 4, 8 … bars of one series, each level merged from the one below.

    Built over every bar but the newest (the forming bar changes on every tick and stays in
    the raw tail); level ``j`` holds the whole buckets of ``2**j`` before its own aligned
    end. Bars after that end are merged on request, so live bars need no rebuild until
    :data:`REBUILD_AFTER` of them have arrived. A change of an older bar invalidates it.

    Args:
        rows: 5 x n open, high, low, close, volume of the series.
        first_seq: seq of the first bar.
    """

    def __init__(self, rows: F64, first_seq: int) -> None:
        n = rows.shape[1]
        self.first_seq = first_seq
        self.end_seq = first_seq + max(0, n - 1)
        """ seqs below this may be in a level; the newest bar never is """
        self.valid = True
        count = max(0, (self.end_seq // 2) * 2 - first_seq)
        self.levels: list[Buckets] = [aggregate(rows[:, :count], first_seq, 2)]
        k = 2
        while k < 2 * n:
            below = self.levels[-1]
            k *= 2
            keep = (self.end_seq // k) * k
            self.levels.append(_merge_pairs(below, int(np.searchsorted(below.start, keep))))

    def fits(self, first_seq: int, n: int) -> bool:
        """Whether the pyramid still serves a series now at ``first_seq`` with ``n`` bars:
        nothing before its end changed, not too many new bars, not too many dropped."""
        return (
            self.valid
            and first_seq + n - 1 - self.end_seq <= REBUILD_AFTER
            and first_seq - self.first_seq <= max(n // 16, 1)
        )

    def changed_from(self, seq: int) -> None:
        """Bars from ``seq`` on changed: the pyramid is stale if any of them is in a level."""
        if seq < (self.end_seq // 2) * 2:
            self.valid = False

    def buckets(
        self, k: int, seq0: int, seq1: int, raw: Callable[[int, int], F64], first_seq: int
    ) -> Buckets:
        """Every whole bucket of ``k`` (a power of two) that seqs ``[seq0, seq1)`` touch: from
        a level where built, the rest merged from ``raw(i0, i1)`` (the rows of the series'
        bars ``[i0, i1)``, clipped to the series; its first bar is now at ``first_seq``)."""
        top = self.levels[-1].k
        if k > top:  # the series has grown past the pyramid's top since it was built
            u0, u1 = seq0 // k, -(-seq1 // k)
            fine = self.buckets(top, u0 * k, u1 * k, raw, first_seq)
            if not len(fine):
                return Buckets.empty(k)
            merged = aggregate(fine.rows, int(fine.start[0]) // top, k // top)
            return Buckets(k, merged.start * top, merged.rows)
        level = self.levels[max(0, math.ceil(math.log2(k)) - 1)]
        u0, u1 = seq0 // k, -(-seq1 // k)
        lo, hi = np.searchsorted(level.start, (u0 * k, u1 * k))
        built = Buckets(k, level.start[lo:hi], level.rows[:, lo:hi])
        tail_from = max(u0 * k, (self.end_seq // k) * k, first_seq)
        if tail_from >= seq1:
            return built
        tail = raw(tail_from - first_seq, u1 * k - first_seq)  # whole buckets, as in a level
        return built + aggregate(tail, tail_from, k)


def _merge_pairs(level: Buckets, count: int) -> Buckets:
    """The next level: the first ``count`` buckets of ``level`` merged two by two."""
    if not count:
        return Buckets.empty(level.k * 2)
    units = level.start[:count] // level.k
    merged = aggregate(level.rows[:, :count], int(units[0]), 2)
    return Buckets(level.k * 2, merged.start * level.k, merged.rows)


def resample(times: F64, rows: F64, seconds: int) -> tuple[F64, F64]:
    """Bars (start ``times``, 5 x n ``rows``) merged into bars of ``seconds``, each starting
    on a multiple of ``seconds`` from the epoch. Bars must be in time order and shorter than
    ``seconds``; a longer bar in the middle of a gap is carried whole into its bucket."""
    n = len(times)
    if not n:
        return np.empty(0), np.empty((5, 0))
    start = np.floor(times / seconds) * seconds
    firsts = np.flatnonzero(np.concatenate(([True], start[1:] != start[:-1])))
    lasts = np.concatenate((firsts[1:], [n])) - 1
    out = np.empty((5, len(firsts)))
    out[OPEN] = rows[OPEN, firsts]
    out[HIGH] = np.maximum.reduceat(rows[HIGH], firsts)
    out[LOW] = np.minimum.reduceat(rows[LOW], firsts)
    out[CLOSE] = rows[CLOSE, lasts]
    out[VOLUME] = np.add.reduceat(rows[VOLUME], firsts)
    return start[firsts], out
