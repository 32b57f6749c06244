"""Running the simulated TWS: in the current loop, or on a thread of its own.

A thread of its own is how the desktop app's ``--demo`` and the test suite use it: the
simulator then never competes with the caller's event loop, as a real TWS would not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from ibdesk.simtws.config import SimConfig
from ibdesk.simtws.control import ControlServer, SimControl
from ibdesk.simtws.server import InboundRecord, SimServer


class Simulator:
    """A simulated TWS plus its control port, in the running event loop."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.server = SimServer(config)
        self.control = SimControl(self.server)
        self._control_server: ControlServer | None = None
        self.control_port: int | None = None

    async def start(self) -> int:
        """Listen on the API port (and the control port if configured)."""
        port = await self.server.start()
        if self.config.control_port is not None:
            self._control_server = ControlServer(self.control)
            self.control_port = await self._control_server.start(self.config.control_port)
        return port

    async def stop(self) -> None:
        """Close everything."""
        if self._control_server is not None:
            await self._control_server.stop()
        await self.server.stop()


class _ThreadControl:
    """SimControl's methods, callable from any thread: each call runs on the sim's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, control: SimControl) -> None:
        self._loop = loop
        self._control = control

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._control, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()

            def run() -> None:
                try:
                    future.set_result(method(*args, **kwargs))
                except Exception as exc:
                    future.set_exception(exc)

            self._loop.call_soon_threadsafe(run)
            return future.result(timeout=30)

        return call


class SimThread:
    """A simulated TWS on a daemon thread with its own event loop.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``control`` offers every
    :class:`SimControl` method, safe to call from the caller's thread.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig(port=0)
        self.sim = Simulator(self.config)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.control_port: int | None = None
        self._thread = threading.Thread(target=self._run, name="simtws", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.control: Any = _ThreadControl(self.loop, self.sim.control)

    def start(self) -> SimThread:
        """Start the thread and wait until the port is listening."""
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._failure is not None:
            raise RuntimeError(f"simulated TWS failed to start: {self._failure}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.port = self.loop.run_until_complete(self.sim.start())
            self.control_port = self.sim.control_port
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.sim.stop())
        self.loop.close()

    def add_inbound_hook(self, hook: Callable[[InboundRecord], None]) -> None:
        """Call ``hook`` (on the simulator's thread) for every message a client sends."""
        self.control._loop.call_soon_threadsafe(self.sim.server.inbound_hooks.append, hook)

    def stop(self) -> None:
        """Stop the loop and wait for the thread."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> SimThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
