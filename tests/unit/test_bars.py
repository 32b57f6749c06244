"""Bar series: per-pixel merging, timeframe resampling, and the join of history and live bars."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.domain.bars import Bar, Timeframe
from ibdesk.state.bars import BarKey, BarSeries, BarStore
from ibdesk.state.lod import REBUILD_AFTER, aggregate, resample

T0 = 1_700_006_400.0  # a UTC midnight: bars of every timeframe start on the grid


def rows(*bars: tuple[float, float, float, float, float]) -> np.ndarray:
    """5 x n rows from (open, high, low, close, volume) tuples."""
    return np.array(bars, dtype=np.float64).T


def series_of(n: int, tf: Timeframe = Timeframe.S5, cap: int = 1_000_000) -> BarSeries:
    """``n`` bars: close i + 0.5, high i + 1, low i - 1, volume 10 + i."""
    s = BarSeries(tf, cap)
    i = np.arange(n, dtype=np.float64)
    s.merge(T0 + i * tf.seconds, i, i + 1, i - 1, i + 0.5, 10 + i)
    return s


# ---- per-pixel merging ----------------------------------------------------------------------


def test_a_bucket_takes_the_first_open_highest_high_lowest_low_last_close_summed_volume() -> None:
    bars = rows(
        (10, 12, 9, 11, 100),
        (11, 15, 10, 14, 50),
        (14, 14, 8, 9, 25),
        (9, 10, 7, 10, 5),
        (10, 11, 10, 11, 1),
    )
    out = aggregate(bars, first_seq=0, k=4)
    assert list(out.start) == [0, 4]
    assert out.rows[:, 0].tolist() == [10, 15, 7, 10, 180]
    assert out.rows[:, 1].tolist() == [10, 11, 10, 11, 1]


def test_buckets_align_on_multiples_of_k_in_seq_so_panning_keeps_them() -> None:
    bars = rows(*[(i, i + 1, i - 1, i, 1) for i in range(6)])
    out = aggregate(bars, first_seq=2, k=4)  # seqs 2..7
    assert list(out.start) == [0, 4]
    # The first bucket holds seqs 2 and 3 only; the second 4..7.
    assert out.rows[:, 0].tolist() == [0, 2, -1, 1, 2]
    assert out.rows[:, 1].tolist() == [2, 6, 1, 5, 4]


def test_a_million_bars_zoomed_out_come_back_as_one_bucket_per_pixel_from_the_pyramid() -> None:
    s = series_of(1_000_000)
    out = s.buckets(1024, 0, 999_999)
    assert len(out) == 977  # ceil(1e6 / 1024)
    assert out.rows[:, 0].tolist() == [0, 1024, -1, 1023.5, sum(10 + i for i in range(1024))]
    last = out.rows[:, -1]
    assert last[0] == 976 * 1024 and last[3] == 999_999.5 and last[1] == 1_000_000


def test_a_live_update_after_the_pyramid_is_built_shows_in_the_last_bucket() -> None:
    s = series_of(10_000)
    before = s.buckets(64, 0, 9_999)
    s.touch(99_999.0, T0 + 9_999 * 5 + 1)  # a trade far above the forming bar
    s.put(Bar(T0 + 10_000 * 5, 5, 6, 4, 5, 1))  # and a new bar
    after = s.buckets(64, 0, 10_000)
    assert np.array_equal(before.rows[:, :-1], after.rows[:, :-1])
    assert after.rows[1, -1] == 99_999.0  # the forming bar's new high
    assert after.rows[3, -1] == 5  # the new bar's close is the bucket's close
    assert s._lod is not None and s._lod.valid, "live bars did not rebuild the pyramid"


def test_a_history_change_inside_the_pyramid_rebuilds_it() -> None:
    s = series_of(1_000)
    s.buckets(8, 0, 999)
    s.merge([T0 + 5 * 10], [0], [500], [0], [0], [0])
    assert s.buckets(8, 0, 999).rows[1, 1] == 500


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 3000),
    log_k=st.integers(0, 12),
    lo=st.floats(0, 1),
    hi=st.floats(0, 1),
    appended=st.integers(0, 40),
)
def test_pyramid_buckets_equal_merging_the_raw_bars(
    n: int, log_k: int, lo: float, hi: float, appended: int
) -> None:
    s = series_of(n)
    k = 2**log_k
    s.buckets(k, 0, n - 1)  # build, then bars arrive
    for i in range(n, n + appended):
        s.put(Bar(T0 + 5 * i, i, i + 3, i - 3, i, 1))
    total = n + appended
    seq0, seq1 = sorted((int(lo * (total - 1)), int(hi * (total - 1))))
    got = s.buckets(k, seq0, seq1)
    # Reference: every bar of every bucket that the range touches, merged directly.
    first, last = (seq0 // k) * k, min(total, (seq1 // k + 1) * k)
    want = aggregate(s.ohlcv(first, last), first, k)
    assert np.array_equal(got.start, want.start)
    assert np.array_equal(got.rows, want.rows)


# ---- resampling -----------------------------------------------------------------------------


def test_one_minute_bars_resample_into_five_minute_bars_on_the_clock() -> None:
    times = T0 + 60 * np.array([0, 1, 2, 3, 4, 5, 6, 9])  # 7 and 8 are missing
    bars = rows(
        (1, 2, 0.5, 1.5, 10),
        (1.5, 3, 1, 2, 20),
        (2, 2.5, 1.5, 2, 5),
        (2, 2, 0, 1, 5),
        (1, 1.5, 1, 1.25, 1),
        (1.25, 4, 1.25, 4, 7),
        (4, 4.5, 3, 3.5, 3),
        (3.5, 3.75, 3.25, 3.5, 2),
    )
    starts, out = resample(times, bars, Timeframe.M5.seconds)
    assert starts.tolist() == [T0, T0 + 300]
    assert out[:, 0].tolist() == [1, 3, 0, 1.25, 41]
    assert out[:, 1].tolist() == [1.25, 4.5, 1.25, 3.5, 12]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=200, unique=True))
def test_resampling_keeps_the_extremes_the_total_volume_and_the_first_and_last_price(
    minutes: list[int],
) -> None:
    minutes.sort()
    times = T0 + 60 * np.array(minutes, dtype=np.float64)
    rng = np.random.default_rng(len(minutes))
    close = rng.normal(100, 5, len(minutes))
    bars = np.array([close - 1, close + 2, close - 2, close, rng.integers(1, 9, len(minutes))])
    starts, out = resample(times, bars, 900)
    assert (starts % 900 == 0).all() and (np.diff(starts) > 0).all()
    assert out[1].max() == bars[1].max() and out[2].min() == bars[2].min()
    assert out[4].sum() == bars[4].sum()
    assert out[0, 0] == bars[0, 0] and out[3, -1] == bars[3, -1]


# ---- the join of history and the live stream ---------------------------------------------------


def test_live_revisions_change_the_forming_bar_and_a_new_period_appends() -> None:
    s = series_of(3, Timeframe.M1)
    assert s.put(Bar(T0 + 120, 2, 9, 1, 8, 40)) == 2  # the forming bar, revised
    assert len(s) == 3 and s.last() == Bar(T0 + 120, 2, 9, 1, 8, 40)
    assert s.put(Bar(T0 + 180, 8, 8, 8, 8, 1)) == 3
    assert s.times.tolist() == [T0, T0 + 60, T0 + 120, T0 + 180]


def test_a_back_fill_after_a_break_replaces_the_overlap_and_appends_the_gap() -> None:
    s = series_of(5, Timeframe.M1)  # bars at 0..4 minutes; the stream stopped in minute 4
    seqs = s.first_seq, s.last_seq
    t = T0 + 60 * np.arange(3, 9)  # the back-fill: minutes 3..8, the forming one included
    changed = s.merge(t, [30] * 6, [31] * 6, [29] * 6, [30.5] * 6, [7] * 6)
    assert changed == 3
    assert s.times.tolist() == (T0 + 60 * np.arange(9)).tolist(), "no gap, no doubled bar"
    assert s.closes.tolist() == [0.5, 1.5, 2.5] + [30.5] * 6, "the back-fill is the newer word"
    assert (s.first_seq, s.last_seq) == (seqs[0], seqs[1] + 4)


def test_older_history_goes_in_front_and_every_kept_bar_keeps_its_seq() -> None:
    s = series_of(3)
    before = {s.first_seq + i: t for i, t in enumerate(s.times)}
    assert s.merge(T0 - 5 * np.arange(1, 4), [1] * 3, [1] * 3, [1] * 3, [1] * 3, [1] * 3) == 0
    assert len(s) == 6 and s.first_seq == -3
    after = {s.first_seq + i: t for i, t in enumerate(s.times)}
    assert all(after[q] == t for q, t in before.items())


def test_the_cap_drops_the_oldest_bars_and_seqs_go_on() -> None:
    s = series_of(4, cap=4)
    s.put(Bar(T0 + 20, 1, 1, 1, 1, 1))
    assert len(s) == 4 and s.first_seq == 1 and s.last_seq == 4
    assert s.times[0] == T0 + 5


def test_a_tick_folds_into_the_forming_bar_but_never_opens_one() -> None:
    s = series_of(2, Timeframe.M1)  # forming bar: minute 1, close 1.5, high 2, low 0
    assert s.touch(7.0, T0 + 61) == 1
    assert s.touch(-3.0, T0 + 62) == 1
    last = s.last()
    assert last is not None and (last.high, last.low, last.close) == (7.0, -3.0, -3.0)
    assert s.touch(5.0, T0 + 120) is None and len(s) == 2  # the stream opens minute 2
    assert s.touch(float("nan"), T0 + 61) is None
    daily = series_of(2, Timeframe.D1)
    assert daily.touch(5.0, T0 + 86400 + 5) is None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(0, 60), min_size=1, max_size=12)),
        min_size=1,
        max_size=12,
    )
)
def test_any_mix_of_back_fills_and_live_bars_holds_one_bar_per_period_last_word_wins(
    steps: list[tuple[bool, list[int]]],
) -> None:
    s = BarSeries(Timeframe.S5)
    model: dict[float, float] = {}
    for version, (live, slots) in enumerate(steps):
        times = [T0 + 5 * k for k in slots]
        if live:
            for t in times:
                s.put(Bar(t, version, version, version, version, 1))
                model[t] = version
        else:
            v = [float(version)] * len(times)
            s.merge(times, v, v, v, v, v)
            model.update(dict.fromkeys(times, version))
    assert s.times.tolist() == sorted(model)
    assert s.closes.tolist() == [model[t] for t in sorted(model)]
    assert s.last_seq - s.first_seq + 1 == len(model)


def test_seq_and_time_map_both_ways_and_extrapolate_past_the_ends() -> None:
    s = series_of(10, Timeframe.M1)
    assert s.times_at([0, 9, 12, -2]).tolist() == [T0, T0 + 540, T0 + 720, T0 - 120]
    assert s.seq_at(T0 + 61) == 1 and s.seq_at(T0 + 600 + 61) == 11 and s.seq_at(T0 - 61) == -2


def test_the_store_announces_where_changes_start() -> None:
    store = BarStore()
    key = BarKey(1, Timeframe.M1)
    seen: list[tuple[BarKey, int]] = []
    store.updated += lambda k, i: seen.append((k, i))
    store.merge(key, [T0, T0 + 60], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2])
    store.put(key, Bar(T0 + 60, 2, 3, 2, 3, 5))
    store.touch(1, 4.0, T0 + 61)
    store.touch(2, 4.0, T0 + 61)  # another instrument: nothing
    assert seen == [(key, 0), (key, 1), (key, 1)]


def test_pyramid_rebuilds_after_many_live_bars() -> None:
    s = series_of(100)
    s.buckets(4, 0, 99)
    lod = s._lod
    for i in range(100, 100 + REBUILD_AFTER + 1):
        s.put(Bar(T0 + 5 * i, 1, 1, 1, 1, 1))
    s.buckets(4, 0, s.last_seq)
    assert s._lod is not lod


@pytest.mark.parametrize(
    ("tf", "seconds", "want"),
    [
        (Timeframe.M1, 30, "150 S"),
        (Timeframe.S5, 0, "10 S"),
        (Timeframe.M1, 3 * 86400, "1 D"),  # never more than a first back-fill
        (Timeframe.M5, 2 * 86400, "3 D"),
        (Timeframe.D1, 10 * 86400, "12 D"),
        (Timeframe.D1, 900 * 86400, "1 Y"),
    ],
)
def test_a_gap_is_covered_by_a_duration_ib_accepts(
    tf: Timeframe, seconds: float, want: str
) -> None:
    assert tf.gap_duration(seconds) == want


def test_timeframes_by_label_and_bar_size() -> None:
    assert Timeframe.from_label("5m") is Timeframe.from_label("5 mins") is Timeframe.M5
    with pytest.raises(ValueError, match="unknown timeframe"):
        Timeframe.from_label("7m")
