"""IB's liquid (regular) trading hours, read into sessions in the exchange's time zone."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Session = tuple[float, float, dt.datetime, dt.datetime]
""" (start, end) as epoch seconds and as exchange-local times """


def _at(day: str, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    if len(day) != 8 or len(hhmm) != 4 or not (day + hhmm).isdigit():
        raise ValueError(f"not a date and time: {day}:{hhmm}")
    return dt.datetime(
        int(day[:4]), int(day[4:6]), int(day[6:]), int(hhmm[:2]), int(hhmm[2:]), tzinfo=zone
    )


@functools.lru_cache(maxsize=256)
def parse_sessions(hours: str, time_zone: str) -> tuple[Session, ...]:
    """Parse IB's liquid hours (``20261123:0830-20261123:1500;20261128:CLOSED``, or the older
    ``20261123:0830-1500,1600-1700``) in ``time_zone``.

    Raises:
        ValueError: the string or the time zone cannot be read.
    """
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc
    sessions: list[Session] = []
    for part in filter(None, (p.strip() for p in hours.split(";"))):
        day, _, ranges = part.partition(":")
        if ranges.upper() == "CLOSED":
            continue
        for span in ranges.split(","):
            start_text, _, end_text = span.partition("-")
            end_day, _, end_hhmm = end_text.rpartition(":")
            start, end = _at(day, start_text, zone), _at(end_day or day, end_hhmm, zone)
            if end <= start and not end_day:
                end += dt.timedelta(days=1)  # old format: a session past midnight
            sessions.append((start.timestamp(), end.timestamp(), start, end))
    return tuple(sorted(sessions))
