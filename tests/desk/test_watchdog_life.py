"""The watchdog process over a desk's life: it starts with the desk, follows a reconnect to
another host, comes back if it dies, and ends with the desk, firing nothing on a normal close
and leaving no process behind."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimThread
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = [
    pytest.mark.desk,
    pytest.mark.skipif(sys.platform != "linux", reason="reads the process table in /proc"),
]

GLOBAL_CANCEL = 58
DESK_ID, WATCHDOG_ID = 1, 101


def watchdog_children() -> set[int]:
    """Pids of this process's children that run ``ibdesk watchdog`` (zombies included: a
    child nobody reaped is left behind too)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended while we looked
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"watchdog" in cmdline:
            found.add(int(entry.name))
    return found


def connected_ids(sim: SimThread) -> set[int]:
    return {c["client_id"] for c in sim.control.clients()}


def saved_state(path: Path) -> Any:
    journal = Journal(path)
    try:
        return latch.read(journal, "DU1234567")
    finally:
        journal.close()


async def connected_desk(make_desk: MakeDesk) -> Any:
    desk = await make_desk(risk=limits_off())
    await wait_until(
        lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15, what="connected"
    )
    line = desk.safety.line
    assert line is not None
    await wait_until(line.connected.is_set, timeout=15, what="the watchdog connected")
    return desk


async def test_closing_the_desk_ends_its_watchdog_and_fires_nothing(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """A normal close: the watchdog process disconnects and exits, no process is left
    behind, no global cancel goes out, and the journal is not HALTED, however long the
    loop then stays without beats."""
    assert watchdog_children() == set()
    desk = await connected_desk(make_desk)
    line = desk.safety.line
    assert watchdog_children() == {line.process.pid}
    await desk.close()
    assert watchdog_children() == set()
    assert line.process.returncode == 0
    await wait_until(lambda: WATCHDOG_ID not in connected_ids(sim), what="its connection closed")
    threshold = desk.settings.risk.watchdog_halt_after
    deadline = time.monotonic() + 2 * threshold
    await wait_until(lambda: time.monotonic() > deadline, timeout=10, what="two thresholds")
    assert sim.control.received(msg_id=GLOBAL_CANCEL) == []
    saved = saved_state(desk.journal_path)
    assert saved is None or saved["state"] != TradingState.HALTED.value


async def test_reconnecting_elsewhere_moves_the_watchdog_there(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Connecting to another host restarts the watchdog against it: the old process ends
    (and its connection with it), a new one connects to the new host with the same id."""
    desk = await connected_desk(make_desk)
    first = desk.safety.line
    with SimThread(quick_sim(start_paused=True)) as other:
        desk.reconnect(dataclasses.replace(desk.settings.connection, port=other.port))
        assert first.process.poll() is not None  # stopped and reaped before the new one
        line = desk.safety.line
        assert line is not first and line.port == other.port
        await wait_until(line.connected.is_set, timeout=15, what="the new watchdog connected")
        assert WATCHDOG_ID in connected_ids(other)
        await wait_until(
            lambda: WATCHDOG_ID not in connected_ids(sim), what="the old watchdog disconnected"
        )
        assert watchdog_children() == {line.process.pid}
        await wait_until(
            lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15, what="reconnected"
        )
        await desk.close()
    assert watchdog_children() == set()
    assert sim.control.received(msg_id=GLOBAL_CANCEL) == []


async def test_a_watchdog_that_dies_is_started_again(
    make_desk: MakeDesk, sim: SimThread, expected_faults: Any
) -> None:
    """The watchdog process killed from outside: the desk logs it and, a few seconds
    later, starts a new one that connects; the trading state is untouched."""
    expected_faults.allow_errors("ibdesk.broker.watchdog")
    desk = await connected_desk(make_desk)
    first = desk.safety.line
    first.process.kill()
    await wait_until(lambda: desk.safety.line is not first, timeout=15, what="a new watchdog")
    line = desk.safety.line
    await wait_until(line.connected.is_set, timeout=15, what="the new watchdog connected")
    assert watchdog_children() == {line.process.pid}
    assert desk.gate.state is TradingState.ACTIVE
    assert sim.control.received(msg_id=GLOBAL_CANCEL) == []
