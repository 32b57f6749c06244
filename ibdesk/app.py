"""The composition root: build every long-lived object and wire them together.

Logic lives in the layers; this module only creates and connects (broker -> state -> ui).
Running the loop is ``ibdesk.desktop``'s job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6 import QtCore

import ibdesk
from ibdesk.alerts.desk import DeskAlerts
from ibdesk.broker import ib as shim
from ibdesk.broker.accounts import AccountFeed
from ibdesk.broker.history import HistoryService
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.marketdata import MarketData
from ibdesk.broker.orders import OrderRouter, summary
from ibdesk.broker.session import BrokerSession
from ibdesk.config import ConnectionSettings, Settings
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.connection import Notice, Severity
from ibdesk.domain.instruments import Instrument, SymbolError
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    GateDecision,
    ModifyIntent,
    OrderIntent,
    Source,
)
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.domain.ticket import WhatIf
from ibdesk.safety import Safety
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarKey, BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from ibdesk.trading import journal as journal_module
from ibdesk.trading.checks import build_checks
from ibdesk.trading.confirm import ConfirmPolicy, reasons_to_confirm
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ids import OrderIdError, OrderIds
from ibdesk.trading.usage import Usage, usage
from ibdesk.ui.main_window import MainWindow
from ibdesk.ui.panels.log import PanelHandler

log = logging.getLogger("ibdesk.app")


class Desk:
    """A running ibdesk: stores, broker services and the window, wired together."""

    def __init__(
        self, settings: Settings, window: MainWindow, journal_path: Path | None = None
    ) -> None:
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
        self.bars = BarStore()
        self.history = HistoryService(self.session, self.resolver, self.bars)
        self.orders = OrderStore()
        self.journal_path = journal_path or journal_module.default_path()
        self.journal = journal_module.Journal(self.journal_path)
        self.router = OrderRouter(self.session, self.resolver, self.orders, self.journal)
        self.ids = OrderIds(self.router, self.journal)
        self.gate = OrderGate(
            self.router,
            self.orders,
            self.journal,
            self.ids,
            self._check_context,
            build_checks(settings.risk),
            read_only=settings.connection.read_only,
            round_off_tick=settings.ticket.off_tick == "round",
        )
        self.safety = Safety(
            settings.risk,
            session=self.session,
            router=self.router,
            resolver=self.resolver,
            quotes=self.quotes,
            accounts=self.accounts,
            link=self.link,
            gate=self.gate,
            journal=self.journal,
            journal_path=self.journal_path,
        )
        self.switch = self.safety.switch
        # Alerts (fills, rejects, halts, disconnects) to the desktop, a sound and a phone.
        self.alerts = DeskAlerts(
            settings.alerts, settings.path, orders=self.orders, switch=self.switch, link=self.link
        )
        self._guarding = False
        self.closed = False
        self._ticket_watch = 0
        self.router.on_reconciled.append(self._on_reconciled)
        self.session.connected += self._on_connected
        self.log_handler = PanelHandler()
        logging.getLogger().addHandler(self.log_handler)
        self.window = window
        window.attach(self)
        self._watchlist_pending: list[str] | None = None
        self.session.connected += self._restore_watchlist
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- operations (buttons, menus and tests call these) -----------------------------------

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
        self._save_watchlist()
        expiry = inst.expiry_date
        return f"Added {inst.display}" + (f", expiring {expiry:%d %b %Y}." if expiry else ".")

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

    async def ticket_instrument(self, text: str) -> Instrument:
        """Resolve the ticket's instrument and stream its quotes (the ticket prices from
        them), whether or not it is on the watchlist."""
        inst = await self.resolve(text)
        previous, self._ticket_watch = self._ticket_watch, inst.con_id
        if previous not in (0, inst.con_id) and previous not in self.watchlist:
            self.market_data.unwatch(previous)  # a market-data line is worth keeping free
        self.market_data.watch(inst)
        return inst

    async def what_if(self, intent: OrderIntent | BracketIntent) -> WhatIf:
        """IB's margin and commission for an order (a bracket's entry), placing nothing.

        Raises:
            ConnectionError: not connected. TimeoutError / LookupError: no answer.
        """
        if not self.router.connected:
            raise ConnectionError("Not connected to TWS: no what-if preview.")
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        # The library numbers the what-if with its next request id: taking one of ours first
        # puts that id above every order id this client ever used.
        try:
            self.ids.take(1)
        except OrderIdError as exc:
            raise LookupError(str(exc)) from exc
        return await self.router.what_if(entry)

    def place(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Send an order or bracket through the gate."""
        return self.gate.submit(intent)

    def judge(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """What the gate would decide for an order now (the ticket and the chart ask before
        they offer Send); nothing is sent."""
        return self.gate.judge(intent)

    def judge_modify(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: str = "blotter",
    ) -> GateDecision:
        """What the gate would decide for a modify now; nothing is sent."""
        return self.gate.judge_modify(
            ModifyIntent(ref, Source.parse(source), qty, limit_price, stop_price)
        )

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """Resolve a chart's symbol and start its bars (back-fill, then live); the bars are
        in ``self.bars`` when this returns. Pair with :meth:`close_chart`."""
        inst = await self.resolve(text)
        return inst, await self.history.open(inst, timeframe)

    def close_chart(self, key: BarKey) -> None:
        """A chart stopped showing a series."""
        self.history.close(key)

    def cancel_order(self, ref: str) -> GateDecision:
        """Cancel one order (from the blotter)."""
        return self.gate.cancel(CancelIntent(ref, Source("blotter")))

    def cancel_all(self) -> GateDecision:
        """Global cancel (from the blotter)."""
        return self.gate.cancel_all(Source("blotter"))

    def modify_order(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: str = "blotter",
    ) -> GateDecision:
        """Change a working order in place (from the blotter, or ``chart`` for a drag)."""
        return self.gate.modify(
            ModifyIntent(ref, Source.parse(source), qty, limit_price, stop_price)
        )

    def confirm_reasons(self, intent: OrderIntent | BracketIntent) -> list[str]:
        """Why an order needs the trader's confirmation before it goes (empty: it does not):
        a LIVE account (per ``[ticket] confirm``), or a fat-finger size or price."""
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        risk, ticket = self.settings.risk, self.settings.ticket
        policy = ConfirmPolicy(
            ticket.confirm,
            ticket.fat_finger_fraction,
            ticket.fat_finger_ticks,
            risk.max_order_qty,
            risk.max_order_notional,
        )
        account = entry.account or self.session.account
        market = self._check_context().last_price(entry.instrument.con_id)
        return reasons_to_confirm(entry, account=account, market=market, policy=policy)

    # ---- the kill switch (trading bar, menu, shortcuts, positions panel) ----------------------

    def kill(self, who: str) -> asyncio.Task[KillReport]:
        """KILL: HALTED, queue purged and global cancel sent before this returns."""
        return self.safety.kill(who)

    def flatten_all(self, who: str) -> asyncio.Task[KillReport]:
        """FLATTEN ALL: kill, close every position, verify flat."""
        return self.safety.flatten_all(who)

    def flatten_position(
        self, con_id: int, who: str = "positions panel"
    ) -> asyncio.Task[KillReport]:
        """Close one position (its own working orders cancelled first)."""
        return self.safety.flatten_one(who, con_id)

    def rearm(self, who: str, reason: str, to: TradingState = TradingState.ACTIVE) -> StateChange:
        """Back to ACTIVE (or from HALTED to REDUCING); ValueError without a typed reason."""
        return self.safety.rearm(who, reason, to)

    def reduce(self, who: str) -> StateChange:
        """REDUCING: exits only from now on; this desk's orders that would add are
        cancelled. ValueError while HALTED (re-arm to REDUCING instead)."""
        return self.safety.reduce(who)

    def retry_kill(self, who: str) -> asyncio.Task[KillReport]:
        """Global cancel again, verify again."""
        return self.safety.retry(who)

    def risk_usage(self) -> list[Usage]:
        """Every limit and its use now (the Risk panel polls this)."""
        account = self.session.account
        by_root: dict[str, tuple[Instrument, float]] = {}
        for (acct, _), pos in self.positions.positions.items():
            if acct == account:
                root = pos.instrument.symbol
                held = by_root.get(root, (pos.instrument, 0.0))[1]
                by_root[root] = (pos.instrument, held + pos.qty)
        return usage(self.settings.risk, self.gate.full_context(), account, by_root)

    def remove_symbol(self, con_id: int) -> None:
        """Stop watching an instrument."""
        if self.watchlist.remove(con_id):
            if con_id != self._ticket_watch:  # the ticket still prices from it
                self.market_data.unwatch(con_id)
            self._save_watchlist()

    def reconnect(self, connection: ConnectionSettings) -> None:
        """Connect elsewhere: stop the session and start it with new settings."""
        self.settings = dataclasses.replace(self.settings, connection=connection)
        self._spawn(self._restart_session(connection))
        if self._guarding:
            self.safety.start_line(connection)

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

    def start(self, connect: bool = True) -> None:
        """Arm the kill switch's watchers, then connect (and keep reconnecting).

        Call with the event loop running. Without ``connect`` only the watchers start (the
        connection dialog connects later, through :meth:`reconnect`).
        """
        if not self._guarding:
            self._guarding = True
            self.safety.start(self.settings.connection)
        if connect:
            self.session.start()

    async def close(self) -> None:
        """Disconnect, close the journal and let go of the log handler (once; a second call
        does nothing)."""
        if self.closed:
            return
        self.closed = True
        self.alerts.close()  # first: a desk that closes is not a disconnect
        for task in list(self._tasks):
            task.cancel()
        self.history.stop()
        await self.safety.close()
        await self.session.stop()
        self.journal.close()
        logging.getLogger().removeHandler(self.log_handler)

    # ---- orders ---------------------------------------------------------------------------------

    def _check_context(self) -> CheckContext:
        def position(account: str, con_id: int) -> float:
            # An order without an account goes to the connection's default one.
            pos = self.positions.positions.get((account or self.session.account, con_id))
            return pos.qty if pos is not None else 0.0

        def last_price(con_id: int) -> float:
            quote = self.quotes.get(con_id)
            if quote is None:
                return math.nan
            return quote.last if not math.isnan(quote.last) else quote.mid

        return CheckContext(
            time.time(),
            position,
            self.orders.live(),
            last_price,
            daily_pnl=self.safety.daily_pnl,
            loss_limit_waived=self.safety.loss_limit.waived,
        )

    def _on_connected(self) -> None:
        status = self.link.status
        self.journal.connection(
            "connected",
            f"{status.host}:{status.port} as client "
            f"{status.client_id}, server {status.server_version}",
        )

    def _on_reconciled(self, counts: dict[str, int]) -> None:
        if any(counts.values()):
            self.link.post(
                Notice(
                    "reconcile",
                    Severity.WARNING,
                    f"While ibdesk was away: {summary(counts)}.",
                    0,
                    time.time(),
                )
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- watchlist ------------------------------------------------------------------------------

    def _save_watchlist(self) -> None:
        self.window.state.setValue("watchlist/symbols", self.watchlist.symbols())

    def _restore_watchlist(self) -> None:
        """At the first connect, add the saved symbols; what a drop interrupts is retried at
        the next connect."""
        if self._watchlist_pending is None:
            saved = self.window.state.value("watchlist/symbols")
            self._watchlist_pending = (
                list(saved) if isinstance(saved, list) else list(self.settings.watchlist.symbols)
            )
        if self._watchlist_pending:
            self._spawn(self._add_all())

    async def _add_all(self) -> None:
        pending = self._watchlist_pending or []
        while pending and self.session.is_connected:
            text = pending[0]
            try:
                await self.add_symbol(text)
            except SymbolError as exc:
                if not self.session.is_connected:
                    return  # retried at the next connect
                log.warning("watchlist: %s", exc)
            pending.pop(0)
