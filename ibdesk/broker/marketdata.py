"""Market-data subscriptions that survive reconnects, 1101 and farm blips.

Every wanted instrument is resubscribed after a reconnect (the library forgets its tickers
when the socket drops), after 1101 ("restored, data lost"), and after a market-data farm
comes back (2104 after 2103: streams have been seen to stay dead otherwise).

Every quote is judged before it is stored (``translate.judge_quote``): an absurd price or
size keeps the last sane value. Should a real market move more than tenfold (a split
while the desk runs), ``REANCHOR_AFTER`` quotes in a row whose bid, ask and last are all
refused make the desk judge that instrument's quotes afresh, and say so.
"""

from __future__ import annotations

import logging

from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.state.link import LinkStore
from ibdesk.state.quotes import QuoteStore

log = logging.getLogger("ibdesk.broker.marketdata")

#: RTVolume: last trade, size and time in one tick.
GENERIC_TICKS = "233"
REANCHOR_AFTER = 20
""" quotes in a row with bid, ask and last all refused before the reference is dropped """
CORE = frozenset({"bid", "ask", "last"})


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
        self.tickers: dict[int, shim.Ticker] = {}
        """ conId -> the library Ticker of the live subscription """
        self._con_id_of: dict[int, int] = {}
        """ id(Ticker) -> conId """
        self._farm_down = False
        self._refused_in_a_row: dict[int, int] = {}
        """ conId -> quotes in a row whose bid, ask and last were all refused """
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
            if self.ib.isConnected() and ticker.contract is not None:
                self.ib.cancelMktData(ticker.contract)
        self.quotes.forget(con_id)
        self._refused_in_a_row.pop(con_id, None)
        self._update_meter()

    def resubscribe_all(self) -> None:
        """Cancel whatever the library still holds and subscribe every wanted instrument."""
        for con_id, ticker in list(self.tickers.items()):
            if self.ib.isConnected() and ticker.contract is not None:
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

    def _on_pending(self, tickers: set[shim.Ticker]) -> None:
        put, previous = self.quotes.put, self.quotes.quotes.get
        con_id_of, wanted, clock = self._con_id_of, self.wanted, self.session.clock
        for ticker in tickers:
            con_id = con_id_of.get(id(ticker))
            if con_id is None:
                continue
            last = previous(con_id)
            quote, refused = translate.judge_quote(
                con_id, ticker, last, wanted.get(con_id), clock=clock
            )
            if refused or self._refused_in_a_row:
                quote = self._after_refusals(con_id, ticker, last, quote, refused)
            put(quote)

    def _after_refusals(
        self,
        con_id: int,
        ticker: shim.Ticker,
        last: Quote | None,
        quote: Quote,
        refused: tuple[str, ...],
    ) -> Quote:
        """Count quotes whose whole top of book was refused; past ``REANCHOR_AFTER`` in a
        row the reference is stale, not the market: judge afresh."""
        if not CORE.issubset(refused):
            self._refused_in_a_row.pop(con_id, None)
            return quote
        streak = self._refused_in_a_row.get(con_id, 0) + 1
        if streak < REANCHOR_AFTER:
            self._refused_in_a_row[con_id] = streak
            return quote
        self._refused_in_a_row.pop(con_id, None)
        log.warning(
            "conId %d: %d quotes in a row far from the last sane price; judging its quotes "
            "afresh (the market really moved)",
            con_id,
            streak,
        )
        inst = self.wanted.get(con_id)
        return translate.judge_quote(
            con_id, ticker, last, inst, self_reference=True, clock=self.session.clock
        )[0]

    def _on_error(self, req_id: int, code: int, text: str) -> None:
        if code == 1101:
            self.resubscribe_all()
        elif code == 2103:
            self._farm_down = True
        elif code == 2104 and self._farm_down:
            self._farm_down = False
            self.resubscribe_all()
