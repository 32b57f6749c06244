"""The running desk, without Qt: every long-lived object, built and wired, and its operations.

``Desk`` owns the stores, the broker services, the one OrderGate, the journal, the kill switch
and its safety net, and the alerts; its users (the window, and the strategy runner and the
headless runner to come) see it through the role protocols of ``ibdesk.desk.api``. The
operations are in three parts: market (``market.py``), orders (``orders.py``) and safety
(here, thin over ``safety.Safety``). Nothing here imports Qt: the desktop (``ibdesk.desktop``)
builds a ``Desk`` and a window and attaches one to the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import ibdesk
from ibdesk import clock as clocks
from ibdesk.alerts.desk import DeskAlerts
from ibdesk.broker import ib as shim
from ibdesk.broker.accounts import AccountFeed
from ibdesk.broker.history import HistoryService
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.marketdata import MarketData
from ibdesk.broker.master import MasterClientCheck
from ibdesk.broker.orders import OrderRouter, summary
from ibdesk.broker.session import BrokerSession
from ibdesk.config import ConnectionSettings, Settings
from ibdesk.desk.api import StrategyOps
from ibdesk.desk.market import DeskMarket
from ibdesk.desk.orders import DeskOrders
from ibdesk.desk.remote import RemoteStrategies, WatchedStrategies
from ibdesk.desk.restarts import RestartWatch
from ibdesk.desk.safety import Safety
from ibdesk.desk.story import DeskStory
from ibdesk.domain.connection import Farm, Notice, Severity
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.replay.recorder import Recorder, start_recording
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from ibdesk.strategies.runner import StrategyRunner
from ibdesk.tasks import TaskGroup
from ibdesk.trading import journal as journal_module
from ibdesk.trading.checks import build_checks
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ids import OrderIds
from ibdesk.trading.killswitch import KillSwitch


class Desk(DeskMarket, DeskOrders):
    """A running ibdesk: stores, broker services, the gate and the kill switch, wired.

    Args:
        settings: the configuration (flags applied).
        journal_path: the journal (default: the user data folder's; the demo has its own).
        watchlist: the symbols to watch once connected (default: the config's).
        clock: seconds since the epoch, for everything the desk stamps or compares.
    """

    def __init__(
        self,
        settings: Settings,
        journal_path: Path | None = None,
        *,
        watchlist: Sequence[str] | None = None,
        clock: clocks.Clock = clocks.system,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.tasks = TaskGroup("the desk")
        self.link = LinkStore()
        self.quotes = QuoteStore()
        self.watchlist = WatchlistStore()
        self.accounts = AccountStore()
        self.positions = PositionStore()
        self.bars = BarStore()
        self.orders = OrderStore()
        self.templates = dict(settings.ticket.templates)
        self.session = BrokerSession(settings.connection, self.link, clock=clock)
        self.resolver = InstrumentResolver(self.session.ib, clock=clock)
        self.market_data = MarketData(self.session, self.resolver, self.quotes, self.link)
        self.account_feed = AccountFeed(self.session, self.resolver, self.accounts, self.positions)
        self.history = HistoryService(self.session, self.resolver, self.bars, clock=clock)
        self.journal_path = journal_path or journal_module.default_path()
        self.journal = journal_module.Journal(self.journal_path, clock)
        self._was_here = self.journal.ever_connected()
        """ a session of ibdesk saw this account before: fills the broker reports that ibdesk
        does not know happened while it was away (on a first start they are just today's) """
        self.router = OrderRouter(self.session, self.resolver, self.orders, self.journal, clock)
        self.ids = OrderIds(self.router, self.journal)
        self.gate = OrderGate(
            self.router,
            self.orders,
            self.journal,
            self.ids,
            self.check_context,
            build_checks(settings.risk),
            read_only=settings.connection.read_only,
            round_off_tick=settings.ticket.off_tick == "round",
            clock=clock,
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
            clock=clock,
        )
        # Intents, fills, kills and re-arms in the log, where the trader looks back.
        self.story = DeskStory(self.gate, self.orders, self.switch)
        # Alerts (fills, rejects, halts, disconnects) to the desktop, a sound and a phone.
        self.alerts = DeskAlerts(
            settings.alerts,
            settings.path,
            orders=self.orders,
            switch=self.switch,
            link=self.link,
            clock=clock,
            # A disconnect inside TWS's restart window is expected, not an alarm.
            expected=lambda: self.restarts.expected_for(),  # noqa: PLW0108 - built below
        )
        # Strategies run on this loop and trade through the same gate, which asks the runner
        # of every strategy order (a paused one may only reduce its own position).
        self.strategies = StrategyRunner(self, settings.strategies, settings.risk)
        # A namesake another client trades (watched as the master client) is not ours.
        self.strategies.ledger.own_client = lambda: self.session.client_id
        self.gate.strategies = self.strategies
        self.switch.changed += self.strategies.on_trading_state
        self.strategies.desk_state = self.switch.state
        self.session.disconnected += self.strategies.on_disconnected
        # TWS's daily restart: strategies held before it, its disconnect expected, resumed
        # after the reconcile (the window asks the trader first; ibdesk run may not).
        self.restarts = RestartWatch(settings.restart.schedule(), self.strategies, self.link, clock)
        self.session.disconnected += self.restarts.on_disconnected
        self.link.changed += self._tell_strategies_of_data
        self.master: MasterClientCheck | None = None
        """ whether TWS sends the desk other clients' orders (see watch_other_clients) """
        self.remote_strategies: RemoteStrategies | None = None
        self.strategy_rows: StrategyOps = self.strategies
        """ what the strategies panel lists: the runner's, and remote ones when watched """
        self._guarding = False
        self.recorder: Recorder | None = None
        """ the session's tape (``[record]``), from :meth:`start` """
        self.closed = False
        self._ticket_watch = 0
        self._watchlist_pending = list(
            settings.watchlist.symbols if watchlist is None else watchlist
        )
        self.router.on_reconciled.append(self._on_reconciled)
        self.router.on_reconciled.append(self.strategies.on_reconciled)
        self.session.connected += self._on_connected
        self.session.connected += self._restore_watchlist

    @property
    def switch(self) -> KillSwitch:
        """The kill switch and the trading state it keeps."""
        return self.safety.switch

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

    # ---- other clients (an ibdesk run on a server) ----------------------------------------------

    def watch_other_clients(self) -> None:
        """Watch the strategies other API clients trade (``ibdesk run`` on a server): find
        out whether TWS sends this desk their orders (it does to its Master API client, and
        says how to set it once if not), and list them read-only beside the desk's own.
        The desktop watches; a headless runner does not (it is not the master, and need
        not be). Call before the window attaches (its panel lists ``strategy_rows``)."""
        if self.master is not None:
            return
        self.master = MasterClientCheck(self.session, self.router, self.link, self.clock)
        self.remote_strategies = RemoteStrategies(
            self.orders, self.quotes, lambda: self.session.client_id
        )
        self.strategy_rows = WatchedStrategies(self.strategies, self.remote_strategies)

    # ---- the session ----------------------------------------------------------------------------

    def reconnect(self, connection: ConnectionSettings) -> None:
        """Connect elsewhere: stop the session and start it with new settings."""
        self.settings = dataclasses.replace(self.settings, connection=connection)
        self.tasks.spawn(self._restart_session(connection), "reconnecting")
        if self._guarding:
            self.safety.start_line(connection)

    async def _restart_session(self, connection: ConnectionSettings) -> None:
        await self.session.stop()
        self.session.settings = connection
        self.session.client_id = connection.client_id
        self.session.start()

    def versions(self) -> dict[str, str]:
        """Versions of everything that matters for a bug report (the window adds Qt's)."""
        return {
            "ibdesk": ibdesk.__version__,
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
            self.restarts.start()
        record = self.settings.record
        if record.enabled and self.recorder is None:
            folder = Path(record.folder) if record.folder else self.journal_path.parent / "tapes"
            self.recorder = start_recording(self, folder, record.budget_mb)
        if connect:
            self.session.start()

    async def close(self) -> None:
        """Disconnect and close the journal (once; a second call does nothing)."""
        if self.closed:
            return
        self.closed = True
        self.alerts.close()  # first: a desk that closes is not a disconnect
        if self.recorder is not None:
            self.recorder.close()  # the tape ends where the session did, not at its teardown
        self.story.close()
        await self.restarts.close()
        await self.strategies.close()
        if self.master is not None:
            self.master.close()
            await self.master.tasks.close()
        if isinstance(self.strategy_rows, WatchedStrategies):
            self.strategy_rows.close()
        if self.remote_strategies is not None:
            self.remote_strategies.close()
        await self.tasks.close()
        await self.router.tasks.close()
        await self.account_feed.tasks.close()
        self.history.stop()
        await self.safety.close()
        await self.session.stop()
        self.journal.close()

    # ---- connection events ----------------------------------------------------------------------

    def _on_connected(self) -> None:
        status = self.link.status
        self.journal.connection(
            "connected",
            f"{status.host}:{status.port} as client "
            f"{status.client_id}, server {status.server_version}",
        )

    def _tell_strategies_of_data(self) -> None:
        # A farm IB reports down (2103) means stale prices; unknown (None) is not down.
        self.strategies.on_market_data(self.link.farms.get(Farm.MARKET_DATA) is not False)

    def _on_reconciled(self, counts: dict[str, int]) -> None:
        if not self._was_here:
            # A first start: today's fills at the broker (typed into TWS, another client's)
            # are history that ibdesk now shows, not fills it lost and recovered.
            counts = {**counts, "fills": 0}
        self._was_here = True
        if self.restarts.reconciled(summary(counts)):
            return  # the restart's report says it (and asks for the acknowledgement)
        if any(counts.values()):
            text = f"While ibdesk was away: {summary(counts)}."
            self.link.post(Notice("reconcile", Severity.WARNING, text, 0, self.clock()))
