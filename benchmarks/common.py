"""Shared pieces of the benchmarks: metric output, a simulator in its own process."""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
