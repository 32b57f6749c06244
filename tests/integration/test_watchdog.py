"""The stall watchdog's EmergencyLine on its own, against the simulated TWS.

The line runs its own thread, loop and connection; the test plays the desk's loop by calling
``beat()``. When the beats stop for longer than the threshold the simulator must receive a
``reqGlobalCancel`` (58) from the line's client id within the threshold plus 300 ms, the halt
must be journaled, ``rearm()`` must watch again, and ``stop()`` must end the thread cleanly.
(The desk-level stall tests, which need the qasync loop, are in tests/ui/test_kill_window.py.)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ibdesk.broker.watchdog import EmergencyLine
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


async def test_a_stall_fires_one_global_cancel_within_the_threshold_and_rearms(
    sim: SimThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No fire while beats come; a global cancel from the line's own client id within
    threshold + 300 ms of the last beat; fired says why; HALTED journaled; one fire per
    stall; rearm() watches again; stop() ends the thread with no task left behind."""
    # time.perf_counter (the sim's clock) and time.monotonic (the line's) must be one clock
    # for the comparison below to mean anything; on Linux both are CLOCK_MONOTONIC.
    assert abs(time.perf_counter() - time.monotonic()) < 0.05
    caplog.set_level(logging.WARNING)
    journal = tmp_path / "journal.sqlite"
    fires: list[tuple[str, str]] = []
    line = EmergencyLine(
        "127.0.0.1",
        sim.port,
        LINE_ID,
        THRESHOLD,
        journal,
        on_fire=lambda why: fires.append((why, threading.current_thread().name)),
    )
    line.start()
    try:
        await wait_until(line.connected.is_set, timeout=15, what="the line connected")
        assert LINE_ID in {c["client_id"] for c in sim.control.clients()}

        await beat_for(line, 3 * THRESHOLD)
        assert line.fired is None and fires == [] and cancels(sim) == []

        last_beat = await beat_for(line, 0.2)  # ... and then the loop stalls
        await wait_until(lambda: cancels(sim), timeout=10, what="the line's global cancel")
        [arrived] = cancels(sim)
        delay = arrived - last_beat
        print(f"\nlast beat to global cancel at the sim: {delay * 1000:.0f} ms")
        assert THRESHOLD - 0.01 <= delay <= THRESHOLD + 0.3
        # on_fire comes before the journal write; `fired` is set last, once all is done
        await wait_until(lambda: fires and line.fired, timeout=5, what="on_fire, then fired")
        assert line.fired is not None
        assert "stalled" in line.fired and f"threshold {THRESHOLD:g} s" in line.fired
        assert fires == [(line.fired, "ibdesk-emergency")]  # called from the line's thread
        assert line.fired_at is not None
        saved = saved_state(journal)
        assert saved is not None
        assert (saved["state"], saved["who"]) == ("HALTED", "watchdog")
        assert saved["why"] == line.fired

        # Still stalled for several more thresholds: the latch holds, no second cancel.
        deadline = time.perf_counter() + 3 * THRESHOLD
        await wait_until(lambda: time.perf_counter() > deadline, what="three more thresholds")
        assert len(cancels(sim)) == 1 and len(fires) == 1

        line.rearm()
        assert line.fired is None and line.fired_at is None
        await beat_for(line, 3 * THRESHOLD)
        assert len(cancels(sim)) == 1 and line.fired is None
        last_beat = await beat_for(line, 0.1)
        await wait_until(lambda: len(cancels(sim)) == 2, timeout=10, what="a second fire")
        assert cancels(sim)[1] - last_beat <= THRESHOLD + 0.3
        await wait_until(lambda: len(fires) == 2, timeout=5, what="on_fire again")
    finally:
        line.stop()
    assert not line.is_alive()
    assert line.loop is not None and line.loop.is_closed()
    await wait_until(
        lambda: LINE_ID not in {c["client_id"] for c in sim.control.clients()},
        timeout=10,
        what="the line's connection closed at the sim",
    )
    gc.collect()  # a pending task left behind would be reported now
    leftovers = [r.getMessage() for r in caplog.records if "destroyed" in r.getMessage()]
    assert leftovers == []


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_stall_without_a_connection_still_latches_and_says_no_cancel_went_out(
    tmp_path: Path,
) -> None:
    """With no TWS reachable the line still fires on a stall, journals HALTED, and says
    plainly that no cancel went out; stop() still ends the thread."""
    journal = tmp_path / "journal.sqlite"
    fires: list[str] = []
    line = EmergencyLine("127.0.0.1", closed_port(), LINE_ID, 0.3, journal, fires.append)
    line.start()
    try:
        await wait_until(lambda: fires and line.fired, timeout=10, what="the line fired")
        assert "not connected, so no cancel went out" in str(line.fired)
        assert fires == [line.fired]
        assert not line.connected.is_set()
        saved = saved_state(journal)
        assert saved is not None and saved["state"] == "HALTED"
    finally:
        line.stop()
    assert not line.is_alive()


def test_stop_before_the_loop_runs_ends_the_thread(tmp_path: Path) -> None:
    """A line stopped right after start (the desk closing at once) never hangs."""
    line = EmergencyLine("127.0.0.1", closed_port(), LINE_ID, 1.0, tmp_path / "j.sqlite")
    line.start()
    line.stop()
    assert not line.is_alive()
    assert line.fired is None
