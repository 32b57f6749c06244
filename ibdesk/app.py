"""The composition root: build every long-lived object and wire them together.

Logic lives in the layers; this module only creates and connects (broker -> state -> ui).
Running the loop is ``ibdesk.desktop``'s job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from PySide6 import QtCore

import ibdesk
from ibdesk.broker import ib as shim
from ibdesk.broker.accounts import AccountFeed
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.marketdata import MarketData
from ibdesk.broker.session import BrokerSession
from ibdesk.config import ConnectionSettings, Settings
from ibdesk.domain.instruments import SymbolError
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.link import LinkStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from ibdesk.ui.main_window import MainWindow
from ibdesk.ui.panels.log import PanelHandler

log = logging.getLogger("ibdesk.app")


class Desk:
    """A running ibdesk: stores, broker services and the window, wired together."""

    def __init__(self, settings: Settings, window: MainWindow) -> None:
        self.settings = settings
        self.link = LinkStore()
        self.quotes = QuoteStore()
        self.watchlist = WatchlistStore()
        self.accounts = AccountStore()
        self.positions = PositionStore()
        self.session = BrokerSession(settings.connection, self.link)
        self.resolver = InstrumentResolver(self.session.ib)
        self.market_data = MarketData(self.session, self.resolver, self.quotes, self.link)
        self.account_feed = AccountFeed(self.session, self.resolver, self.accounts, self.positions)
        self.log_handler = PanelHandler()
        logging.getLogger().addHandler(self.log_handler)
        self.window = window
        window.attach(self)
        self._watchlist_restored = False
        self.session.connected += self._restore_watchlist
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- operations (buttons, menus and tests call these) -----------------------------------

    async def add_symbol(self, text: str) -> str:
        """Resolve a typed symbol at the broker and watch it.

        Raises:
            SymbolError: the text is not a symbol, the broker has no such contract, or there
                is no connection to ask.
        """
        if not self.session.is_connected:
            raise SymbolError(
                "Not connected: symbols are looked up at the broker, so connect "
                "first (File > Connect to…)."
            )
        inst = await self.resolver.resolve(text)
        if not self.watchlist.add(inst):
            return f"{inst.display} is already on the watchlist."
        self.market_data.watch(inst)
        self._save_watchlist()
        expiry = inst.expiry_date
        return f"Added {inst.display}" + (f", expiring {expiry:%d %b %Y}." if expiry else ".")

    def remove_symbol(self, con_id: int) -> None:
        """Stop watching an instrument."""
        if self.watchlist.remove(con_id):
            self.market_data.unwatch(con_id)
            self._save_watchlist()

    def reconnect(self, connection: ConnectionSettings) -> None:
        """Connect elsewhere: stop the session and start it with new settings."""
        self.settings = dataclasses.replace(self.settings, connection=connection)
        self._spawn(self._restart_session(connection))

    async def _restart_session(self, connection: ConnectionSettings) -> None:
        await self.session.stop()
        self.session.settings = connection
        self.session.client_id = connection.client_id
        self.session.start()

    def versions(self) -> dict[str, str]:
        """Versions of everything that matters for a bug report."""
        return {
            "ibdesk": ibdesk.__version__,
            "Qt": QtCore.qVersion(),
            "PySide6": getattr(sys.modules.get("PySide6"), "__version__", "?"),
            "Client library": f"{shim.LIBRARY} {shim.VERSION}",
            "Server version": str(self.session.server_version or "not connected"),
            "Python": sys.version.split()[0],
        }

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (and keep reconnecting)."""
        self.session.start()

    async def close(self) -> None:
        """Disconnect and let go of the log handler."""
        for task in list(self._tasks):
            task.cancel()
        await self.session.stop()
        logging.getLogger().removeHandler(self.log_handler)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _save_watchlist(self) -> None:
        self.window.state.setValue("watchlist/symbols", self.watchlist.symbols())

    def _restore_watchlist(self) -> None:
        if self._watchlist_restored:
            return
        self._watchlist_restored = True
        saved = self.window.state.value("watchlist/symbols")
        symbols = list(saved) if isinstance(saved, list) else list(self.settings.watchlist.symbols)
        self._spawn(self._add_all(symbols))

    async def _add_all(self, symbols: list[str]) -> None:
        for text in symbols:
            try:
                await self.add_symbol(text)
            except SymbolError as exc:
                log.warning("watchlist: %s", exc)
