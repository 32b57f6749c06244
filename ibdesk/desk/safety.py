"""Everything that can stop trading, wired together for a running desk.

The kill switch and its hands at the broker, the daily loss limit on the account's P&L, the
stall watchdog (a process with its own connection, fed by the loop's heartbeat), and the
adoption of halts decided outside this process (``ibdesk kill``, the kill window, the
watchdog): they all write the trading state to the journal, and the desk reads it back within
a second.

Part of the composition root: no Qt here (the window shows what these report), and nothing
but wiring and the few rules about who may latch what from which thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import subprocess
import time
from pathlib import Path

from ibdesk import clock as clocks
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.kill import BrokerKillPort
from ibdesk.broker.orders import OrderRouter
from ibdesk.broker.session import BrokerSession
from ibdesk.broker.watchdog import EmergencyLine, ibdesk_command
from ibdesk.clock import Clock
from ibdesk.config import ConnectionSettings, RiskSettings
from ibdesk.domain.connection import Notice, Severity
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.state.account import AccountStore
from ibdesk.state.link import LinkStore
from ibdesk.state.quotes import QuoteStore
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.journal import Journal
from ibdesk.trading.killswitch import KillSwitch
from ibdesk.trading.loss_limit import DailyLossLimit

log = logging.getLogger("ibdesk.desk.safety")

HEARTBEAT = 0.1
""" seconds between the loop's beats to the watchdog """
ADOPT_EVERY = 1.0
""" seconds between reads of the journal for halts decided by another process """
LINE_RESTART_AFTER = 5.0
""" seconds a watchdog process that ended by itself waits before it is started again """
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
        clock: Clock = clocks.system,
    ) -> None:
        self.risk = risk
        self.clock = clock
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
            self.switch, journal, risk.daily_loss_limit, risk.flatten_on_daily_loss, clock
        )
        self.line: EmergencyLine | None = None
        self._line_connection: ConnectionSettings | None = None
        self.window_process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[object, asyncio.TimerHandle] = {}
        """ periodic job (its callback) -> its next run """
        self._closed = False
        accounts.updated += self._on_account
        self.switch.reported += self._on_report
        session.connected += self._on_connected
        session.disconnected += self.switch.latch.unbind
        router.pacer.order_guard = self._orders_may_go

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

    def rearm(self, who: str, reason: str, to: TradingState = TradingState.ACTIVE) -> StateChange:
        """Back to ACTIVE (or HALTED to REDUCING) with a typed reason (ValueError without)."""
        change = self.switch.rearm(who, reason, to)
        self.link.clear("halt")
        return change

    def retry(self, who: str) -> asyncio.Task[KillReport]:
        """Cancel again and verify again."""
        return self.switch.retry(who)

    def reduce(self, who: str, why: str = "exits only") -> StateChange:
        """REDUCING: exits only; this desk's orders that would add are cancelled."""
        change, others = self.switch.reduce(who, why)
        if others:
            self._announce(
                f"REDUCING: {len(others)} order(s) of other clients that could add to a "
                "position are still working; only KILL (a global cancel) reaches them."
            )
        return change

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
        """(Re)start the watchdog process and its own connection, to where the desk
        connects."""
        self.stop_line()
        self._line_connection = connection
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
        """Stop the watchdog process (it disconnects and exits without firing; waits)."""
        if self.line is not None:
            self.line.stop()
            self.line = None

    def start_kill_window(self, connection: ConnectionSettings) -> None:
        """``ibdesk kill --window`` as its own process: clickable when this window is not."""
        args = ibdesk_command(
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
        )
        self.window_process = subprocess.Popen(args)

    async def close(self) -> None:
        """Stop the timers, the watchdog process and the kill window."""
        self._closed = True
        self.router.pacer.order_guard = None
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
        self.session.disconnected -= self.switch.latch.unbind

    # ---- the loop's side --------------------------------------------------------------------

    def _later(self, delay: float, callback: object) -> None:
        assert self._loop is not None
        if not self._closed:
            # One pending run per job (each reschedules itself): keeping every handle ever
            # made grew by eleven a second and fragmented the heap (benchmarks.soak).
            self._timers[callback] = self._loop.call_later(delay, callback)  # type: ignore[arg-type]

    def _beat(self) -> None:
        line = self.line
        if line is not None:
            self._check_stall()
            line.beat()
            connection = self._line_connection
            if (
                line.ended
                and connection is not None
                and time.monotonic() - line.started_at > LINE_RESTART_AFTER
            ):
                log.warning("starting the watchdog process again")
                self.start_line(connection)
        self._later(HEARTBEAT, self._beat)

    def _check_stall(self) -> bool:
        """Whether the loop has just woken from a stall past the watchdog's threshold; if so,
        halt before anything else is sent.

        The watchdog process reads every beat after this loop wrote it, so whenever it has
        fired, the last beat written here is older than the threshold too: the first beat or
        order message after the stall lands here and finds it. The gate and the pacer latch
        at once (no order the frozen loop queued, or places on its way out, reaches the
        wire); the kill that adopts the halt runs next.
        """
        line, loop = self.line, self._loop
        if line is None or loop is None or self._closed:
            return False
        stalled = time.monotonic() - line.last_beat
        if stalled <= line.threshold:
            return False
        self.router.pacer.hold_orders = True
        self.switch.latch.hold()
        line.beat()  # this loop runs again: one stall, one adoption; the watchdog re-arms
        why = (
            f"the desktop's event loop was stalled for {stalled:.1f} s "
            f"(threshold {line.threshold:g} s)"
        )
        loop.call_soon(self._adopt_fire, why)
        return True

    def _orders_may_go(self) -> bool:
        """The pacer asks before it writes any order: not once the loop has been stalled
        past the watchdog's threshold."""
        return not self._check_stall()

    def _adopt_external(self) -> None:
        """A stricter state written to the journal by another process (``ibdesk kill``, the
        kill window, the watchdog) comes in force here too: a halt with this desk's own purge
        and cancel, REDUCING with the cancel of its orders that would add."""
        change = self.switch.latch.newer_stricter()
        if change is not None:
            self._announce(f"Trading {change.state.value} by {change.who}: {change.why}")
            if change.state is TradingState.HALTED:
                self.switch.kill(change.who, change.why)
            else:
                self.switch.reduce(change.who, change.why)
        self._later(ADOPT_EVERY, self._adopt_external)

    def _on_account(self, account: str) -> None:
        if account == self.session.account:
            self.loss_limit.observe(self.accounts.get(account).daily_pnl)

    def _on_connected(self) -> None:
        """The connected account's latched state comes in force; a kill that could not be
        verified (sent while disconnected, or the broker did not answer) is verified again
        as soon as the connection is back."""
        self.switch.latch.bind(self.link.status.accounts, self.session.account)
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
        self.link.post(Notice("halt", Severity.ERROR, text, 0, self.clock()))

    # ---- the watchdog's side ------------------------------------------------------------------

    def _on_fire(self, why: str) -> None:
        """The watchdog process has sent its global cancel and journaled the halt (called on
        the line's reader thread, which runs only once this process runs again). The loop
        takes it from there."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._on_line_fired, why)

    def _on_line_fired(self, why: str) -> None:
        # Normally the loop's own stall check has halted already (it runs at the first beat
        # or order after the stall). If it has not, the watchdog saw beats the loop wrote go
        # missing, and its word is enough.
        if not self._check_stall() and self.gate.state is not TradingState.HALTED:
            self._adopt_fire(why)

    def _adopt_fire(self, why: str) -> None:
        """Adopt the watchdog's halt: the banner, the journal, the purge, a global cancel of
        our own."""
        self._announce(f"Emergency halt by the watchdog: {why}. A global cancel was sent.")
        self.switch.kill("watchdog", why)
