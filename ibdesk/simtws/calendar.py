"""Expiry rules and trading hours for the simulated instruments.

Exchange holidays are ignored: a weekday is a business day. That keeps the rules small and
still gives the right expiries in all but a handful of days a year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

MONTH_CODES = "FGHJKMNQUVXZ"


def month_code(month: int) -> str:
    """CME month letter: 1 -> F, 12 -> Z."""
    return MONTH_CODES[month - 1]


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday (holidays are not modelled)."""
    return day.weekday() < 5


def business_days_before(day: dt.date, count: int) -> dt.date:
    """The business day ``count`` business days before ``day``."""
    while count > 0:
        day -= dt.timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def third_friday(year: int, month: int) -> dt.date:
    """Equity index futures (ES, NQ and their micros) expire on the third Friday."""
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


def crude_last_trade(year: int, month: int, extra_days: int = 0) -> dt.date:
    """CL: trading ends 3 business days before the 25th of the month before delivery.

    If the 25th is not a business day, the count starts from the business day before it.
    MCL ends one business day earlier (``extra_days=1``).
    """
    prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
    anchor = dt.date(prev_year, prev_month, 25)
    if not is_business_day(anchor):
        anchor = business_days_before(anchor, 1)
    return business_days_before(anchor, 3 + extra_days)


def third_last_business_day(year: int, month: int) -> dt.date:
    """Gold (GC, MGC): trading ends on the third-last business day of the contract month."""
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return business_days_before(nxt, 3)


@dataclass(frozen=True, slots=True)
class SessionRule:
    """A weekly pattern of sessions in an exchange time zone.

    Attributes:
        tz: IANA name as IB spells it in contract details (``US/Central``).
        open_time: the session open on the previous evening, or on the day itself when
            ``overnight`` is false.
        close_time: the session close.
        overnight: the session opens the evening before its trading day (Globex style).
        liquid_open / liquid_close: regular trading hours within the session.
        days: weekdays (0 = Monday) that are trading days.
    """

    tz: str
    open_time: dt.time
    close_time: dt.time
    overnight: bool
    liquid_open: dt.time
    liquid_close: dt.time
    days: tuple[int, ...] = (0, 1, 2, 3, 4)

    def zone(self) -> ZoneInfo:
        """The rule's time zone."""
        return ZoneInfo(self.tz)

    def sessions(
        self, start: dt.date, days: int
    ) -> Iterator[tuple[dt.date, dt.datetime | None, dt.datetime | None]]:
        """(trading day, open, close) for ``days`` calendar days from ``start``; None if closed."""
        zone = self.zone()
        for i in range(days):
            day = start + dt.timedelta(days=i)
            if day.weekday() not in self.days:
                yield day, None, None
                continue
            open_day = day - dt.timedelta(days=1) if self.overnight else day
            opened = dt.datetime.combine(open_day, self.open_time, zone)
            closed = dt.datetime.combine(day, self.close_time, zone)
            yield day, opened, closed

    def liquid_sessions(
        self, start: dt.date, days: int
    ) -> Iterator[tuple[dt.date, dt.datetime | None, dt.datetime | None]]:
        """(trading day, RTH open, RTH close) for ``days`` calendar days from ``start``."""
        zone = self.zone()
        for day, opened, _ in self.sessions(start, days):
            if opened is None:
                yield day, None, None
            else:
                # A liquid window that "opens after it closes" (FX) starts the evening before.
                open_day = (
                    day - dt.timedelta(days=1) if self.liquid_open >= self.liquid_close else day
                )
                yield (
                    day,
                    dt.datetime.combine(open_day, self.liquid_open, zone),
                    dt.datetime.combine(day, self.liquid_close, zone),
                )

    def is_open(self, when: dt.datetime, liquid: bool = False) -> bool:
        """Whether ``when`` (aware) falls inside a session (or its regular hours)."""
        local = when.astimezone(self.zone())
        start = local.date() - dt.timedelta(days=1)
        rows = self.liquid_sessions(start, 3) if liquid else self.sessions(start, 3)
        return any(o is not None and c is not None and o <= local < c for _, o, c in rows)


def hours_string(rule: SessionRule, start: dt.date, days: int = 7, liquid: bool = False) -> str:
    """IB's trading-hours format: ``20261123:1700-20261124:1600;20261128:CLOSED``.

    Each session is keyed by the date it opens on, so a Globex session that opens on Sunday
    evening reads ``20261122:1700-20261123:1600``; a date is ``CLOSED`` only when no session
    opens on it (TWS never lists one date as both closed and open).
    """
    sessions = rule.liquid_sessions if liquid else rule.sessions
    # One day more than shown, to know whether the last day opens a session of the next.
    opening = {o.date() for _, o, c in sessions(start, days + 1) if o is not None}
    parts = []
    for day, opened, closed in sessions(start, days):
        if opened is None or closed is None:
            if day not in opening:
                parts.append(f"{day:%Y%m%d}:CLOSED")
        else:
            parts.append(f"{opened:%Y%m%d:%H%M}-{closed:%Y%m%d:%H%M}")
    return ";".join(parts)


def _t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


GLOBEX_EQUITY = SessionRule("US/Central", _t("17:00"), _t("16:00"), True, _t("08:30"), _t("15:00"))
NYMEX_ENERGY = SessionRule("US/Eastern", _t("18:00"), _t("17:00"), True, _t("09:00"), _t("14:30"))
COMEX_METALS = SessionRule("US/Eastern", _t("18:00"), _t("17:00"), True, _t("08:20"), _t("13:30"))
US_EQUITY = SessionRule("US/Eastern", _t("04:00"), _t("20:00"), False, _t("09:30"), _t("16:00"))
IDEALPRO_FX = SessionRule("US/Eastern", _t("17:15"), _t("17:00"), True, _t("17:15"), _t("17:00"))
