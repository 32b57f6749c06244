"""Reading a historical-data request: bar size, duration and end time, as TWS reads them."""

from __future__ import annotations

import datetime as dt

from ibdesk.simtws.throttle import show

#: Seconds of the calendar-based bar sizes: a week is a trading week, a month a calendar
#: month; the figures only order them among the others.
WEEK = 7 * 86400
MONTH = 31 * 86400
BAR_SECONDS = {
    "1 secs": 1,
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
    "1 week": WEEK,
    "1W": WEEK,
    "1 month": MONTH,
    "1M": MONTH,
}
#: The list TWS gives when it refuses a bar size.
LEGAL_BAR_SIZES = (
    "1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, "
    "15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1W, 1M"
)
DURATION_UNITS = {"S": 1, "D": 86400, "W": 604800, "M": 30 * 86400, "Y": 365 * 86400}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")
#: Longest duration a request may ask for (IB's own limit for daily bars is of this order).
MAX_DURATION = 30 * DURATION_UNITS["Y"]


#: The longest duration each bar size may be asked for. Second bars follow IB's step-size
#: table (1 secs: 1800 S, 5 secs: 3600 S, 10-15 secs: 4 hours, 30 secs: 8 hours), where
#: HMDS refuses longer requests; minute and hour bars get a row more than the table, as
#: HMDS is known to answer them (5 D of 1-minute bars); daily and longer bars go back as
#: far as there is history.
_DAY, _WEEK, _MONTH, _YEAR = 86400, 7 * 86400, 30 * 86400, 365 * 86400
MAX_DURATION_FOR = {
    1: 1800,
    5: 3600,
    10: 14400,
    15: 14400,
    30: 28800,
    60: _WEEK,
    120: _WEEK,
    180: _MONTH,
    300: _MONTH,
    600: _MONTH,
    900: _MONTH,
    1200: _MONTH,
    1800: _YEAR,
    3600: _YEAR,
    7200: _YEAR,
    10800: _YEAR,
    14400: _YEAR,
    28800: _YEAR,
}
TIME_LENGTH_EXCEEDED = "Time length exceed max."


class HistoryRequestError(ValueError):
    """A historical request TWS would refuse (bad bar size, duration or what-to-show)."""


class HistoryLimitError(HistoryRequestError):
    """A request beyond IB's limits, which HMDS (not the request check) refuses: error 162."""


def check_step(bar_seconds: int, duration_seconds: int) -> None:
    """Refuse a duration longer than IB allows for the bar size.

    Raises:
        HistoryLimitError: with HMDS's text.
    """
    if duration_seconds > MAX_DURATION_FOR.get(bar_seconds, MAX_DURATION):
        raise HistoryLimitError(TIME_LENGTH_EXCEEDED)


def parse_bar_size(text: str) -> int:
    """Seconds in a bar size setting such as ``"5 mins"``."""
    seconds = BAR_SECONDS.get(" ".join(text.split()))
    if seconds is None:
        raise HistoryRequestError(
            f"Historical data bar size setting is invalid. Legal ones are: {LEGAL_BAR_SIZES}"
        )
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
