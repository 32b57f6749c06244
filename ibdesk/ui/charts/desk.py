"""What the charts need from the running desk (ibdesk.app implements it; tests may fake it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ibdesk.config import Settings
    from ibdesk.domain.bars import Timeframe
    from ibdesk.domain.instruments import Instrument
    from ibdesk.domain.orders import BracketIntent, GateDecision, OrderIntent
    from ibdesk.state.account import AccountStore, PositionStore
    from ibdesk.state.bars import BarKey, BarStore
    from ibdesk.state.link import LinkStore
    from ibdesk.state.orders import OrderStore
    from ibdesk.state.quotes import QuoteStore


class ChartDesk(Protocol):
    """The stores a chart draws from and the operations it trades through."""

    settings: Settings
    link: LinkStore
    quotes: QuoteStore
    orders: OrderStore
    positions: PositionStore
    accounts: AccountStore
    bars: BarStore

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """Resolve a symbol and start its bars; the series is in ``bars`` on return."""

    def close_chart(self, key: BarKey) -> None:
        """A chart stopped showing a series."""

    def place(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Send an order through the gate."""

    def modify_order(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: str = "blotter",
    ) -> GateDecision:
        """Modify a working order through the gate."""

    def confirm_reasons(self, intent: OrderIntent | BracketIntent) -> list[str]:
        """Why an order needs the trader's confirmation (empty: it does not)."""

    def judge(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """What the gate would decide for an order now (nothing is sent)."""

    def judge_modify(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: str = "blotter",
    ) -> GateDecision:
        """What the gate would decide for a modify now (nothing is sent)."""
