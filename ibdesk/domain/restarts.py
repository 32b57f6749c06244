"""IB's restart schedule: when TWS / IB Gateway restarts, and what that means right now.

TWS and IB Gateway restart themselves once a day at a time the user sets (IB's nightly reset
window in North America is about 23:45 to 01:45 ET), and IB's login tokens expire once a week
(Sunday 01:00 ET): the first restart after that waits for someone to log in again.
Automation that does not expect the restart trades into it, and the disconnect it causes
raises an alarm no one needs.

:class:`RestartSchedule` answers, for an instant, where the desk stands (a pure function of
the time: the desk asks it with its own clock). Restarts are instants, one per local date,
at the configured wall-clock time in the configured zone, so a window that crosses midnight
needs no special case, and summer time moves them with the wall clock:

* a time that does not exist on a spring-forward day (02:30 in New York) is read with the
  offset before the change, so it falls an hour later on the new clock (03:30 EDT);
* a time that happens twice on a fall-back day (01:30) is the first of the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ibdesk.domain import times

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RestartPhase(StrEnum):
    """Where the desk stands against the next (or current) restart."""

    CLEAR = "clear"
    """ no restart near: strategies trade """
    PAUSE_BEFORE = "pause before"
    """ the restart is less than ``pause_before`` away: strategies pause """
    WINDOW = "window"
    """ inside the window the restart is expected in: a disconnect is expected """


@dataclass(frozen=True, slots=True)
class RestartOutlook:
    """The schedule at one instant (epoch seconds throughout)."""

    phase: RestartPhase
    restart_at: float
    """ the restart this is about: the one whose window it is (WINDOW), else the next one """
    window_end: float
    """ when the window of ``restart_at`` closes """
    countdown: float
    """ seconds until ``restart_at`` (zero or below inside its window) """
    relogin_at: float | None
    """ the next weekly expiry of IB's login (None: not configured) """
    needs_login: bool
    """ ``restart_at`` is the first restart after a weekly expiry: it waits for a login """


@dataclass(frozen=True, slots=True)
class RestartSchedule:
    """A daily restart at ``daily_at`` in ``zone``, the strategies' pause before it, the
    window it is expected in, and IB's weekly re-login.

    Args:
        daily_at: the restart's wall-clock time; None when TWS does not restart by itself.
        zone: an IANA zone name (``America/New_York``).
        pause_before: seconds before the restart that strategies pause.
        window: seconds from the restart during which a disconnect is expected.
        relogin: (weekday, Monday 0, and time) of the weekly expiry; None: not configured.
    """

    daily_at: dt.time | None
    zone: str = "America/New_York"
    pause_before: float = 300.0
    window: float = 900.0
    relogin: tuple[int, dt.time] | None = None

    def restart_on(self, day: dt.date) -> float:
        """The restart instant on a local date (``daily_at`` must be set)."""
        assert self.daily_at is not None
        return _instant(day, self.daily_at, self.zone)

    def outlook(self, now: float) -> RestartOutlook | None:
        """Where ``now`` stands; None when there is no daily restart."""
        if self.daily_at is None:
            return None
        today = dt.datetime.fromtimestamp(now, _tz(self.zone)).date()
        # One restart per local date: yesterday's is before now, tomorrow's after it.
        restarts = [self.restart_on(today + dt.timedelta(days=k)) for k in (-1, 0, 1)]
        last = max(r for r in restarts if r <= now)
        after = min(r for r in restarts if r > now)
        if now < last + self.window:
            phase, restart_at = RestartPhase.WINDOW, last
        elif now >= after - self.pause_before:
            phase, restart_at = RestartPhase.PAUSE_BEFORE, after
        else:
            phase, restart_at = RestartPhase.CLEAR, after
        relogin_at = self.next_relogin(now)
        return RestartOutlook(
            phase=phase,
            restart_at=restart_at,
            window_end=restart_at + self.window,
            countdown=restart_at - now,
            relogin_at=relogin_at,
            needs_login=self._needs_login(restart_at),
        )

    def next_relogin(self, now: float) -> float | None:
        """The first weekly expiry after ``now`` (None: not configured)."""
        if self.relogin is None:
            return None
        weekday, at = self.relogin
        today = dt.datetime.fromtimestamp(now, _tz(self.zone)).date()
        ahead = (weekday - today.weekday()) % 7
        for days in (ahead, ahead + 7):
            when = _instant(today + dt.timedelta(days=days), at, self.zone)
            if when > now:
                return when
        raise AssertionError("a weekly instant is always within two weeks")  # pragma: no cover

    def _needs_login(self, restart_at: float) -> bool:
        """Whether a weekly expiry falls after the restart before ``restart_at`` and at or
        before it: that restart is the first to meet an expired login."""
        if self.relogin is None:
            return False
        day = dt.datetime.fromtimestamp(restart_at, _tz(self.zone)).date()
        before = self.restart_on(day - dt.timedelta(days=1))
        expiry = self.next_relogin(before)
        return expiry is not None and expiry <= restart_at


class RestartStage(StrEnum):
    """Where the desk is in the restart's course."""

    OFF = "off"
    """ no daily restart configured """
    CLEAR = "clear"
    """ strategies trade; the next restart is ahead """
    PAUSED = "paused"
    """ the restart is near: strategies held paused """
    WINDOW = "window"
    """ inside the window, the restart not seen yet: strategies held """
    RESTARTING = "restarting"
    """ disconnected inside the window: the expected restart """
    WAITING = "waiting"
    """ reconnected and reconciled (or no restart came): held until acknowledged """


@dataclass(frozen=True, slots=True)
class RestartView:
    """The restart as the status bar and the log show it."""

    stage: RestartStage
    outlook: RestartOutlook | None
    """ the schedule now (None: no daily restart) """
    next_restart: float | None
    """ the next restart still to come (after the one just over, once it is over) """
    zone: str
    """ the schedule's zone (IANA) """


def parse_time_of_day(text: str) -> dt.time:
    """``23:45`` or ``23:45:30`` (24-hour) as a time.

    Raises:
        ValueError: anything else.
    """
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) <= 2 for p in parts):
        raise ValueError(f"not a time of day HH:MM, got {text!r}")
    hour, minute, second = (int(p) for p in (*parts, "0")[:3])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day HH:MM, got {text!r}")
    return dt.time(hour, minute, second)


def parse_weekly(text: str) -> tuple[int, dt.time]:
    """``Sun 01:00`` as (weekday, Monday 0, and time).

    Raises:
        ValueError: anything else.
    """
    day, _, at = text.strip().partition(" ")
    names = [d.lower() for d in DAYS]
    if day[:3].lower() not in names or len(day) < 3:
        raise ValueError(f"not a weekday and time like 'Sun 01:00', got {text!r}")
    return names.index(day[:3].lower()), parse_time_of_day(at)


def zone_known(name: str) -> bool:
    """Whether this system knows the IANA zone ``name``."""
    return times.zone_info(name) is not None


def _tz(zone: str) -> dt.tzinfo:
    tz = times.zone_info(zone)
    if tz is None:
        raise ValueError(f"unknown time zone {zone!r}")
    return tz


def _instant(day: dt.date, at: dt.time, zone: str) -> float:
    # fold=0: an ambiguous time is its first occurrence, a missing one takes the offset
    # before the change (see the module docstring).
    return dt.datetime.combine(day, at, tzinfo=_tz(zone)).timestamp()
