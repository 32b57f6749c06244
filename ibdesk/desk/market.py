"""The desk's market operations (``api.MarketOps``): instruments looked up at the broker,
watched, charted, warned of their expiry; and the watchlist the desk starts with, added once
connected."""

from __future__ import annotations

import logging

from ibdesk import clock as clocks
from ibdesk.broker.history import HistoryService
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.marketdata import MarketData
from ibdesk.broker.session import BrokerSession
from ibdesk.config import Settings
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.instruments import Instrument, SymbolError
from ibdesk.domain.roll import RollWarning, roll_warning
from ibdesk.state.bars import BarKey
from ibdesk.state.quotes import WatchlistStore
from ibdesk.tasks import TaskGroup

log = logging.getLogger("ibdesk.desk")


class DeskMarket:
    """Instruments and their data over the desk's broker services (a part of ``core.Desk``)."""

    settings: Settings
    clock: clocks.Clock
    session: BrokerSession
    resolver: InstrumentResolver
    market_data: MarketData
    history: HistoryService
    watchlist: WatchlistStore
    tasks: TaskGroup
    _ticket_watch: int
    _watchlist_pending: list[str]

    async def add_symbol(self, text: str) -> str:
        """Resolve a typed symbol at the broker and watch it.

        Raises:
            SymbolError: the text is not a symbol, the broker has no such contract, or there
                is no connection to ask.
        """
        inst = await self.resolve(text)
        if not self.watchlist.add(inst):
            return f"{inst.display} is already on the watchlist."
        self.market_data.watch(inst)
        expiry = inst.expiry_date
        return f"Added {inst.display}" + (f", expiring {expiry:%d %b %Y}." if expiry else ".")

    def remove_symbol(self, con_id: int) -> None:
        """Stop watching an instrument."""
        if self.watchlist.remove(con_id) and con_id != self._ticket_watch:
            self.market_data.unwatch(con_id)  # not while the ticket still prices from it

    async def resolve(self, text: str) -> Instrument:
        """Look a typed symbol up at the broker (futures: the front month).

        Raises:
            SymbolError: not a symbol, no such contract, or no connection to ask.
        """
        if not self.session.is_connected:
            raise SymbolError(
                "Not connected: symbols are looked up at the broker, so connect "
                "first (File > Connect to…)."
            )
        try:
            return await self.resolver.resolve(text)
        except (ConnectionError, TimeoutError) as exc:
            raise SymbolError(
                f"The connection dropped while looking up {text!r} ({exc}); "
                "try again once reconnected."
            ) from exc

    def watch_quotes(self, instrument: Instrument) -> None:
        """Stream an instrument's quotes (a strategy's instruments), watchlist or not."""
        self.market_data.watch(instrument)

    async def ticket_instrument(self, text: str) -> Instrument:
        """Resolve the ticket's instrument and stream its quotes (the ticket prices from
        them), whether or not it is on the watchlist."""
        inst = await self.resolve(text)
        previous, self._ticket_watch = self._ticket_watch, inst.con_id
        if previous not in (0, inst.con_id) and previous not in self.watchlist:
            self.market_data.unwatch(previous)  # a market-data line is worth keeping free
        self.market_data.watch(inst)
        return inst

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """Resolve a chart's symbol and start its bars (back-fill, then live); the bars are
        in ``self.bars`` when this returns. Pair with :meth:`close_chart`."""
        inst = await self.resolve(text)
        return inst, await self.history.open(inst, timeframe)

    def close_chart(self, key: BarKey) -> None:
        """A chart stopped showing a series."""
        self.history.close(key)

    def roll_warning(self, instrument: Instrument) -> RollWarning | None:
        """The instrument's roll warning today (on the desk's clock), within ``[ticket]
        roll_warning_days`` of its last trading day; None when it is not that close. The
        ticket, the watchlist and the chart header all ask here, so they never disagree."""
        today = clocks.today(self.clock)
        return roll_warning(instrument, today, self.settings.ticket.roll_warning_days)

    # ---- the watchlist the desk starts with -------------------------------------------------

    def _restore_watchlist(self) -> None:
        """At each connect, add the symbols still to add (a drop interrupts; the next
        connect goes on)."""
        if self._watchlist_pending:
            self.tasks.spawn(self._add_all(), "adding the watchlist")

    async def _add_all(self) -> None:
        pending = self._watchlist_pending
        while pending and self.session.is_connected:
            text = pending[0]
            try:
                await self.add_symbol(text)
            except SymbolError as exc:
                if not self.session.is_connected:
                    return  # retried at the next connect
                log.warning("watchlist: %s", exc)
            pending.pop(0)
