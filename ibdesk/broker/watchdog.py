"""The stall watchdog, as the desk sees it: a process of its own, fed by the loop's heartbeat.

A strategy stuck in a loop or a hung call freezes the desk's loop, and with it the kill
button (measured: a 2 s stall delays a GUI kill by 1.95 s; FIELD_NOTES.md §2). The watchdog
keeps a pre-connected socket with its own client id and watches the heartbeat the loop sends;
past the threshold it sends a global cancel, latches HALTED in the journal, and tells the
desk, which adopts the halt when it wakes (ibdesk.desk.safety).

**Why a process and not a thread.** A thread shares the desk's GIL, and one C call can hold
the GIL for as long as it likes: a ``QPlainTextEdit.appendPlainText`` of a 1 MiB line held it
for 30 s, during which no Python thread of the desk ran, the watchdog included (it fired
only when the call returned, 5 s late on a 5 s freeze). ``ibdesk watchdog``
(ibdesk.broker.watchdog_process) has an interpreter of its own; the desk writes one byte per
beat into its stdin, which costs the desk nothing and needs nothing from it while frozen.

**A frozen desk and a dead one are told apart by the pipe.** A frozen desk keeps the pipe
open and stops writing: the watchdog fires after the threshold. A desk that closes normally
writes ``q`` and closes the pipe: the watchdog disconnects and exits without firing. A desk
process that dies abruptly (SIGKILL, a crash in Qt) has its pipe closed by the kernel with no
``q``: the watchdog exits **without firing**, as the thread did (it died with the process).
The watchdog exists because a frozen desk can wake and send what it had queued; a dead desk
sends nothing more, so there is nothing left to race. Orders resting at the broker, often the
protective stops of open positions, stay working as they do when any API client goes away,
and a global cancel would also take other clients' and the TWS screen's orders. The trader
restarts the desk (which reconciles with the broker) or uses ``ibdesk kill`` / the kill window,
neither of which needs the desk. The watchdog says so on stderr (the desk's log died with it).
Every path ends the child with the desk, so none is ever left behind.

**No order leaves a woken desk before it adopts the halt.** The watchdog cannot reach into the
desk's memory as the thread did; instead the desk checks its own last beat (:attr:`last_beat`)
before the pacer writes any order and at every beat (ibdesk.desk.safety). The watchdog reads each
beat after the desk wrote it, so whenever it has fired the desk's last beat is older than the
threshold too, and the desk holds every order and halts before anything else is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ibdesk.broker.watchdog_process import BEAT, QUIT

log = logging.getLogger("ibdesk.broker.watchdog")

STOP_TIMEOUT = 5.0
""" seconds a closing watchdog gets to disconnect before it is killed """


def ibdesk_command(*args: str) -> list[str]:
    """The command line that runs ``ibdesk ARGS`` as a child process of this one (the
    watchdog, the kill window).

    The one place that knows how ibdesk is started. From a pip install that is this
    interpreter with ``-m ibdesk``; a frozen bundle (PyInstaller sets ``sys.frozen``) has no
    ``-m``: its ``sys.executable`` is ibdesk itself and takes ibdesk's arguments.
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "ibdesk", *args]


class EmergencyLine:
    """The desk's handle on its watchdog process.

    The desk's loop calls :meth:`beat` from a timer. :attr:`connected` and :attr:`fired`
    mirror what the process reports; ``on_fire(why)`` is called (from this handle's reader
    thread) once the process has cancelled and journaled a halt.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        threshold: float,
        journal_path: Path | None = None,
        on_fire: Callable[[str], None] | None = None,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.threshold = threshold
        self.journal_path = journal_path
        self.on_fire = on_fire
        self.last_beat = time.monotonic()
        """ monotonic time of the last beat written (the desk's own view of its loop) """
        self.connected = threading.Event()
        self.fired: str | None = None
        self.fired_at: float | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self._beats: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False

    def command(self) -> list[str]:
        """The watchdog's command line."""
        args = ["watchdog", "--host", self.host, "--port", str(self.port)]
        args += ["--client-id", str(self.client_id), "--threshold", repr(self.threshold)]
        if self.journal_path is not None:
            args += ["--journal", str(self.journal_path)]
        return ibdesk_command(*args)

    def start(self) -> None:
        """Start the process (it connects on its own and watches from now)."""
        self.last_beat = time.monotonic()
        self.started_at = self.last_beat
        try:
            process = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as exc:
            log.error(
                "cannot start the watchdog process (%s): a stalled loop halts the desk only "
                "once it wakes",
                exc,
            )
            return
        assert process.stdin is not None and process.stdout is not None
        self.process, self._beats = process, process.stdin
        # A watchdog that stops reading must never block the loop that beats.
        with contextlib.suppress(OSError, AttributeError):  # no set_blocking: Windows < 3.12
            os.set_blocking(process.stdin.fileno(), False)
        self._reader = threading.Thread(
            target=self._read, args=(process,), name="ibdesk-watchdog-reader", daemon=True
        )
        self._reader.start()

    def beat(self) -> None:
        """The desk's loop is alive (called from a timer on that loop)."""
        self.last_beat = time.monotonic()
        self._write(BEAT)

    def is_alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    @property
    def ended(self) -> bool:
        """The process ended although nobody stopped it (it failed): the desk restarts it."""
        return not self._stopping and self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        """Say goodbye, let the process disconnect and exit (killed after STOP_TIMEOUT s);
        waits for it, so no watchdog outlives its desk."""
        self._stopping = True
        process = self.process
        if process is None:
            return
        self._write(QUIT)
        if self._beats is not None:
            with contextlib.suppress(OSError):
                self._beats.close()
            self._beats = None
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("the watchdog process did not exit in %g s; killing it", STOP_TIMEOUT)
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        self.connected.clear()

    def _write(self, data: bytes) -> None:
        beats = self._beats
        if beats is None:
            return
        try:
            os.write(beats.fileno(), data)
        except BlockingIOError:
            pass  # 64 KiB of beats unread: the process is stuck, and will show it by ending
        except (OSError, ValueError):
            self._beats = None  # the process is gone; the reader thread says so

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        """What the process says, line by line, until it ends (this handle's own thread)."""
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                try:
                    message = json.loads(raw)
                    self._on_message(message)
                except (ValueError, TypeError, KeyError, AttributeError):
                    log.warning("watchdog process: %r", raw[:200])
        self.connected.clear()
        code = process.wait()
        if not self._stopping:
            log.error(
                "the watchdog process ended by itself (exit code %s): "
                "a stalled loop is not watched until it is restarted",
                code,
            )

    def _on_message(self, message: dict[str, object]) -> None:
        kind = message["kind"]
        if kind == "log":
            log.log(int(message["level"]), "%s", message["msg"])  # type: ignore[call-overload]
        elif kind == "connected":
            (self.connected.set if message["up"] else self.connected.clear)()
        elif kind == "fired":
            why = str(message["why"])
            if self.on_fire is not None:
                self.on_fire(why)
            self.fired_at = time.time()
            self.fired = why
        elif kind == "armed":
            self.fired = None
            self.fired_at = None
