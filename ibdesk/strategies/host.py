"""What the strategy runner needs from a desk (``ibdesk.desk.core.Desk`` provides it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ibdesk.trading.ports import OrderDoor

if TYPE_CHECKING:
    from ibdesk.clock import Clock
    from ibdesk.domain.bars import Timeframe
    from ibdesk.domain.instruments import Instrument
    from ibdesk.state.bars import BarKey, BarStore
    from ibdesk.state.orders import OrderStore
    from ibdesk.state.quotes import QuoteStore
    from ibdesk.trading.ports import JournalWriter


class StrategyHost(OrderDoor, Protocol):
    """Orders through the gate (``OrderDoor``), the market's stores, and instruments."""

    clock: Clock
    quotes: QuoteStore
    orders: OrderStore
    bars: BarStore

    @property
    def journal(self) -> JournalWriter:
        """Where the runner records what strategies did and why."""

    async def resolve(self, text: str) -> Instrument:
        """Look a symbol up at the broker (SymbolError: why not)."""

    def watch_quotes(self, instrument: Instrument) -> None:
        """Stream an instrument's quotes into ``quotes``."""

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """Start an instrument's bars (in ``bars`` on return); pair with close_chart."""

    def close_chart(self, key: BarKey) -> None:
        """Stop using a series of bars."""
