"""Everything that can stop trading, wired together for a running desk.

The kill switch and its hands at the broker, the daily loss limit on the account's P&L, the
stall watchdog with its own connection, and the adoption of halts decided outside this
process (``ibdesk kill``, the kill window, the watchdog): they all write the trading state to
the journal, and the desk reads it back within a second.

Part of the composition root: no Qt here (the window shows what these report), and nothing
but wiring and the few rules about who may latch what from which thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.kill import BrokerKillPort
from ibdesk.broker.orders import OrderRouter
from ibdesk.broker.session import BrokerSession
from ibdesk.broker.watchdog import EmergencyLine
from ibdesk.config import ConnectionSettings, RiskSettings
from ibdesk.domain.connection import Notice, Severity
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.state.account import AccountStore
from ibdesk.state.link import LinkStore
from ibdesk.state.quotes import QuoteStore
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.journal import Journal
from ibdesk.trading.killswitch import STATE_KEY, KillSwitch
from ibdesk.trading.loss_limit import DailyLossLimit

log = logging.getLogger("ibdesk.safety")

HEARTBEAT = 0.1
""" seconds between the loop's beats to the watchdog """
ADOPT_EVERY = 1.0
""" seconds between reads of the journal for halts decided by another process """
WATCHDOG_ID_OFFSET = 100
CLI_ID_OFFSET = 101
WINDOW_ID_OFFSET = 102


def watchdog_client_id(connection: ConnectionSettings, risk: RiskSettings) -> int:
    """The watchdog's own client id: configured, or the desk's plus 100."""
    return risk.kill_client_id or connection.client_id + WATCHDOG_ID_OFFSET


class Safety:
    """The desk's kill switch, loss limit, watchdog and halt adoption."""

    def __init__(
        self,
        risk: RiskSettings,
        *,
        session: BrokerSession,
        router: OrderRouter,
        resolver: InstrumentResolver,
        quotes: QuoteStore,
        accounts: AccountStore,
        link: LinkStore,
        gate: OrderGate,
        journal: Journal,
        journal_path: Path,
    ) -> None:
        self.risk = risk
        self.session = session
        self.router = router
        self.gate = gate
        self.journal = journal
        self.journal_path = journal_path
        self.link = link
        self.accounts = accounts
        self.port = BrokerKillPort(session, router, resolver, quotes)
        self.switch = KillSwitch(
            gate,
            self.port,
            journal,
            flatten_style=risk.flatten_style,
            flatten_collar_ticks=risk.flatten_collar_ticks,
        )
        self.loss_limit = DailyLossLimit(
            self.switch, journal, risk.daily_loss_limit, risk.flatten_on_daily_loss, time.time
        )
        self.line: EmergencyLine | None = None
        self.window_process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[object, asyncio.TimerHandle] = {}
        """ periodic job (its callback) -> its next run """
        self._closed = False
        accounts.updated += self._on_account
        self.switch.reported += self._on_report
        session.connected += self._on_connected

    # ---- what the desk reads ----------------------------------------------------------------

    @property
    def daily_pnl(self) -> float:
        """The traded account's P&L today (NaN until reqPnL answers)."""
        account = self.session.account
        return self.accounts.get(account).daily_pnl if account else math.nan

    # ---- the operations ---------------------------------------------------------------------

    def kill(self, who: str, why: str = "kill switch") -> asyncio.Task[KillReport]:
        """KILL: halted, purged and cancelled before this returns; verification follows."""
        return self.switch.kill(who, why)

    def flatten_all(self, who: str) -> asyncio.Task[KillReport]:
        """FLATTEN ALL: kill, close every position, verify flat."""
        return self.switch.flatten_all(who)

    def flatten_one(self, who: str, con_id: int) -> asyncio.Task[KillReport]:
        """Close one position (from the positions panel)."""
        return self.switch.flatten_one(who, con_id)

    def rearm(self, who: str, reason: str) -> StateChange:
        """Back to ACTIVE with a typed reason (ValueError without one)."""
        change = self.switch.rearm(who, reason)
        self.link.clear("halt")
        if self.line is not None:
            self.line.rearm()
        return change

    def retry(self, who: str) -> asyncio.Task[KillReport]:
        """Cancel again and verify again."""
        return self.switch.retry(who)

    # ---- life cycle -------------------------------------------------------------------------

    def start(self, connection: ConnectionSettings) -> None:
        """Start the heartbeat, the journal watch, the watchdog line and (if configured) the
        kill window. Call with the loop running."""
        self._loop = asyncio.get_running_loop()
        self._beat()
        self._adopt_external()
        self.start_line(connection)
        if self.risk.kill_window:
            self.start_kill_window(connection)

    def start_line(self, connection: ConnectionSettings) -> None:
        """(Re)start the watchdog's own connection, to where the desk connects."""
        self.stop_line()
        if self.risk.watchdog_halt_after <= 0:
            return
        self.line = EmergencyLine(
            connection.host,
            connection.port,
            watchdog_client_id(connection, self.risk),
            self.risk.watchdog_halt_after,
            self.journal_path,
            on_fire=self._on_fire,
        )
        self.line.start()

    def stop_line(self) -> None:
        """Stop the watchdog's connection and thread."""
        if self.line is not None:
            self.line.stop()
            self.line = None

    def start_kill_window(self, connection: ConnectionSettings) -> None:
        """``ibdesk kill --window`` as its own process: clickable when this window is not."""
        args = [
            sys.executable,
            "-m",
            "ibdesk",
            "kill",
            "--window",
            "--host",
            connection.host,
            "--port",
            str(connection.port),
            "--client-id",
            str(connection.client_id + WINDOW_ID_OFFSET),
            "--journal",
            str(self.journal_path),
        ]
        self.window_process = subprocess.Popen(args)

    async def close(self) -> None:
        """Stop the timers, the line and the kill window."""
        self._closed = True
        self.switch.close()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await asyncio.get_running_loop().run_in_executor(None, self.stop_line)
        if self.window_process is not None and self.window_process.poll() is None:
            self.window_process.terminate()
            self.window_process.wait(timeout=5)
        self.accounts.updated -= self._on_account
        self.switch.reported -= self._on_report
        self.session.connected -= self._on_connected

    # ---- the loop's side --------------------------------------------------------------------

    def _later(self, delay: float, callback: object) -> None:
        assert self._loop is not None
        if not self._closed:
            # One pending run per job (each reschedules itself): keeping every handle ever
            # made grew by eleven a second and fragmented the heap (benchmarks.soak).
            self._timers[callback] = self._loop.call_later(delay, callback)  # type: ignore[arg-type]

    def _beat(self) -> None:
        if self.line is not None:
            self.line.beat()
        self._later(HEARTBEAT, self._beat)

    def _adopt_external(self) -> None:
        """A halt written to the journal by another process (``ibdesk kill``, the kill window,
        the watchdog) halts this desk too, with its own purge and cancel."""
        saved = self.journal.get_value(STATE_KEY)
        last = self.switch.last_change
        if (
            saved
            and saved.get("state") == TradingState.HALTED.value
            and float(saved.get("time", 0)) > last.time
            and last.state is not TradingState.HALTED
        ):
            who = str(saved.get("who", "another process"))
            self._announce(f"Trading HALTED by {who}: {saved.get('why', '')}")
            self.switch.kill(who, str(saved.get("why", "")))
        self._later(ADOPT_EVERY, self._adopt_external)

    def _on_account(self, account: str) -> None:
        if account == self.session.account:
            self.loss_limit.observe(self.accounts.get(account).daily_pnl)

    def _on_connected(self) -> None:
        """A kill that could not be verified (sent while disconnected, or the broker did not
        answer) is verified again as soon as the connection is back."""
        report = self.switch.last_report
        if (
            report is not None
            and not report.verified
            and self.switch.state is TradingState.HALTED
            and not self.switch.busy
        ):
            self.switch.retry("reconnect")

    def _on_report(self, report: KillReport) -> None:
        # The trading bar shows it (with Retry); the log keeps it with the session's story.
        (log.info if report.verified else log.error)("%s", report.summary())

    def _announce(self, text: str) -> None:
        self.link.post(Notice("halt", Severity.ERROR, text, 0, time.time()))

    # ---- the watchdog's side (its own thread) -----------------------------------------------

    def _on_fire(self, why: str) -> None:
        """The loop is stuck and the line has sent its global cancel. From the watchdog's
        thread, latch what a stuck loop could still send when it wakes: the gate refuses new
        orders and the pacer keeps every queued placeOrder off the wire. The loop adopts the
        halt properly (journal, purge, its own cancel, the banner) as soon as it runs."""
        self.router.pacer.hold_orders = True
        self.gate.state = TradingState.HALTED
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._adopt_fire, why)

    def _adopt_fire(self, why: str) -> None:
        self._announce(f"Emergency halt by the watchdog: {why}. A global cancel was sent.")
        self.switch.kill("watchdog", why)
        if self.line is not None:
            self.line.rearm()
