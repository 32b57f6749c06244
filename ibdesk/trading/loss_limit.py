"""The daily loss limit: halt (and flatten, if configured) when the day's P&L breaches it,
and stay locked until the next session, across restarts, unless someone re-arms with a
typed reason."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from zoneinfo import ZoneInfo

from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.trading.killswitch import KillSwitch, StateJournal

#: IB's futures trading day (and CME Globex's) rolls at 18:00 New York time.
SESSION_ZONE = ZoneInfo("America/New_York")
SESSION_ROLL = dt.time(18, 0)
WHO = "daily loss limit"


def next_session(now: float) -> float:
    """When the next trading day starts after ``now`` (the next 18:00 New York time)."""
    local = dt.datetime.fromtimestamp(now, SESSION_ZONE)
    roll = dt.datetime.combine(local.date(), SESSION_ROLL, SESSION_ZONE)
    if local >= roll:
        roll = dt.datetime.combine(local.date() + dt.timedelta(days=1), SESSION_ROLL, SESSION_ZONE)
    return roll.timestamp()


WAIVER_KEY = "daily_loss_waived_until"


class DailyLossLimit:
    """Watches the account's daily P&L (reqPnL) against a limit (0: off).

    A breach halts (and flattens, if configured) and locks until the next session. A typed
    re-arm after a breach waives the limit until that same session start: the trader has
    decided, the journal says who and why, and the desk must not trip again on the next P&L
    tick. The waiver is kept in the journal, so a restart does not undo it.
    """

    def __init__(
        self,
        killswitch: KillSwitch,
        journal: StateJournal,
        limit: float,
        flatten: bool,
        clock: Callable[[], float],
    ) -> None:
        self.killswitch = killswitch
        self.journal = journal
        self.limit = limit
        self.flatten = flatten
        self.clock = clock
        last = killswitch.last_change
        locked = last.state is TradingState.HALTED and last.who == WHO
        self.breached_at: float | None = last.time if locked else None
        self.waived_until: float = float(journal.get_value(WAIVER_KEY, 0.0) or 0.0)
        killswitch.changed += self._on_state

    @property
    def waived(self) -> bool:
        """Whether a re-arm waived the limit for the rest of this session."""
        return self.clock() < self.waived_until

    def observe(self, daily_pnl: float) -> bool:
        """Check a new daily P&L figure; returns True when this figure tripped the limit."""
        if not self.limit or math.isnan(daily_pnl) or daily_pnl > -self.limit or self.waived:
            return False
        if self.killswitch.state is TradingState.HALTED and self.breached_at is not None:
            return False  # already locked
        now = self.clock()
        self.breached_at = now
        why = f"daily P&L {daily_pnl:,.2f} breached the limit of -{self.limit:,.2f}"
        self.killswitch.set_state(TradingState.HALTED, WHO, why, locked_until=next_session(now))
        if self.flatten:
            self.killswitch.flatten_all(WHO, why)
        else:
            self.killswitch.kill(WHO, why)
        return True

    def _on_state(self, change: StateChange) -> None:
        if change.state is TradingState.HALTED or self.breached_at is None:
            return
        self.waived_until = next_session(self.breached_at)
        self.breached_at = None
        self.journal.set_value(WAIVER_KEY, self.waived_until)
