"""Trading states, kill and flatten reports: the vocabulary of the kill switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ibdesk.domain.times import time_of_day


class TradingState(StrEnum):
    """What the desk may do.

    ACTIVE: everything the risk checks allow.
    REDUCING: only orders that reduce a position (exits).
    HALTED: nothing but cancels (and a flatten's reduce-only exits); latched until a person
        re-arms with a typed reason.
    """

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class StateChange:
    """Who changed the trading state, when, and why (journaled, shown, persisted)."""

    state: TradingState
    who: str
    why: str
    time: float


@dataclass(frozen=True, slots=True)
class OpenOrderLine:
    """One order still open at the broker, as the verification found it."""

    perm_id: int
    client_id: int
    order_id: int
    symbol: str
    side: str
    qty: float
    order_type: str
    status: str


@dataclass(frozen=True, slots=True)
class PositionLine:
    """One position at the broker, as the verification found it."""

    account: str
    symbol: str
    con_id: int
    qty: float


@dataclass(frozen=True, slots=True)
class KillReport:
    """What a kill (or flatten) did and what the broker confirmed afterwards.

    ``verified`` means the broker was asked again after the global cancel (and the closing
    orders) and reported no working order (and no position) left.
    """

    account: str
    started: float
    finished: float
    verified: bool
    open_orders: tuple[OpenOrderLine, ...] = ()
    positions: tuple[PositionLine, ...] = ()
    flatten: bool = False
    closing: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)
    cancelled: tuple[OpenOrderLine, ...] = ()
    """ orders that were working, from every client, when the kill was sent """
    client_id: int = 0
    """ the client id the kill's connection used (0: unknown, or the desk's own) """
    notes: tuple[str, ...] = ()
    """ what the trader should know besides (who kept placing orders after the cancel) """

    def summary(self) -> str:
        """One line for the window and the command line; its time is local, labelled."""
        stamp = time_of_day(self.finished)
        where = self.account or "the account"
        noted = "".join(f" {note[0].upper()}{note[1:]}." for note in self.notes)
        if self.verified:
            text = f"0 working orders in {where}"
            if self.flatten:
                text += ", 0 positions"
            return f"{text}, verified at {stamp}.{noted}"
        parts = []
        if self.open_orders:
            parts.append(
                f"{len(self.open_orders)} working order{'s' * (len(self.open_orders) != 1)} remain"
            )
        if self.flatten and self.positions:
            parts.append(f"{len(self.positions)} position{'s' * (len(self.positions) != 1)} remain")
        parts += list(self.problems) + list(self.notes)
        return f"NOT verified at {stamp} in {where}: " + "; ".join(parts or ["no answer"])
