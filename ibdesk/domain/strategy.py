"""A strategy's standing, as the gate, the runner and the panel all speak of it."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class StrategyState(enum.Enum):
    """What a strategy may do now.

    RUNNING trades. PAUSED takes no new risk: the gate lets through only its orders that
    reduce its own position (its exits, its stops moved), and every cancel. STOPPED and
    HALTED send nothing (HALTED: a breaker, an error or the kill switch stopped it, and a
    person must start it again).
    """

    STOPPED = "Stopped"
    RUNNING = "Running"
    PAUSED = "Paused"
    HALTED = "Halted"

    @property
    def trades(self) -> bool:
        """Whether it may place orders that add to its position."""
        return self is StrategyState.RUNNING

    @property
    def active(self) -> bool:
        """Whether its callbacks run (RUNNING or PAUSED: a paused strategy manages exits)."""
        return self in (StrategyState.RUNNING, StrategyState.PAUSED)


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """One strategy as the panel shows it: a snapshot the runner publishes on each change."""

    name: str
    path: str
    state: StrategyState
    reason: str = ""
    """ why it is in this state (who paused it, which limit tripped, the error) """
    instruments: tuple[str, ...] = ()
    position: float = 0.0
    """ its own net position, summed over its instruments (contracts/shares) """
    positions: tuple[tuple[str, float], ...] = ()
    """ (instrument, its own position) for every instrument it holds """
    held: tuple[tuple[int, float], ...] = ()
    """ the same positions by conId, for the positions panel's rows """
    pnl: float = math.nan
    """ realized + open P&L today from its own fills (NaN before the first price) """
    working: int = 0
    """ its live orders """
    last_why: str = ""
    callback_ms: float = 0.0
    """ the slowest callback of the last minute """
    slow: bool = False
    """ a callback took longer than the configured budget """
    errors: int = 0
    left_position: bool = False
    """ stopped with a position it no longer manages ("left by <name>") """
    params: tuple[tuple[str, object], ...] = ()
    client_id: int | None = None
    """ the API client it trades as, when that is another client's (an ``ibdesk run`` on a
    server): the desk only watches it, from its orders and fills at the broker """

    @property
    def remote(self) -> bool:
        """Whether it runs elsewhere (shown here, started and stopped where it runs)."""
        return self.client_id is not None
