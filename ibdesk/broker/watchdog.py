"""The stall watchdog: a second connection on its own thread that cancels everything when
the desktop's event loop stops turning.

A strategy stuck in a loop or a hung call freezes the GUI loop, and with it the kill button
(measured: a 2 s stall delays a GUI kill by 1.95 s; FIELD_NOTES.md §2). The watchdog keeps a
pre-connected socket with its own client id on a thread with its own asyncio loop, and
watches the heartbeat the desk's loop sends; past the threshold it sends a global cancel,
latches HALTED in the journal, and tells the desk, which adopts the halt when it wakes.
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
from ibdesk.broker.emergency import record_halt

log = logging.getLogger("ibdesk.broker.watchdog")


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
        # Most urgent first: the cancel at the broker, then the desk's own latch (its gate
        # and pacer), then the journal; ``fired`` last, so whoever sees it sees it all.
        if self._ib.isConnected():
            self._ib.reqGlobalCancel()
        else:
            why += "; the emergency line was not connected, so no cancel went out"
        log.warning("emergency halt: %s", why)
        if self.on_fire is not None:
            self.on_fire(why)
        problem = record_halt(self.journal_path, "watchdog", why)
        if problem:
            log.error("emergency halt: %s", problem)
        self.fired_at = time.time()
        self.fired = why

    def rearm(self) -> None:
        """After the desk has acknowledged a firing: watch again."""
        self.fired = None
        self.fired_at = None
        self.last_beat = time.monotonic()
