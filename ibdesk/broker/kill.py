"""The kill switch's hands at the broker (trading.killswitch.KillPort on the client library).

A global cancel asked for while disconnected is not forgotten: it is sent from inside the
handshake, the moment the API is up and before the library's own start-up requests, so it is
the first message TWS reads from the reconnected client.
"""

from __future__ import annotations

import math

from ibdesk.broker import ib as shim
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.orders import OrderRouter
from ibdesk.broker.pacing import order_id_of
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.risk import OpenOrderLine, PositionLine
from ibdesk.state.quotes import QuoteStore


def open_order_line(trade: shim.Trade) -> OpenOrderLine:
    """A library Trade as a verification line."""
    order = trade.order
    return OpenOrderLine(
        perm_id=int(order.permId or 0),
        client_id=int(order.clientId),
        order_id=int(order.orderId),
        symbol=trade.contract.localSymbol or trade.contract.symbol,
        side=order.action,
        qty=float(order.totalQuantity),
        order_type=order.orderType,
        status=trade.orderStatus.status,
    )


def position_line(pos: shim.Position) -> PositionLine:
    """A library Position as a verification line."""
    return PositionLine(
        account=pos.account,
        symbol=pos.contract.localSymbol or pos.contract.symbol,
        con_id=int(pos.contract.conId),
        qty=float(pos.position),
    )


class BrokerKillPort:
    """Purge, global cancel, and fresh answers from the broker for verification."""

    def __init__(
        self,
        session: BrokerSession,
        router: OrderRouter,
        resolver: InstrumentResolver,
        quotes: QuoteStore,
    ) -> None:
        self.session = session
        self.ib = session.ib
        self.router = router
        self.resolver = resolver
        self.quotes = quotes
        self.cancel_pending = False
        self.ib.client.apiStart += self._on_api_start

    @property
    def connected(self) -> bool:
        """Whether the API is up (requests can be sent)."""
        return bool(self.ib.isConnected())

    @property
    def account(self) -> str:
        """The account being traded."""
        return self.session.account

    def purge(self) -> set[int]:
        """Drop every queued ordinary message; returns the order ids that will never go."""
        return {order_id_of(m) for m in self.router.pacer.purge()} - {0}

    def global_cancel(self) -> None:
        """reqGlobalCancel now (priority lane), or first thing after the next connect."""
        if self.connected:
            self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
            # After the send: the kill's cancel waits for nothing; its 202s are read later.
            self.router.note_global_cancel()
        else:
            self.cancel_pending = True

    def _on_api_start(self) -> None:
        if self.cancel_pending:
            self.cancel_pending = False
            self.ib.client.reqGlobalCancel()  # type: ignore[no-untyped-call]
            self.router.note_global_cancel()

    async def open_orders(self) -> list[OpenOrderLine]:
        """Every open order of the account, every client included (reqAllOpenOrders)."""
        trades = await self.ib.reqAllOpenOrdersAsync()
        return [open_order_line(t) for t in trades]

    async def positions(self) -> list[PositionLine]:
        """Every position, asked afresh."""
        return [position_line(p) for p in await self.ib.reqPositionsAsync()]

    async def instrument(self, con_id: int) -> Instrument:
        """The instrument of a position (from the cache, or the broker)."""
        return await self.resolver.for_contract(shim.Contract(conId=con_id))

    def touch(self, con_id: int) -> tuple[float, float]:
        """The current bid and ask (NaN when the instrument is not streaming)."""
        quote = self.quotes.get(con_id)
        return (quote.bid, quote.ask) if quote is not None else (math.nan, math.nan)
