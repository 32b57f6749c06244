"""Number formatting for tables and labels (Qt-free, so it is tested without a display)."""

from __future__ import annotations

import math

DASH = "\u2013"  # an en dash: a missing value, not a minus sign


def tick_decimals(min_tick: float) -> int:
    """Decimals that show every price on a tick grid: 0.25 -> 2, 0.1 -> 1, 5e-05 -> 5."""
    for decimals in range(9):
        if abs(round(min_tick, decimals) - min_tick) < 1e-12:
            return max(decimals, 2 if min_tick < 1 else 0)
    return 8


def price(value: float, decimals: int = 2) -> str:
    """A price with a fixed number of decimals; a dash when there is none."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value:,.{decimals}f}"


def signed(value: float, decimals: int = 2) -> str:
    """A change with its sign: ``+1.25``, ``-0.50``."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value:+,.{decimals}f}"


def money(value: float) -> str:
    """Dollars to the cent with thousands separators: ``-1,234.50``."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value:,.2f}"


def quantity(value: float) -> str:
    """Whole numbers without decimals, fractions with what they need."""
    if value is None or math.isnan(value):
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def volume(value: float) -> str:
    """Volumes compactly: ``950``, ``12.4K``, ``1.25M``."""
    if value is None or math.isnan(value):
        return DASH
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:,.0f}"


def age(seconds: float) -> str:
    """Time since the last tick, in whole units: ``<1s``, ``12s``, ``3m``, ``2h``.

    Whole seconds are what staleness needs, and they keep a fast feed from rewriting the
    column on every flush.
    """
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return DASH
    if seconds < 1:
        return "<1s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def tone(value: float) -> str | None:
    """``gain`` for positive, ``loss`` for negative, None for zero or missing."""
    if value is None or math.isnan(value) or value == 0:
        return None
    return "gain" if value > 0 else "loss"
