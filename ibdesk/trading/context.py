"""What a pre-trade check may look at, and the trading state the gate reads.

A check is a small pure function of an order and a :class:`CheckContext` (a read-only view of
positions, working orders, prices, the gate's recent orders and the trading state), returning
None to allow or the reason to deny. Both the gate (``gate.py``) and the checks (``checks.py``)
speak these terms, so they live apart from both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ibdesk.domain.orders import OrderIntent, OrderSnapshot
from ibdesk.domain.risk import TradingState
from ibdesk.domain.strategy import StrategyState


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a risk check may look at: a read-only view, no way to act."""

    now: float
    position: Callable[[str, int], float]
    """ (account, conId) -> signed position """
    working: Sequence[OrderSnapshot]
    last_price: Callable[[int], float]
    """ conId -> last (or mid) price, NaN when unknown """
    recent: Sequence[tuple[float, str, OrderIntent]] = ()
    """ (time, source, intent) of every order the gate accepted in the last minute """
    daily_pnl: float = math.nan
    """ the traded account's P&L today (reqPnL), NaN when unknown """
    loss_limit_waived: bool = False
    """ a typed re-arm after a daily-loss breach waives the limit until the next session """
    state: TradingState = TradingState.ACTIVE
    new_orders: int = 1
    """ how many orders the intent under judgement would add to the book (a bracket: 3) """


class TradingStateSource(Protocol):
    """Where the gate reads the trading state in force (ibdesk.trading.latch.StateLatch)."""

    @property
    def state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""


class StrategyStanding(Protocol):
    """What the gate asks the strategy runner of a strategy's order (ibdesk.strategies)."""

    def state_of(self, name: str) -> StrategyState | None:
        """The strategy's state; None for a name the runner does not know."""

    def position_of(self, name: str, con_id: int) -> float:
        """The strategy's own signed position in an instrument (from its own fills)."""

    def paused_why(self, name: str) -> str:
        """Why the strategy is paused, in words ("for the TWS restart at 23:45 ET"); empty
        when it is not paused."""


@dataclass(slots=True)
class FixedState:
    """A trading state nobody latches: a gate on its own (tests, tools) starts ACTIVE."""

    state: TradingState = TradingState.ACTIVE


Check = Callable[[OrderIntent, CheckContext], str | None]
"""A risk check: None to allow, or the reason to deny (in plain words)."""
