"""The journal survives SIGKILL: every write acknowledged before the kill is in the file.

A child process writes a fill and its order's snapshot per step and prints ``ack N`` once both
calls have returned; the parent kills it with SIGKILL mid-stream, reads every ack the child got
out before it died, and checks the journal holds all of them (and nothing torn).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ibdesk.trading.journal import Journal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no SIGKILL on Windows")

CHILD = r"""
import sys
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side
from ibdesk.trading.journal import Journal

path, run = sys.argv[1], sys.argv[2]
es = Instrument(495512563, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50.0, 0.25, "20261218")
ref = f"ticket#{run}"
journal = Journal(path)
step = 0
while True:
    journal.fill(FillSnapshot(f"{run}.{step}", 1.7e9 + step, ref, 7, 9, es, Side.BUY, 1.0,
                              5000.25, "DU1"))
    journal.order(OrderSnapshot(ref, es, Side.BUY, 1e9, OrderType.LIMIT, OrderState.PARTIAL,
                                limit_price=5000.25, filled=float(step + 1)))
    sys.stdout.write(f"ack {step}\n")
    sys.stdout.flush()
    step += 1
"""


def kill_mid_stream(path: Path, run: str, acks_before_kill: int) -> int:
    """Run the writer, SIGKILL it after some acks; returns how many steps were acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), run],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    acked = 0
    try:
        for line in child.stdout:
            assert line == f"ack {acked}\n"
            acked += 1
            if acked == acks_before_kill:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the writer stopped after {acked} acks:\n{child.stderr.read()}")
        # Acks the child printed before the signal landed are acknowledged writes too.
        for line in child.stdout:
            if line.endswith("\n"):  # a line cut by the kill was not printed in full
                assert line == f"ack {acked}\n"
                acked += 1
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    return acked


def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    expected: set[str] = set()
    for run, kill_after in (("r1", 300), ("r2", 200), ("r3", 400)):
        acked = kill_mid_stream(path, run, kill_after)
        assert acked >= kill_after
        with Journal(path) as journal:  # opens cleanly, recovering the WAL the child left
            in_file = {e for e in journal.exec_ids_since(0.0) if e.startswith(f"{run}.")}
            # Every acknowledged step, and at most the one in flight when the kill landed.
            assert {f"{run}.{i}" for i in range(acked)} <= in_file
            assert in_file <= {f"{run}.{i}" for i in range(acked + 1)}
            (snap,) = [o for o in journal.orders_since(0.0) if o.ref == f"ticket#{run}"]
            assert snap.filled in (acked, acked + 1)
            expected |= in_file
            assert expected <= journal.exec_ids_since(0.0)  # earlier runs are still whole
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()
