"""Reading a historical-data request: bar size, duration and end time, as TWS reads them."""

from __future__ import annotations

import datetime as dt

from ibdesk.simtws.throttle import show

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
