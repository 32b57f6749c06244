"""The latched trading state as the journal keeps it: one record per account.

A kill latches HALTED for the account it was made for, not for every account this machine
ever traded: a kill in a paper account must not make the next live session start HALTED.
(The demo goes further and keeps a journal file of its own, see ``journal.default_path``.)

Records live under ``trading_state/<account>``. Before the desk has ever connected it knows
no account, and then the record is the unbound one under ``trading_state`` (the key every
journal written before accounts were told apart uses too); the first account that connects
takes it over. ``last_account`` remembers which account the desk traded last, so a restarted
desk shows that account's state before it connects.

Every process that latches (the desk, ``ibdesk kill``, the kill window, the watchdog) writes
through :func:`write`, and the desk reads through :func:`read`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ibdesk import events
from ibdesk.domain.risk import StateChange, TradingState

STATE_KEY = "trading_state"
""" the unbound record (and the prefix of every account's) """
LAST_ACCOUNT_KEY = "last_account"


class ValueStore(Protocol):
    """The journal's small-value store (ibdesk.trading.journal.Journal)."""

    def set_value(self, key: str, value: Any) -> None:
        """Persist a small JSON-able value."""

    def get_value(self, key: str, default: Any = None) -> Any:
        """Read a persisted value."""


class StateJournal(ValueStore, Protocol):
    """The journal calls the state's owner makes."""

    def action(self, who: str, action: str, detail: str = "") -> None:
        """Record a user action or an outcome."""


def key_for(account: str) -> str:
    """Where an account's record is kept (the unbound record for no account)."""
    return f"{STATE_KEY}/{account}" if account else STATE_KEY


def read(journal: ValueStore, account: str) -> dict[str, Any] | None:
    """The account's latched record; the unbound one when the account has none yet."""
    saved = journal.get_value(key_for(account)) if account else None
    if saved is None:
        saved = journal.get_value(STATE_KEY)
    return dict(saved) if isinstance(saved, Mapping) else None


def write(journal: ValueStore, accounts: Iterable[str], record: Mapping[str, Any]) -> None:
    """Latch ``record`` for each account (none known: the last account traded, else the
    unbound record)."""
    targets = [a for a in accounts if a] or [last_account(journal)]
    for account in dict.fromkeys(targets):
        journal.set_value(key_for(account), dict(record))


def last_account(journal: ValueStore) -> str:
    """The account the desk traded last ("" before it ever connected)."""
    return str(journal.get_value(LAST_ACCOUNT_KEY, "") or "")


def remember_account(journal: ValueStore, account: str) -> None:
    """The desk now trades ``account``."""
    if account:
        journal.set_value(LAST_ACCOUNT_KEY, account)


# ---- the one owner of the trading state --------------------------------------------------------

#: How strict each state is: leaving a state for a less strict one takes a typed reason.
STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class StateLatch:
    """The trading state in force (ACTIVE / REDUCING / HALTED) and its one setter.

    The gate reads :attr:`state` on every order; the kill switch, the loss limit, the
    watchdog's adoption and the trader's buttons change it only through :meth:`set`, which
    journals who, when and why, persists it for the accounts it applies to, and emits
    ``changed``. Loosening it (HALTED to REDUCING or ACTIVE, REDUCING to ACTIVE) takes a
    typed reason.

    Events:
        changed(change): the state changed (a StateChange), or the connected account's own
            latched state came in force (:meth:`bind`).
    """

    def __init__(self, journal: StateJournal, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.clock = clock
        self.account = last_account(journal)
        """ the account the state is for: the connected one, else the last traded """
        self.accounts: tuple[str, ...] = ()
        """ every account of the connected login (a kill's global cancel reaches them all) """
        self.changed = events.new("tradingStateChanged")
        self.last_change = self._restore()
        self._changed_unbound = False
        self._held = False

    @property
    def state(self) -> TradingState:
        """The state in force: the last change, or HALTED while :meth:`hold` is on."""
        return TradingState.HALTED if self._held else self.last_change.state

    def hold(self) -> None:
        """HALTED in force at once, from any thread, before anything is journaled: the stall
        watchdog calls this while the loop is stuck, and the loop journals the halt (through
        :meth:`set`) when it wakes. One attribute write, so it needs no lock."""
        self._held = True

    @property
    def locked_until(self) -> float | None:
        """When a daily-loss lock ends by itself (None: no lock)."""
        saved = read(self.journal, self.account) or {}
        until = saved.get("locked_until")
        return float(until) if until is not None else None

    def set(
        self, state: TradingState, who: str, why: str, locked_until: float | None = None
    ) -> StateChange:
        """Change the state (journaled, persisted, announced).

        Raises:
            ValueError: loosening the state without a typed reason.
        """
        current = self.state
        if STRICTNESS[state] < STRICTNESS[current] and not why.strip():
            raise ValueError(f"Leaving {current.value} for {state.value} needs a typed reason.")
        change = StateChange(state, who, why, self.clock())
        self.last_change = change
        self._held = False
        self._changed_unbound = not self.accounts
        self._persist(change, locked_until)
        self.journal.action(who, f"trading state {state.value}", why)
        self.changed.emit(change)
        return change

    def bind(self, accounts: Sequence[str], traded: str) -> None:
        """The desk connected to a login with ``accounts``, trading ``traded``: that
        account's latched state comes in force. A change made while no account was
        connected (a kill pressed before the connection came up) applies to this login
        instead, since its global cancel is the first thing the login receives."""
        self.accounts = tuple(a for a in accounts if a) or ((traded,) if traded else ())
        self.account = traded
        remember_account(self.journal, traded)
        if self._changed_unbound:
            self._changed_unbound = False
            self._persist(self.last_change, None)
            return
        saved = self._restore()
        if saved != self.last_change:
            self.last_change = saved
            self.journal.action("journal", f"trading state {saved.state.value}", f"for {traded}")
            self.changed.emit(saved)

    def unbind(self) -> None:
        """The connection is gone: changes now are made before we know where they apply."""
        self.accounts = ()

    def newer_stricter(self) -> StateChange | None:
        """A stricter state written to the journal by another process (``ibdesk kill``, the
        kill window, the watchdog) after our last change, or None."""
        saved = read(self.journal, self.account)
        if not saved:
            return None
        change = _change_of(saved)
        stricter = STRICTNESS[change.state] > STRICTNESS[self.state]
        return change if stricter and change.time > self.last_change.time else None

    def _restore(self) -> StateChange:
        """The account's latched state (a daily-loss lock that expired comes back ACTIVE)."""
        saved = read(self.journal, self.account)
        if not saved:
            return StateChange(TradingState.ACTIVE, "start", "", self.clock())
        change = _change_of(saved)
        until = saved.get("locked_until")
        if until is not None and self.clock() >= float(until):
            change = StateChange(
                TradingState.ACTIVE,
                "daily loss lock",
                "the lock expired at the start of a new session",
                self.clock(),
            )
            self._persist(change, None)
        return change

    def _persist(self, change: StateChange, locked_until: float | None) -> None:
        write(
            self.journal,
            self.accounts or (self.account,),
            {
                "state": change.state.value,
                "who": change.who,
                "why": change.why,
                "time": change.time,
                "locked_until": locked_until,
            },
        )


def _change_of(saved: Mapping[str, Any]) -> StateChange:
    return StateChange(
        TradingState(saved["state"]),
        str(saved.get("who", "")),
        str(saved.get("why", "")),
        float(saved.get("time", 0.0)),
    )
