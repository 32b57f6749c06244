"""Market-data subscriptions that survive reconnects, 1101 and farm blips.

Every wanted instrument is resubscribed after a reconnect (the library forgets its tickers
when the socket drops), after 1101 ("restored, data lost"), and after a market-data farm
comes back (2104 after 2103: streams have been seen to stay dead otherwise).
"""

from __future__ import annotations

import logging
from typing import Any

from ibdesk.broker import translate
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.instruments import Instrument
from ibdesk.state.link import LinkStore
from ibdesk.state.quotes import QuoteStore

log = logging.getLogger("ibdesk.broker.marketdata")

#: RTVolume: last trade, size and time in one tick.
GENERIC_TICKS = "233"


class MarketData:
    """Keeps one streaming subscription per wanted instrument and feeds the QuoteStore."""

    def __init__(
        self,
        session: BrokerSession,
        resolver: InstrumentResolver,
        quotes: QuoteStore,
        link: LinkStore,
    ) -> None:
        self.session = session
        self.ib = session.ib
        self.resolver = resolver
        self.quotes = quotes
        self.link = link
        self.wanted: dict[int, Instrument] = {}
        """ conId -> Instrument that should be streaming """
        self.tickers: dict[int, Any] = {}
        """ conId -> the library Ticker of the live subscription """
        self._con_id_of: dict[int, int] = {}
        """ id(Ticker) -> conId """
        self._farm_down = False
        self.ib.pendingTickersEvent += self._on_pending
        session.connected += self.resubscribe_all
        session.disconnected += self._forget_tickers
        session.error += self._on_error

    def watch(self, inst: Instrument) -> None:
        """Stream quotes for an instrument (now if connected, else at the next connect)."""
        self.wanted[inst.con_id] = inst
        if self.ib.isConnected():
            self._subscribe(inst)

    def unwatch(self, con_id: int) -> None:
        """Stop streaming an instrument."""
        self.wanted.pop(con_id, None)
        ticker = self.tickers.pop(con_id, None)
        if ticker is not None:
            self._con_id_of.pop(id(ticker), None)
            if self.ib.isConnected():
                self.ib.cancelMktData(ticker.contract)
        self.quotes.forget(con_id)
        self._update_meter()

    def resubscribe_all(self) -> None:
        """Cancel whatever the library still holds and subscribe every wanted instrument."""
        for con_id, ticker in list(self.tickers.items()):
            if self.ib.isConnected():
                self.ib.cancelMktData(ticker.contract)
            self._con_id_of.pop(id(ticker), None)
            del self.tickers[con_id]
        for inst in self.wanted.values():
            self._subscribe(inst)
        log.info("subscribed %d instruments", len(self.wanted))

    def _subscribe(self, inst: Instrument) -> None:
        if inst.con_id in self.tickers:
            return
        contract = self.resolver.contract(inst.con_id)
        ticker = self.ib.reqMktData(contract, GENERIC_TICKS)
        self.tickers[inst.con_id] = ticker
        self._con_id_of[id(ticker)] = inst.con_id
        self._update_meter()

    def _forget_tickers(self) -> None:
        self.tickers.clear()
        self._con_id_of.clear()
        self._update_meter()

    def _update_meter(self) -> None:
        self.link.set_meters(market_lines=len(self.tickers))

    def _on_pending(self, tickers: Any) -> None:
        put = self.quotes.put
        con_id_of = self._con_id_of
        for ticker in tickers:
            con_id = con_id_of.get(id(ticker))
            if con_id is not None:
                put(translate.quote(con_id, ticker))

    def _on_error(self, req_id: int, code: int, text: str) -> None:
        if code == 1101:
            self.resubscribe_all()
        elif code == 2103:
            self._farm_down = True
        elif code == 2104 and self._farm_down:
            self._farm_down = False
            self.resubscribe_all()
