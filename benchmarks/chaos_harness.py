"""The chaos runner's harness: the simulator's control port from asyncio, the trap that
charges errors to the run they happened in, and a port for each run's simulator."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Loggers whose errors are a crash of ours (the broker's own codes are its word, not ours).
WATCHED = ("ibdesk", "asyncio", "eventkit", "ib_async.Decoder", "ib_insync.Decoder")
LOW_PORTS = range(20_000, 30_000)


class ControlClient:
    """The simulator's JSON-lines control port, from asyncio."""

    def __init__(self) -> None:
        self._ids = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            "127.0.0.1", port, limit=64 << 20
        )

    async def call(self, op: str, **args: Any) -> Any:
        """One operation; RuntimeError with the simulator's reason when it refuses."""
        assert self._reader is not None and self._writer is not None
        self._ids += 1
        self._writer.write((json.dumps({"op": op, "args": args, "id": self._ids}) + "\n").encode())
        reply = json.loads(await self._reader.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"{op}: {reply.get('error')}")
        return reply["result"]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()


#: The run whose task (or callback) is running: errors are charged to it.
CURRENT_RUN: contextvars.ContextVar[int | None] = contextvars.ContextVar("chaos_run", default=None)
#: What the product does on purpose, logged at ERROR for the trader: not a crash. A kill
#: it could not verify says so (and why): the kill check judges whether that was honest.
BY_DESIGN = ("halted: runaway breaker", ": NOT verified at ")


class ErrorTrap(logging.Handler):
    """Error records of ibdesk, asyncio, eventkit and the decoder, and loop exceptions,
    charged to the run they happened in (by context), or to every run under way when no run
    is known (the simulator's threads, a bare loop callback): never lost, at worst shared."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: dict[int, list[str]] = {}
        self.by_design: dict[int, list[str]] = {}

    def watch(self, seed: int) -> None:
        self.seen[seed], self.by_design[seed] = [], []

    def forget(self, seed: int) -> tuple[list[str], list[str]]:
        return self.seen.pop(seed, []), self.by_design.pop(seed, [])

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        decoder = name.endswith(".Decoder")
        ours = name.startswith(WATCHED) and name != "ibdesk.broker.codes"
        if decoder or ours:
            text = f"{name}: {record.getMessage()[:300]}"
            self._charge(text, self.by_design if any(b in text for b in BY_DESIGN) else self.seen)

    def on_loop_exception(self, _loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        where = ""
        if exc is not None and exc.__traceback__ is not None:
            last = traceback.extract_tb(exc.__traceback__)[-3:]
            where = " at " + " < ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(last)
            )
        self._charge(f"loop: {context.get('message')} {exc!r}{where}", self.seen)

    def _charge(self, text: str, book: dict[int, list[str]]) -> None:
        run = CURRENT_RUN.get()
        for seed in [run] if run in book else list(book):
            book[seed].append(text)


def api_port(seed: int) -> int:
    """A free port for a run's simulator, below the ephemeral range.

    A simulator that restarts closes its port for a while, as TWS does. With port 0 the
    port came from the ephemeral range, where the next simulator of a run alongside (or any
    outgoing connection) could be given it meanwhile: the desk then reconnected to another
    run's simulator, and the restarted one could not listen again. Below that range the OS
    hands the port to nobody; runs alongside start apart (by seed) and skip taken ports.
    """
    start = LOW_PORTS.start + (seed * 37) % len(LOW_PORTS)
    for offset in range(len(LOW_PORTS)):
        port = LOW_PORTS.start + (start - LOW_PORTS.start + offset) % len(LOW_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for the simulator")


@contextlib.contextmanager
def trapped() -> Iterator[ErrorTrap]:
    """An ErrorTrap on the root logger and the running loop, for the runs inside."""
    trap = ErrorTrap()
    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    logging.getLogger().addHandler(trap)
    loop.set_exception_handler(trap.on_loop_exception)
    try:
        yield trap
    finally:
        loop.set_exception_handler(old_handler)
        logging.getLogger().removeHandler(trap)
