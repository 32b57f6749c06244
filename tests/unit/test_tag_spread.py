"""The price axis's tags never overlap: close prices are spread apart, in price order, and
kept inside the axis (issue 14: the last price hid the position's tag 0.25 away)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ibdesk.ui.charts.axes import spread

H = 16.0


def test_close_tags_move_apart_and_far_ones_stay() -> None:
    assert spread([100.0, 104.0, 300.0], H, 0.0, 500.0) == [94.0, 110.0, 300.0]


def test_tags_at_an_edge_stay_inside() -> None:
    assert spread([495.0, 498.0], H, 0.0, 500.0) == [476.0, 492.0]
    assert spread([2.0, 3.0], H, 0.0, 500.0) == [8.0, 24.0]


@given(st.lists(st.floats(0, 500), min_size=1, max_size=20))
def test_never_overlapping_in_order_and_inside(ys: list[float]) -> None:
    ys = sorted(ys)
    out = spread(ys, H, 0.0, 500.0)
    assert len(out) == len(ys)
    assert all(b - a >= H - 1e-9 for a, b in itertools.pairwise(out))
    assert all(H / 2 - 1e-9 <= y <= 500.0 - H / 2 + 1e-9 for y in out)
