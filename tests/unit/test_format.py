"""Table formatting."""

from __future__ import annotations

import math

import pytest

from ibdesk.domain.instruments import tick_decimals
from ibdesk.ui import format as fmt


@pytest.mark.parametrize(
    ("tick", "decimals"), [(0.25, 2), (0.01, 2), (0.1, 2), (0.00005, 5), (1.0, 0), (0.005, 3)]
)
def test_tick_decimals(tick: float, decimals: int) -> None:
    assert tick_decimals(tick) == decimals


def test_missing_values_are_a_dash() -> None:
    for f in (fmt.price, fmt.signed, fmt.money, fmt.quantity, fmt.volume, fmt.age):
        assert f(math.nan) == fmt.DASH


def test_shapes() -> None:
    assert fmt.price(6800.5, 2) == "6,800.50"
    assert fmt.signed(-0.5) == "-0.50"
    assert fmt.money(-1234.5) == "-1,234.50"
    assert fmt.quantity(3.0) == "3" and fmt.quantity(0.5) == "0.5"
    assert fmt.volume(1_250_000) == "1.25M" and fmt.volume(950) == "950"
    assert fmt.age(0.42) == "<1s" and fmt.age(75) == "75s" and fmt.age(600) == "10m"
    assert fmt.tone(2.0) == "gain" and fmt.tone(-1.0) == "loss" and fmt.tone(0.0) is None
