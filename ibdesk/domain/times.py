"""Times of day as ibdesk shows them: in one named zone, always with the zone's label.

A trader who reads ``09:31:07`` must know whose nine o'clock it is: the exchange's or the
desk's. Every time the desk shows goes through :func:`time_of_day`, which writes the zone
after it (``09:31:07 CT``). The American zones carry the names futures traders use (``CT``,
``ET``), the same in summer and winter; others keep their own abbreviation (``CEST``,
``JST``). A time that belongs to no instrument, or to one whose exchange zone is not known,
is local time, labelled as such.

Zones are IANA names as IB gives them in contract details (``timeZoneId``: ``US/Central``).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# zoneinfo is imported where a zone is first read, not here: the config (and so the window's
# first paint) imports this module for its names, and zoneinfo costs about 2 ms to import.

EXCHANGE, LOCAL = "exchange", "local"
CHOICES = (EXCHANGE, LOCAL)
""" the ``[ui] time_zone`` setting: each instrument's exchange time, or the machine's """

#: Abbreviations that name the same American zone summer and winter, by their UTC offset in
#: hours: "CST" at -6 is Chicago, at +8 it is China, which keeps its own name.
_AMERICAN = {
    ("EST", -5): "ET",
    ("EDT", -4): "ET",
    ("CST", -6): "CT",
    ("CDT", -5): "CT",
    ("MST", -7): "MT",
    ("MDT", -6): "MT",
    ("PST", -8): "PT",
    ("PDT", -7): "PT",
}


@functools.lru_cache(maxsize=128)
def zone_info(name: str) -> ZoneInfo | None:
    """The zone IB names (``US/Central``), or None when empty or unknown to this system."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_zone() -> dt.tzinfo:
    """The machine's zone with its rules (summer time included), for a chart axis that spans
    days: ``TZ`` if it names a zone, else ``/etc/localtime``, else today's fixed offset."""
    named = zone_info(os.environ.get("TZ", "").lstrip(":"))
    if named is not None:
        return named
    if "TZ" not in os.environ:
        from zoneinfo import ZoneInfo

        try:
            with open("/etc/localtime", "rb") as rules:
                return ZoneInfo.from_file(rules, key="localtime")
        except (OSError, ValueError):
            pass
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def moment(epoch: float, zone: str = "") -> dt.datetime:
    """``epoch`` as a wall-clock time in ``zone`` (local when empty or unknown)."""
    tz = zone_info(zone)
    if tz is None:
        # The C library knows the local offset of that very instant (summer or winter).
        return dt.datetime.fromtimestamp(epoch).astimezone()
    return dt.datetime.fromtimestamp(epoch, tz)


def label(when: dt.datetime) -> str:
    """The zone's name as a trader reads it: ``CT``, ``ET``, ``CEST``, ``UTC+03``."""
    name = when.tzname() or ""
    offset = when.utcoffset()
    hours = offset.total_seconds() / 3600 if offset is not None else 0.0
    american = _AMERICAN.get((name, int(hours))) if hours.is_integer() else None
    if american is not None:
        return american
    if not name or name[0] in "+-":
        return f"UTC{name}" if name else "UTC"
    return name


def time_of_day(epoch: float, zone: str = "", *, millis: bool = False, seconds: bool = True) -> str:
    """``09:31:07 CT``: the time of day at ``epoch`` in ``zone``, labelled.

    Args:
        epoch: seconds since the epoch.
        zone: an IANA / IB zone name; empty (or unknown): local time.
        millis: with milliseconds (``09:31:07.250 CT``), for the blotter.
        seconds: False for hours and minutes only.
    """
    when = moment(epoch, zone)
    if millis:
        text = f"{when:%H:%M:%S}.{when.microsecond // 1000:03d}"
    else:
        text = f"{when:%H:%M:%S}" if seconds else f"{when:%H:%M}"
    return f"{text} {label(when)}"
