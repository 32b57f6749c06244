"""The stall watchdog's own process: ``ibdesk watchdog`` (hidden; the desk starts it).

It keeps a pre-connected socket with its own client id and reads the desk's heartbeat from
its stdin. When no beat has arrived for ``--threshold`` seconds it sends a global cancel on
that socket, latches HALTED in the journal, and tells the desk (which adopts the halt as soon
as its loop runs again). It imports no Qt and shares nothing with the desk but two pipes, so
nothing that freezes the desk's interpreter (a C call holding the GIL) can delay it.

The pipes (see ibdesk.broker.watchdog for the desk's side):

* desk -> here, stdin: one byte per beat (``.``); ``q`` means the desk is closing normally:
  end without firing. End of file without ``q`` means the desk process died abruptly; that
  ends the watchdog without firing too (the reasons are in ibdesk.broker.watchdog).
* here -> desk, stdout: one JSON object a line, ``{"kind": ...}``: ``log`` (a log record for
  the desk's log), ``connected`` (``up``: whether the socket is up), ``fired`` (``why``,
  ``cancel_sent``) and ``armed`` (watching again after a fire: the desk beat since).

Nothing here waits for the desk: lines go through a bounded queue to a writer thread, and
are dropped (counted) when a frozen desk has stopped reading. A fire is a socket write and a
journal write on this process's own loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ibdesk.broker import ib as shim
from ibdesk.broker.emergency import record_halt

log = logging.getLogger("ibdesk.broker.watchdog")

BEAT, QUIT = b".", b"q"
REARM_POLL = 0.05
""" seconds between looks for the beat that re-arms the watch after a fire """
RECONNECT_EVERY = 1.0
LOG_LINES_PER_MINUTE = 30
""" the most log lines this process sends the desk in a minute (the rest are counted) """


class DeskChannel:
    """JSON lines to the desk, written by a thread of their own through a bounded queue:
    a desk that has stopped reading (frozen) can block that thread, never the watch."""

    def __init__(self, stream: BinaryIO, capacity: int = 256) -> None:
        self._stream = stream
        self._queue: queue.Queue[bytes | None] = queue.Queue(capacity)
        self.dropped = 0
        self._thread = threading.Thread(target=self._write, name="watchdog-out", daemon=True)
        self._thread.start()

    def send(self, kind: str, **fields: Any) -> None:
        """Queue one message (dropped and counted if the queue is full)."""
        line = json.dumps({"kind": kind, **fields}).encode() + b"\n"
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (bounded by ``timeout``), then stop the writer."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _write(self) -> None:
        stream: BinaryIO | None = self._stream
        while (line := self._queue.get()) is not None:
            if stream is not None:
                try:
                    stream.write(line)
                    stream.flush()
                    continue
                except (OSError, ValueError):  # the desk is gone: say the rest on stderr
                    stream = None
            print(f"ibdesk watchdog: {line.decode().strip()}", file=sys.stderr, flush=True)


class ForwardHandler(logging.Handler):
    """Log records to the desk's log, at most ``per_minute`` lines a minute."""

    def __init__(
        self,
        channel: DeskChannel,
        per_minute: int = LOG_LINES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(level=logging.INFO)
        self.channel = channel
        self.per_minute = per_minute
        self.clock = clock
        self._window_start = clock()
        self._sent = 0
        self._dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = self.clock()
        if now - self._window_start >= 60:
            if self._dropped:
                note = f"(the watchdog dropped {self._dropped} log lines in the last minute)"
                self.channel.send("log", level=logging.WARNING, msg=note)
            self._window_start, self._sent, self._dropped = now, 0, 0
        if self._sent >= self.per_minute:
            self._dropped += 1
            return
        self._sent += 1
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.channel.send("log", level=record.levelno, msg=text)


class StallWatch:
    """The watch: a connection kept open, the beats, the fire."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        threshold: float,
        journal_path: Path | None,
        channel: DeskChannel,
        beats: BinaryIO,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.threshold = threshold
        self.journal_path = journal_path
        self.channel = channel
        self.beats = beats
        self.last_beat = time.monotonic()
        """ when the last beat was read (written by the reader thread) """
        self.fired_at: float | None = None
        """ monotonic time of the last fire, until a later beat re-arms the watch """
        self.desk_closed = False
        """ the desk said goodbye (``q``), rather than its pipe just ending """
        self.ib: Any = None
        self._ended: asyncio.Event | None = None
        self._up = False
        self._reported_down = False

    async def run(self) -> None:
        """Watch until the desk closes its end of the pipe."""
        loop = asyncio.get_running_loop()
        self.ib = shim.IB()  # made on the loop it runs on (ib_insync binds it at creation)
        self._ended = asyncio.Event()
        reader = threading.Thread(
            target=self._read_beats, args=(loop,), name="watchdog-beats", daemon=True
        )
        reader.start()
        tasks = [loop.create_task(self._keep_connected()), loop.create_task(self._watch())]
        try:
            await self._ended.wait()
        finally:
            for task in tasks:
                task.cancel()
            # A cancel that lands as the library's connect completes can be swallowed
            # (asyncio.wait_for on 3.11); the loops then end by themselves, as _ended is set.
            await asyncio.wait(tasks, timeout=RECONNECT_EVERY + 1)
            if self.ib.isConnected():
                self.ib.disconnect()
        if not self.desk_closed:
            log.warning(
                "the desk's pipe closed without a goodbye (the desk process died): "
                "the watchdog ends without cancelling anything"
            )

    def _read_beats(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = self.beats.fileno()
        while True:
            try:
                data = os.read(fd, 1024)
            except OSError:
                data = b""
            if not data or QUIT in data:
                self.desk_closed = QUIT in data
                loop.call_soon_threadsafe(self._end)
                return
            self.last_beat = time.monotonic()

    def _end(self) -> None:
        assert self._ended is not None
        self._ended.set()

    async def _watch(self) -> None:
        assert self._ended is not None
        while not self._ended.is_set():
            if self.fired_at is not None:
                if self.last_beat > self.fired_at:  # the desk runs again: watch again
                    self.fired_at = None
                    self.channel.send("armed")
                await asyncio.sleep(REARM_POLL)
                continue
            stalled = time.monotonic() - self.last_beat
            if stalled > self.threshold:
                self._fire(stalled)
                continue
            # Sleep until the beat now known would be too old; a newer beat only moves that
            # moment later, so waking then and looking again never misses one.
            await asyncio.sleep(max(self.threshold - stalled, 0.001))

    def _fire(self, stalled: float) -> None:
        # Most urgent first: the cancel at the broker, then the journal's latch, then the
        # desk (which adopts the halt when its loop runs, whatever it reads here).
        why = (
            f"the desktop's event loop was stalled for {stalled:.1f} s "
            f"(threshold {self.threshold:g} s)"
        )
        cancel_sent = bool(self.ib.isConnected())
        if cancel_sent:
            self.ib.reqGlobalCancel()
        else:
            why += "; the emergency line was not connected, so no cancel went out"
        self.fired_at = time.monotonic()
        log.warning("emergency halt: %s", why)
        problem = record_halt(self.journal_path, "watchdog", why)
        if problem:
            log.error("emergency halt: %s", problem)
        self.channel.send("fired", why=why, cancel_sent=cancel_sent)

    async def _keep_connected(self) -> None:
        assert self._ended is not None
        while not self._ended.is_set():
            if not self.ib.isConnected():
                self._set_up(False)
                try:
                    await self.ib.connectAsync(
                        self.host, self.port, clientId=self.client_id, timeout=5
                    )
                except (OSError, TimeoutError) as exc:
                    if not self._reported_down:  # once per outage, not every second
                        self._reported_down = True
                        log.warning("emergency line cannot connect yet (%s); retrying", exc)
                else:
                    self._reported_down = False
                    log.info("emergency line connected as client %d", self.client_id)
            self._set_up(bool(self.ib.isConnected()))
            await asyncio.sleep(RECONNECT_EVERY)

    def _set_up(self, up: bool) -> None:
        if up != self._up:
            self._up = up
            self.channel.send("connected", up=up)


def parser() -> argparse.ArgumentParser:
    """``ibdesk watchdog``'s flags (the desk builds them: ibdesk.broker.watchdog)."""
    p = argparse.ArgumentParser(
        prog="ibdesk watchdog",
        description="The desk's stall watchdog (started by ibdesk; reads beats on stdin).",
    )
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", type=int, required=True)
    p.add_argument("--threshold", type=float, required=True, metavar="SECONDS")
    p.add_argument("--journal", type=Path, default=None, metavar="PATH")
    return p


def main(argv: list[str]) -> int:
    """Run the watchdog until the desk closes its stdin; the exit code."""
    args = parser().parse_args(argv)
    # Ctrl+C in the desk's terminal reaches its whole process group; the desk decides when
    # this process ends, by closing the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = DeskChannel(sys.stdout.buffer)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(ForwardHandler(channel))
    # The library logs every failed connect at ERROR, once a second while TWS is down; this
    # process says what matters about its connection itself, once per outage.
    logging.getLogger(shim.LOGGER_PREFIX).setLevel(logging.CRITICAL)
    watch = StallWatch(
        args.host,
        args.port,
        args.client_id,
        args.threshold,
        args.journal,
        channel,
        sys.stdin.buffer,
    )
    try:
        asyncio.run(watch.run())
    except Exception:
        log.exception("the watchdog process failed")
        return 1
    finally:
        channel.close()
    return 0
