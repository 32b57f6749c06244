"""In-process automation: strategies that run on the desk's loop, through its one gate.

Write a strategy by deriving from :class:`Strategy`; see ``ibdesk/strategies/examples/``.
"""

from ibdesk.domain.orders import Side
from ibdesk.domain.strategy import StrategyState
from ibdesk.strategies.base import Strategy
from ibdesk.strategies.handles import BarEvent, Bars, Handle

__all__ = ["BarEvent", "Bars", "Handle", "Side", "Strategy", "StrategyState"]
