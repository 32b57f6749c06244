"""Shared pieces of the benchmarks: metric output, a simulator in its own process, the app
against it."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def emit(metric: str, value: float, baseline: float | None, goal: str, **extra: Any) -> None:
    """Print one metric as a JSON line: value, baseline, value/baseline, and the goal."""
    row: dict[str, Any] = {"metric": metric, "value": round(value, 3)}
    if baseline is not None:
        row["baseline"] = round(baseline, 3)
        row["ratio"] = round(value / baseline, 3) if baseline else None
    row["goal"] = goal
    row.update(extra)
    print(json.dumps(row), flush=True)


def emit_p99(
    metric: str, ours: Sequence[float], baseline: Sequence[float], goal: str, **extra: Any
) -> None:
    """A latency metric: our p99 against the baseline's p99, both p50s, and the trials."""
    emit(
        metric,
        percentile(ours, 99),
        percentile(baseline, 99),
        goal,
        p50_ms=round(percentile(ours, 50), 3),
        baseline_p50_ms=round(percentile(baseline, 50), 3),
        trials=len(ours),
        **extra,
    )


async def frame_intervals(seconds: float) -> list[float]:
    """Intervals (ms) between the fires of a 60 Hz precise timer on the GUI thread for
    ``seconds``: how long the event loop keeps a frame waiting."""
    from PySide6.QtCore import Qt, QTimer

    stamps: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(16)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    await asyncio.sleep(seconds)
    timer.stop()
    return [(b - a) * 1000 for a, b in itertools.pairwise(stamps)] or [math.nan]


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sample."""
    return statistics.median(values)


@dataclass
class SimProcess:
    """A simulated TWS running in a child process, with a line-based control client."""

    proc: subprocess.Popen[str]
    port: int
    control_port: int
    _sock: socket.socket | None = None
    _ids: int = 0

    def call(self, op: str, **args: Any) -> Any:
        """Run one control operation and return its result (raises on failure)."""
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self.control_port), timeout=30)
            self._file = self._sock.makefile("rwb")
        self._ids += 1
        self._file.write((json.dumps({"op": op, "args": args, "id": self._ids}) + "\n").encode())
        self._file.flush()
        reply = json.loads(self._file.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"control {op} failed: {reply.get('error')}")
        return reply["result"]

    def close(self) -> None:
        """Stop the child process."""
        if self._sock is not None:
            self._sock.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def sim_process(*flags: str) -> Iterator[SimProcess]:
    """Start ``python -m ibdesk.simtws`` on free ports with extra flags; stop it after."""
    cmd = [
        sys.executable,
        "-m",
        "ibdesk.simtws",
        "--port",
        "0",
        "--control-port",
        "0",
        "--log-level",
        "WARNING",
        *flags,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on [\d.]+:(\d+); control on [\d.]+:(\d+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    sim = SimProcess(proc, int(found.group(1)), int(found.group(2)))
    try:
        yield sim
    finally:
        sim.close()


async def at_sim(
    sim: SimProcess,
    since: float,
    msg_id: int,
    count: int = 1,
    timeout: float = 10.0,
    client_id: int | None = None,
) -> list[float]:
    """Monotonic arrival times of the first ``count`` messages of a kind since ``since``
    (from one client id, or any), as the simulator stamped them on reading them.

    The simulator stamps with ``time.perf_counter()``, which on Linux is CLOCK_MONOTONIC and
    so comparable across processes. Returns fewer than ``count`` on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        rows = sim.call("received", since=since, msg_id=msg_id, client_id=client_id)
        if len(rows) >= count or time.monotonic() > deadline:
            return [r["monotonic"] for r in rows[:count]]
        await asyncio.sleep(0.005)


async def feed_rate(ib: Any, seconds: float = 1.5) -> float:
    """Messages per second the client receives right now."""
    before, t0 = ib.client._numMsgRecv, time.perf_counter()
    await asyncio.sleep(seconds)
    return float((ib.client._numMsgRecv - before) / (time.perf_counter() - t0))


async def set_feed(sim: SimProcess, ib: Any, target: float, seconds: float = 1.5) -> float:
    """Adjust the simulator's cadence until the client receives about ``target`` msgs/s
    (each probe lasts ``seconds``); returns the rate reached."""
    interval, steps = 0.05, 1
    sim.call("set_rate", tick_interval=interval, steps_per_tick=steps)
    rate = await feed_rate(ib, seconds)
    for _ in range(6):
        if rate <= 0:
            break
        if abs(rate - target) / target < 0.1:
            break
        interval = max(0.002, min(0.5, interval * rate / target))
        sim.call("set_rate", tick_interval=interval, steps_per_tick=steps)
        rate = await feed_rate(ib, seconds)
    return rate


def run_app(
    measure: Callable[[Any, SimProcess], Awaitable[dict[str, Any]]],
    *,
    client_id: int = 1,
    limits: bool = True,
    connect_to: Callable[[SimProcess], int] | None = None,
) -> dict[str, Any]:
    """Run the desktop app in this process (offscreen, qasync) against a simulator process
    without pacing or message cap; once the desk is up, ``measure(desk, sim)`` runs on the
    app's loop, then the window closes. Returns what it measured.

    The journal and the window state go to a scratch folder. ``limits=False`` turns the
    pre-trade limits off (a benchmark's own order bursts would trip the rate limit).
    ``connect_to(sim)`` gives the port the desk connects to instead of the simulator's (a
    proxy in front of it). SystemExit if the measurement failed.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from ibdesk.config import ConnectionSettings, RestartSettings, Settings, limits_off
    from ibdesk.desktop import run_desktop

    results: dict[str, Any] = {}
    failures: list[BaseException] = []
    tasks: list[asyncio.Future[None]] = []
    with (
        sim_process("--no-pacing", "--max-msg-rate", "0") as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):

        def ready(desk: Any) -> None:
            async def go() -> None:
                try:
                    results.update(await measure(desk, sim))
                except BaseException as exc:
                    # Kept, not raised: a SystemExit raised out of a task that Qt's loop
                    # runs ends the process on the spot (PyErr_Print exits), leaving the
                    # simulator process behind; it is raised below, after the clean-up.
                    failures.append(exc)
                finally:
                    desk.window.close()

            tasks.append(asyncio.ensure_future(go()))

        QApplication.instance() or QApplication([])
        os.environ["XDG_DATA_HOME"] = tmp
        port = connect_to(sim) if connect_to is not None else sim.port
        connection = ConnectionSettings(port=port, client_id=client_id)
        # No TWS restart expected: a run at 23:40 ET measures trading, not the pause for it.
        settings = Settings(connection=connection, restart=RestartSettings(daily_at=""))
        if not limits:
            settings = dataclasses.replace(settings, risk=limits_off())
        run_desktop(settings, state_path=Path(tmp) / "window.ini", on_ready=ready)
    if failures:
        raise SystemExit(f"benchmark failed: {failures[0]!r}")
    return results
