"""The stall watchdog on its own, against the simulated TWS: the desk's handle
(``EmergencyLine``) and the process it starts (``ibdesk watchdog``).

The test plays the desk's loop by calling ``beat()``. When the beats stop for longer than the
threshold the simulator must receive a ``reqGlobalCancel`` (58) from the watchdog's client id
within the threshold plus 300 ms, even while every thread of this process is frozen by a C
call that holds the GIL; the halt must be journaled, the next beat must re-arm the watch, and
``stop()`` must end the process without firing. A desk process that dies abruptly ends its
watchdog without a cancel (the module docstring of ibdesk.broker.watchdog says why).
(The desk-level tests are in tests/ui: test_kill_window.py, test_frozen_desk.py,
test_watchdog_life.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import SimProcess
from benchmarks.common import sim_process as start_sim_process
from ibdesk.broker.watchdog import EmergencyLine, ibdesk_command
from ibdesk.broker.watchdog_process import DeskChannel, ForwardHandler
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from tests.helpers import quick_sim, wait_until

pytestmark = pytest.mark.sim

LINE_ID = 101
THRESHOLD = 0.5
GLOBAL_CANCEL = 58


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


def cancels(sim: SimThread) -> list[float]:
    """Arrival times (the sim's ``received`` clock: time.perf_counter) of the line's
    global cancels."""
    return [r["monotonic"] for r in sim.control.received(msg_id=GLOBAL_CANCEL, client_id=LINE_ID)]


def connected_ids(sim: SimThread) -> set[int]:
    return {c["client_id"] for c in sim.control.clients()}


async def beat_for(line: EmergencyLine, seconds: float) -> float:
    """Play a live desk loop: beat every 50 ms for ``seconds``; the perf_counter time of
    the last beat."""
    end = time.perf_counter() + seconds
    while True:
        line.beat()
        last = time.perf_counter()
        if last >= end:
            return last
        await asyncio.sleep(0.05)


def saved_state(path: Path) -> Any:
    journal = Journal(path)
    try:
        return latch.read(journal, "DU1234567")
    finally:
        journal.close()


def gone(pid: int) -> bool:
    """Whether no process has this pid any more (or only a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_a_stall_fires_one_global_cancel_within_the_threshold_and_rearms(
    sim: SimThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No fire while beats come; a global cancel from the watchdog's own client id within
    threshold + 300 ms of the last beat; ``on_fire`` says why once the halt is journaled;
    one fire per stall; the next beat re-arms; stop() ends the process with no fire."""
    # time.perf_counter (the sim's clock) and time.monotonic (the process's) must be one
    # clock for the comparison below to mean anything; on Linux both are CLOCK_MONOTONIC.
    assert abs(time.perf_counter() - time.monotonic()) < 0.05
    caplog.set_level(logging.INFO)
    journal = tmp_path / "journal.sqlite"
    fires: list[tuple[str, str, Any]] = []

    def on_fire(why: str) -> None:  # the journal is written before the desk hears of it
        fires.append((why, threading.current_thread().name, saved_state(journal)))

    line = EmergencyLine("127.0.0.1", sim.port, LINE_ID, THRESHOLD, journal, on_fire=on_fire)
    line.start()
    try:
        await wait_until(line.connected.is_set, timeout=15, what="the line connected")
        assert LINE_ID in connected_ids(sim)
        assert line.process is not None and line.is_alive()
        await wait_until(
            lambda: any(
                r.name == "ibdesk.broker.watchdog" and "connected as client 101" in r.getMessage()
                for r in caplog.records
            ),
            what="the process's log line in this process's log",
        )

        await beat_for(line, 3 * THRESHOLD)
        assert line.fired is None and fires == [] and cancels(sim) == []

        last_beat = await beat_for(line, 0.2)  # ... and then the loop stalls
        await wait_until(lambda: cancels(sim), timeout=10, what="the line's global cancel")
        [arrived] = cancels(sim)
        delay = arrived - last_beat
        print(f"\nlast beat to global cancel at the sim: {delay * 1000:.0f} ms")
        assert THRESHOLD - 0.01 <= delay <= THRESHOLD + 0.3
        await wait_until(lambda: line.fired, timeout=5, what="the fire reported")
        assert "stalled" in line.fired and f"threshold {THRESHOLD:g} s" in line.fired
        [(why, thread, saved)] = fires
        assert why == line.fired and thread == "ibdesk-watchdog-reader"
        assert saved is not None
        assert (saved["state"], saved["who"], saved["why"]) == ("HALTED", "watchdog", why)
        assert line.fired_at is not None

        # Still stalled for several more thresholds: the latch holds, no second cancel.
        deadline = time.perf_counter() + 3 * THRESHOLD
        await wait_until(lambda: time.perf_counter() > deadline, what="three more thresholds")
        assert len(cancels(sim)) == 1 and len(fires) == 1

        line.beat()  # the loop runs again: the watch re-arms
        await wait_until(lambda: line.fired is None, what="re-armed")
        assert line.fired_at is None
        await beat_for(line, 3 * THRESHOLD)
        assert len(cancels(sim)) == 1
        last_beat = await beat_for(line, 0.1)
        await wait_until(lambda: len(cancels(sim)) == 2, timeout=10, what="a second fire")
        assert cancels(sim)[1] - last_beat <= THRESHOLD + 0.3
        await wait_until(lambda: len(fires) == 2, timeout=5, what="on_fire again")
    finally:
        line.stop()
    assert not line.is_alive() and line.process is not None
    assert line.process.returncode == 0
    await wait_until(
        lambda: LINE_ID not in connected_ids(sim),
        timeout=10,
        what="the line's connection closed at the sim",
    )
    assert len(cancels(sim)) == 2  # stopping fired nothing


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_stall_without_a_connection_still_latches_and_says_no_cancel_went_out(
    tmp_path: Path,
) -> None:
    """With no TWS reachable the line still fires on a stall, journals HALTED, and says
    plainly that no cancel went out; stop() still ends the process."""
    journal = tmp_path / "journal.sqlite"
    fires: list[str] = []
    line = EmergencyLine("127.0.0.1", closed_port(), LINE_ID, 0.3, journal, fires.append)
    line.start()
    try:
        await wait_until(lambda: fires and line.fired, timeout=15, what="the line fired")
        assert "not connected, so no cancel went out" in str(line.fired)
        assert fires == [line.fired]
        assert not line.connected.is_set()
        saved = saved_state(journal)
        assert saved is not None and saved["state"] == "HALTED"
    finally:
        line.stop()
    assert not line.is_alive()


async def test_stop_right_after_start_ends_the_process_without_firing(
    sim: SimThread, tmp_path: Path
) -> None:
    """A line stopped at once (the desk closing as it opens) never hangs, and a stop is
    never taken for a stall, however long ago the last beat was."""
    journal = tmp_path / "j.sqlite"
    line = EmergencyLine("127.0.0.1", sim.port, LINE_ID, 0.2, journal)
    line.start()
    line.stop()
    assert not line.is_alive() and line.fired is None
    assert line.process is not None and line.process.returncode == 0
    line = EmergencyLine("127.0.0.1", sim.port, LINE_ID, 0.2, journal)
    line.start()
    await wait_until(line.connected.is_set, timeout=15, what="the line connected")
    line.stop()  # no beat for longer than the threshold by now
    assert line.process is not None and line.process.returncode == 0
    assert cancels(sim) == [] and line.fired is None
    assert not journal.exists() or saved_state(journal) is None


@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL, and the process table in /proc")
async def test_a_desk_killed_abruptly_ends_its_watchdog_without_a_cancel(
    sim: SimThread, tmp_path: Path
) -> None:
    """A desk process that dies by SIGKILL while its watchdog is connected and armed: the
    watchdog sees its pipe end with no goodbye, cancels nothing, says so on stderr and
    exits; nothing is left running and nothing is journaled."""
    journal = tmp_path / "j.sqlite"
    desk = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from ibdesk.broker.watchdog import EmergencyLine
                line = EmergencyLine("127.0.0.1", {sim.port}, {LINE_ID}, {THRESHOLD},
                                     Path({str(journal)!r}))
                line.start()
                print(line.process.pid, flush=True)
                while True:
                    line.beat()
                    time.sleep(0.05)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = 0
    try:
        assert desk.stdout is not None
        watchdog = int(desk.stdout.readline())
        await wait_until(lambda: LINE_ID in connected_ids(sim), timeout=20, what="connected")
        os.kill(desk.pid, signal.SIGKILL)
        desk.wait(10)
        await wait_until(lambda: gone(watchdog), timeout=10, what="the watchdog gone too")
        _, err = desk.communicate(timeout=10)  # the watchdog held stderr open until it ended
    finally:
        for pid in (desk.pid, watchdog):  # on a failure, leave nothing running
            if pid and not gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert "died" in err and "without cancelling anything" in err
    await wait_until(lambda: LINE_ID not in connected_ids(sim), timeout=10, what="disconnected")
    await asyncio.sleep(2 * THRESHOLD)  # long past the threshold since the last beat
    assert cancels(sim) == []
    assert not journal.exists() or saved_state(journal) is None


async def test_a_watchdog_that_dies_is_reported(
    sim: SimThread, tmp_path: Path, expected_faults: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The process ending by itself is an error in the desk's log, and ``ended`` says the
    desk must start it again; the handle's beats do not raise meanwhile."""
    expected_faults.allow_errors("ibdesk.broker.watchdog")
    line = EmergencyLine("127.0.0.1", sim.port, LINE_ID, 1.0, tmp_path / "j.sqlite")
    line.start()
    try:
        await wait_until(line.connected.is_set, timeout=15, what="the line connected")
        assert not line.ended and line.process is not None
        line.process.kill()
        await wait_until(lambda: line.ended, what="the end seen")
        await wait_until(lambda: not line.connected.is_set(), what="not connected any more")
        for _ in range(3):
            line.beat()
        await wait_until(
            lambda: any("ended by itself" in r.getMessage() for r in caplog.records),
            what="the error logged",
        )
    finally:
        line.stop()


def test_the_watchdog_process_imports_no_qt() -> None:
    """The hidden ``ibdesk watchdog`` entry loads the client library, not Qt."""
    code = (
        "import sys; from ibdesk import cli; from ibdesk.broker import watchdog_process; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'PySide6', 'qasync', 'pyqtgraph', 'shiboken6'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
    assert ibdesk_command("watchdog")[-2:] == ["ibdesk", "watchdog"]
    usage = subprocess.run(
        ibdesk_command("--help"), capture_output=True, text=True, timeout=60, check=True
    )
    assert "watchdog" not in usage.stdout  # not for people


class Lines:
    """A DeskChannel's stream: what was written."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


def test_the_processes_log_lines_are_capped_per_minute() -> None:
    """A flood of log records in the watchdog process reaches the desk as at most 30
    lines a minute, then one line saying how many were dropped."""
    stream = Lines()
    channel = DeskChannel(stream)  # type: ignore[arg-type]
    now = [0.0]
    handler = ForwardHandler(channel, clock=lambda: now[0])
    flood = logging.getLogger("tests.flood")
    flood.addHandler(handler)
    flood.propagate = False
    try:
        for i in range(1000):
            flood.warning("line %d", i)
        now[0] = 61.0
        flood.warning("after a minute")
    finally:
        flood.removeHandler(handler)
        flood.propagate = True
    channel.close()
    lines = stream.data.decode().splitlines()
    assert len(lines) == 32
    assert "dropped 970 log lines" in lines[30] and "after a minute" in lines[31]


class Gone(Lines):
    """A DeskChannel's stream whose reader has died: every write fails."""

    def write(self, data: bytes) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_once_the_desk_is_gone_every_later_line_goes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The desk died before the watchdog's first line reached it (a slow connect): that line
    and each after it, the watchdog's last word among them, are said on stderr."""
    channel = DeskChannel(Gone())  # type: ignore[arg-type]
    channel.send("log", msg="emergency line connected")
    channel.send("log", msg="the desk process died")
    channel.close()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert "connected" in err[0] and "died" in err[1]


# ---- a stall that holds the GIL ------------------------------------------------------------------

# A C call through ctypes.PyDLL keeps the GIL for its whole length (CDLL would release it):
# the shape of the measured 30 s QPlainTextEdit append that froze every thread of the desk.
_LIBC = ctypes.PyDLL(None)


def hold_the_gil(seconds: float) -> None:
    """Block this thread inside one C call that never releases the GIL."""
    _LIBC.usleep(ctypes.c_uint(int(seconds * 1_000_000)))


@pytest.fixture
def sim_process() -> Iterator[SimProcess]:
    """The simulated TWS in a process of its own: a simulator thread in this process would
    freeze with the GIL too, and stamp the cancel only after the stall."""
    with start_sim_process() as running:
        yield running


def process_cancels(sim: SimProcess) -> list[float]:
    return [r["monotonic"] for r in sim.call("received", msg_id=GLOBAL_CANCEL, client_id=LINE_ID)]


@pytest.mark.skipif(sys.platform != "linux", reason="cross-process CLOCK_MONOTONIC and usleep")
async def test_a_stall_holding_the_gil_still_fires_within_the_threshold(
    sim_process: SimProcess, tmp_path: Path
) -> None:
    """The loop beats every 100 ms, then one callback holds the GIL for 5 s in a C call:
    the global cancel must still reach the simulator within threshold + 300 ms of the last
    beat, while the loop (and every thread of this process) is still frozen."""
    loop = asyncio.get_running_loop()
    line = EmergencyLine("127.0.0.1", sim_process.port, LINE_ID, THRESHOLD, tmp_path / "j.sqlite")
    beats: list[float] = []

    def beat() -> None:
        line.beat()
        beats.append(time.perf_counter())
        timer[0] = loop.call_later(0.1, beat)

    timer = [loop.call_later(0.1, beat)]
    line.start()
    try:
        await wait_until(line.connected.is_set, timeout=15, what="the line connected")
        await asyncio.sleep(3 * THRESHOLD)
        assert process_cancels(sim_process) == []
        frozen: list[float] = []

        def freeze() -> None:
            frozen.append(time.perf_counter())
            hold_the_gil(5.0)
            frozen.append(time.perf_counter())

        loop.call_soon(freeze)
        await wait_until(lambda: len(frozen) == 2, timeout=15, what="the freeze to end")
        timer[0].cancel()
        start, end = frozen
        assert end - start >= 4.9
        last_beat = max(b for b in beats if b <= start)
        [arrived] = await wait_until(
            lambda: process_cancels(sim_process), timeout=10, what="the global cancel"
        )
        print(
            f"\nGIL held 5 s: last beat to global cancel at the sim "
            f"{(arrived - last_beat) * 1000:.0f} ms (threshold {THRESHOLD * 1000:.0f} ms)"
        )
        assert arrived < start + 4.9, "the cancel only went out after the freeze"
        assert THRESHOLD - 0.01 <= arrived - last_beat <= THRESHOLD + 0.3
    finally:
        timer[0].cancel()
        line.stop()
