"""Accounts and positions."""

from __future__ import annotations

import dataclasses
from typing import Any

from ibdesk import events
from ibdesk.domain.account import AccountSnapshot, PositionSnapshot


class AccountStore:
    """The figures of each managed account.

    Events:
        updated(account): a figure of ``account`` changed.
    """

    def __init__(self) -> None:
        self.accounts: dict[str, AccountSnapshot] = {}
        """ account code -> AccountSnapshot """
        self.updated = events.new("accountUpdated")

    def get(self, account: str) -> AccountSnapshot:
        """The account's snapshot (all NaN until the broker reports)."""
        return self.accounts.get(account) or AccountSnapshot(account)

    def merge(self, account: str, **figures: Any) -> None:
        """Update some figures of one account (names of AccountSnapshot fields)."""
        current = self.get(account)
        new = dataclasses.replace(current, **figures)
        if new != current:
            self.accounts[account] = new
            self.updated.emit(account)


class PositionStore:
    """Open positions by (account, conId).

    Events:
        added(key): a new position appeared.
        updated(key): a position's quantity or valuation changed.
        removed(key): a position went flat.
    """

    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], PositionSnapshot] = {}
        """ (account, conId) -> PositionSnapshot """
        self.added = events.new("positionAdded")
        self.updated = events.new("positionUpdated")
        self.removed = events.new("positionRemoved")

    def put(self, pos: PositionSnapshot) -> None:
        """Store a position; a zero quantity removes it."""
        key = pos.key
        known = key in self.positions
        if pos.qty == 0:
            if known:
                del self.positions[key]
                self.removed.emit(key)
            return
        if known and self.positions[key] == pos:
            return
        self.positions[key] = pos
        (self.updated if known else self.added).emit(key)

    def merge(self, key: tuple[str, int], **figures: Any) -> None:
        """Update the valuation of a known position (unknown keys are ignored)."""
        current = self.positions.get(key)
        if current is None:
            return
        new = dataclasses.replace(current, **figures)
        if new != current:
            self.positions[key] = new
            self.updated.emit(key)
