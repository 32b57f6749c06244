"""When a future is close enough to its expiry to roll: one rule, in the words the ticket,
the watchlist and the chart header show.

A position held into the last trading day goes to delivery or cash settlement, and liquidity
leaves the expiring month days before; a trader who sees "expires in 3 days" only in the
ticket, and not where the instrument is watched, finds out too late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ibdesk.domain.instruments import Instrument


@dataclass(frozen=True, slots=True)
class RollWarning:
    """A future within the warning days of its last trading day."""

    symbol: str
    """ the contract (``ESZ6``) """
    expiry: dt.date
    """ its last trading day """
    days: int
    """ calendar days until it (0 on the day, negative once past) """

    @property
    def short(self) -> str:
        """``expires in 3 days``, ``expires tomorrow``, ``expires today``, ``expired``."""
        if self.days < 0:
            return "expired"
        if self.days == 0:
            return "expires today"
        if self.days == 1:
            return "expires tomorrow"
        return f"expires in {self.days} days"

    @property
    def marker(self) -> str:
        """The few characters a table cell has room for: ``roll 3d``."""
        return f"roll {max(self.days, 0)}d"

    @property
    def text(self) -> str:
        """The whole warning: ``ESZ6 expires Fri 18 Dec 2026, in 3 days: roll to the next
        contract.``"""
        when = f"{self.expiry:%a %d %b %Y}"
        said = f"expires {when}, in {self.days} days" if self.days > 1 else f"{self.short} ({when})"
        return f"{self.symbol} {said}: roll to the next contract."


def roll_warning(inst: Instrument, today: dt.date, within_days: int) -> RollWarning | None:
    """The warning for ``inst`` on ``today`` when it expires within ``within_days`` calendar
    days (``[ticket] roll_warning_days``; 0: on its last day only), else None. Instruments
    that do not expire never warn."""
    days = inst.days_to_expiry(today)
    expiry = inst.expiry_date
    if days is None or expiry is None or days > within_days:
        return None
    return RollWarning(inst.display, expiry, days)
