"""Number and time formatting for tables and labels (Qt-free, so it is tested without a
display).

Times: every time the window shows goes through :func:`clock`, in the zone the trader chose
(``[ui] time_zone``, switched live in the View menu): each instrument's exchange time, or
local time. The choice is kept here, like the theme in ``ui.theme``: one window, one choice.
"""

from __future__ import annotations

import datetime as dt
import math

from ibdesk.domain import times

DASH = "\u2013"  # an en dash: a missing value, not a minus sign

_in_use = {"time_zone": times.EXCHANGE}


def set_time_zone(choice: str) -> None:
    """Show times in each instrument's exchange zone (``exchange``) or locally (``local``).
    The caller repaints what shows times (``ui.time_zone.switch_time_zone`` does)."""
    if choice not in times.CHOICES:
        raise ValueError(f"the time zone is 'exchange' or 'local', not {choice!r}")
    _in_use["time_zone"] = choice


def time_zone() -> str:
    """The current choice: ``exchange`` or ``local``."""
    return _in_use["time_zone"]


def clock(epoch: float, exchange_zone: str = "", millis: bool = False) -> str:
    """A time of day in the chosen zone, labelled (``09:31:07 CT``); a dash for no time.

    Args:
        epoch: seconds since the epoch (0: none yet).
        exchange_zone: the instrument's exchange zone (``Instrument.time_zone``); empty for a
            time that belongs to no instrument, which is local time whatever the choice.
        millis: with milliseconds (the blotter).
    """
    if not epoch or math.isnan(epoch):
        return DASH
    zone = exchange_zone if _in_use["time_zone"] == times.EXCHANGE else ""
    return times.time_of_day(epoch, zone, millis=millis)


def time_heading(title: str = "Time") -> str:
    """A column header that says which clock its times are on: ``Time (exchange)``."""
    return f"{title} ({_in_use['time_zone']})"


def zone_for(exchange_zone: str) -> dt.tzinfo:
    """The zone an instrument's times are shown in (a chart's axis): its exchange's, or the
    local one (also when its exchange zone is not known)."""
    if _in_use["time_zone"] == times.EXCHANGE:
        named = times.zone_info(exchange_zone)
        if named is not None:
            return named
    return times.local_zone()


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
