"""The emergency path: kills that do not depend on the desktop's event loop.

``emergency_kill`` opens its own connection with its own client id, sends a global cancel,
optionally closes every position, and verifies with the broker; ``ibdesk kill`` and the kill
window use it. ``EmergencyLine`` keeps such a connection open on a thread with its own asyncio
loop and watches the desktop's heartbeat: when the GUI loop has been stalled longer than a
threshold (a strategy stuck in a loop, a hung call), it cancels everything by itself
(measured: a 2 s stall otherwise delays a GUI kill by 1.95 s; FIELD_NOTES.md §2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.broker.kill import open_order_line, position_line
from ibdesk.domain.risk import KillReport, TradingState
from ibdesk.trading.journal import Journal
from ibdesk.trading.killswitch import STATE_KEY, WORKING_STATUSES

log = logging.getLogger("ibdesk.broker.emergency")


def record_halt(journal_path: Path | None, who: str, why: str) -> None:
    """Latch HALTED in the journal (a running desk adopts it within a second)."""
    if journal_path is None:
        return
    journal = Journal(journal_path)
    try:
        journal.set_value(
            STATE_KEY,
            {
                "state": TradingState.HALTED.value,
                "who": who,
                "why": why,
                "time": time.time(),
                "locked_until": None,
            },
        )
        journal.action(who, "kill", why)
    finally:
        journal.close()


async def _verify(ib: Any, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        working = [
            open_order_line(t)
            for t in await ib.reqAllOpenOrdersAsync()
            if t.orderStatus.status in WORKING_STATUSES
        ]
        if not working or time.monotonic() > deadline:
            return working
        await asyncio.sleep(0.25)


async def _close_positions(ib: Any, account: str, timeout: float) -> tuple[list[Any], list[str]]:
    """Market orders against every position of the account; returns what is left, and the
    closing orders sent."""
    sent = []
    for pos in await ib.reqPositionsAsync():
        if pos.position == 0 or (account and pos.account != account):
            continue
        contract = shim.Contract(conId=pos.contract.conId, exchange=pos.contract.exchange or "")
        await ib.qualifyContractsAsync(contract)
        action = "SELL" if pos.position > 0 else "BUY"
        order = shim.MarketOrder(
            action, abs(pos.position), account=pos.account, orderRef="kill#cli"
        )
        ib.placeOrder(contract, order)
        sent.append(f"{action} {abs(pos.position):g} {pos.contract.localSymbol}")
    deadline = time.monotonic() + timeout
    while True:
        left = [
            position_line(p)
            for p in await ib.reqPositionsAsync()
            if p.position and (not account or p.account == account)
        ]
        if not left or time.monotonic() > deadline:
            return left, sent
        await asyncio.sleep(0.25)


#: Ids tried after the requested one when TWS says it is in use (error 326): far from the
#: desk's own id and its watchdog's, so a kill never fails for want of a free id.
SPARE_ID_STEP = 1000
ID_ATTEMPTS = 3


def cancel_on_api_start(ib: Any) -> None:
    """Send reqGlobalCancel from inside the handshake: the moment the API is up, before the
    library's own start-up requests (positions, orders, executions) are even asked for."""
    ib.client.apiStart += ib.client.reqGlobalCancel


async def _connect_for_kill(host: str, port: int, client_id: int, timeout: float) -> Any:
    """A connection whose first request is the global cancel; tries spare ids on 326."""
    problem: Exception | None = None
    for attempt in range(ID_ATTEMPTS):
        ib = shim.IB()
        cancel_on_api_start(ib)
        try:
            await ib.connectAsync(
                host, port, clientId=client_id + attempt * SPARE_ID_STEP, timeout=timeout
            )
            return ib
        except ConnectionRefusedError as exc:
            raise ConnectionError(f"could not connect to {host}:{port}: {exc}") from exc
        except (OSError, TimeoutError) as exc:  # 326 closes the socket: ConnectionError
            problem = exc
            ib.disconnect()
    raise ConnectionError(
        f"could not connect to {host}:{port} with client ids {client_id}"
        f"+{SPARE_ID_STEP}n: {problem}"
    )


async def emergency_kill(
    host: str,
    port: int,
    client_id: int,
    *,
    flatten: bool = False,
    account: str = "",
    timeout: float = 10.0,
    journal_path: Path | None = None,
    who: str = "ibdesk kill",
) -> KillReport:
    """Connect, global cancel, (flatten,) verify, disconnect. Never raises for a broker that
    does not answer: the report says NOT verified and why."""
    started = time.time()
    record_halt(journal_path, who, "emergency kill" + (" and flatten" if flatten else ""))
    try:
        ib = await _connect_for_kill(host, port, client_id, timeout)
    except ConnectionError as exc:
        return KillReport(
            account, started, time.time(), False, flatten=flatten, problems=(str(exc),)
        )
    try:
        account = account or ib.managedAccounts()[0]
        working = await _verify(ib, timeout)
        left: list[Any] = []
        sent: list[str] = []
        if flatten:
            left, sent = await _close_positions(ib, account, timeout)
            working = await _verify(ib, 2.0)
        return KillReport(
            account,
            started,
            time.time(),
            not working and not left,
            tuple(working),
            tuple(left),
            flatten,
            tuple(sent),
        )
    finally:
        ib.disconnect()


class EmergencyLine(threading.Thread):
    """A second connection on its own thread that halts when the GUI loop stalls.

    The GUI calls :meth:`beat` from a timer; if no beat arrives for ``threshold`` seconds the
    line sends a global cancel on its own connection, latches HALTED in the journal, and
    records why in :attr:`fired`, which the GUI shows when it wakes up.
    """

    CHECK_EVERY = 0.05

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        threshold: float,
        journal_path: Path | None = None,
        on_fire: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name="ibdesk-emergency", daemon=True)
        self.host, self.port, self.client_id = host, port, client_id
        self.threshold = threshold
        self.journal_path = journal_path
        self.on_fire = on_fire
        self.last_beat = time.monotonic()
        self.armed = threshold > 0
        self.fired: str | None = None
        self.fired_at: float | None = None
        self.connected = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ib: Any = None
        self._main: asyncio.Task[None] | None = None
        self._reported_down = False
        self._stopping = False

    def beat(self) -> None:
        """The GUI loop is alive (called from a GUI timer)."""
        self.last_beat = time.monotonic()

    def stop(self) -> None:
        """Disconnect and end the thread (waits for it)."""
        self._stopping = True
        loop, main = self.loop, self._main
        if loop is not None and main is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(main.cancel)
        if self.is_alive():
            self.join(timeout=5)

    def run(self) -> None:
        """The thread: its own loop, a connection kept open, the stall watch."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        self._ib = shim.IB()
        try:
            if not self._stopping:  # both loops also end by themselves once it is set
                self._main = loop.create_task(self._serve())
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(self._main)
        finally:
            if self._ib.isConnected():
                self._ib.disconnect()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        await asyncio.gather(self._keep_connected(), self._watch())

    async def _keep_connected(self) -> None:
        while not self._stopping:
            if not self._ib.isConnected():
                self.connected.clear()
                try:
                    await self._ib.connectAsync(
                        self.host, self.port, clientId=self.client_id, timeout=5
                    )
                    self.connected.set()
                    log.info("emergency line connected as client %d", self.client_id)
                except (OSError, TimeoutError) as exc:
                    if not self._reported_down:  # once per outage, not every second
                        self._reported_down = True
                        log.warning("emergency line cannot connect yet (%s); retrying", exc)
                else:
                    self._reported_down = False
            await asyncio.sleep(1.0)

    async def _watch(self) -> None:
        while not self._stopping:
            stalled = time.monotonic() - self.last_beat
            if self.armed and self.fired is None and stalled > self.threshold:
                self._fire(
                    f"the desktop's event loop was stalled for {stalled:.1f} s "
                    f"(threshold {self.threshold:g} s)"
                )
            await asyncio.sleep(self.CHECK_EVERY)

    def _fire(self, why: str) -> None:
        self.fired_at = time.time()
        self.fired = why
        log.warning("emergency halt: %s", why)
        if self._ib.isConnected():
            self._ib.reqGlobalCancel()
        else:
            why += "; the emergency line was not connected, so no cancel went out"
            self.fired = why
        record_halt(self.journal_path, "watchdog", why)
        if self.on_fire is not None:
            self.on_fire(why)

    def rearm(self) -> None:
        """After the desk has acknowledged a firing: watch again."""
        self.fired = None
        self.fired_at = None
        self.last_beat = time.monotonic()
