"""``ibdesk run FILE.py --replay TAPE``: a strategy on a recorded day, as a user runs it.

The tape is made by the recorder from the desk's stores (as a session writes it), with the
simulator's own ES so that the embedded simulator knows the instrument; the runner is a
subprocess; its report is read from its last line (``--log-format json``).
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import private_env
from tests.strategy_tapes import FAR, FLIP, LAST, T0, make_tape, sim_es

pytestmark = pytest.mark.sim


def run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ibdesk", "run", *args],
        check=False,
        capture_output=True,
        text=True,
        env=private_env(tmp_path / "home"),
        timeout=timeout,
    )


def replay(tmp_path: Path, strategy: str, tape: Path, *more: str) -> tuple[dict[str, Any], str]:
    path = tmp_path / "strategy.py"
    path.write_text(textwrap.dedent(strategy))
    done = run(tmp_path, str(path), "--replay", str(tape), "--log-format", "json", *more)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    return json.loads(last)["report"], done.stdout


def test_a_strategy_on_a_tape_trades_the_same_twice_with_its_report(tmp_path: Path) -> None:
    tape = make_tape(tmp_path / "tapes")
    first, _ = replay(tmp_path, FLIP, tape)
    second, _ = replay(tmp_path, FLIP, tape)
    trades = [(t["side"], t["qty"], t["price"], t["time"]) for t in first["trades"]]
    assert [t[0] for t in trades] == ["BUY", "SELL", "BUY", "SELL", "BUY"]
    assert trades == [(t["side"], t["qty"], t["price"], t["time"]) for t in second["trades"]]
    assert [t["time"] for t in first["trades"]] == [T0 + 10, T0 + 15, T0 + 20, T0 + 25, T0 + 30]
    assert first["quotes"] == len(LAST)
    assert first["refused_by_check"] == {}
    # Bought above 6800 and sold below it twice: two losing round trips at ES's $50 a point
    # (market orders fill at the ask, one tick over the price applied, and at the bid).
    sells = [t["price"] for t in first["trades"] if t["side"] == "SELL"]
    buys = [t["price"] for t in first["trades"] if t["side"] == "BUY"]
    assert first["realized_pnl"] == pytest.approx((sum(sells) - sum(buys[:2])) * 50)
    assert first["realized_pnl"] < 0 and first["commissions"] > 0
    assert first["net_pnl"] == pytest.approx(first["realized_pnl"] - first["commissions"])
    assert first["max_drawdown"] >= -first["realized_pnl"]
    assert first == second


def test_a_long_tape_plays_to_its_end_at_the_pace_of_the_desk_not_of_ibs_message_budget(
    tmp_path: Path,
) -> None:
    # 2,000 quotes: longer than the desk's own health probe's interval (5 s) at the 40
    # messages a second IB allows, which the drive's round trips must neither wait for nor
    # collide with (the probe's reqCurrentTime once took the drive's answer: it hung).
    walk = random.Random(3)
    lasts = list(itertools.accumulate(walk.choice((-0.25, 0.0, 0.25)) for _ in range(2000)))
    tape = make_tape(tmp_path / "tapes", tuple(6800.0 + x for x in lasts))
    report, _ = replay(tmp_path, FLIP, tape)
    assert report["quotes"] == 2000 and report["message"] is None
    assert report["end"] == T0 + 5 * 2000


def test_a_tape_from_ib_plays_on_the_simulators_instrument_of_the_same_local_symbol(
    tmp_path: Path,
) -> None:
    tape = make_tape(tmp_path / "tapes", con_id=123_456_789)
    report, _ = replay(tmp_path, FLIP, tape)
    assert report["quotes"] == len(LAST)
    assert [t["side"] for t in report["trades"]] == ["BUY", "SELL", "BUY", "SELL", "BUY"]
    assert {t["con_id"] for t in report["trades"]} == {sim_es().con_id}


def test_an_order_the_gate_refuses_is_in_the_report_under_its_check(tmp_path: Path) -> None:
    tape = make_tape(tmp_path / "tapes")
    report, out = replay(tmp_path, FAR, tape)
    assert report["refused_by_check"] == {"price_collar": 2}
    assert report["trades"] == []
    assert "DENIED (price_collar" in out


def test_a_cut_tape_replays_up_to_the_cut_and_says_so(tmp_path: Path) -> None:
    tape = make_tape(tmp_path / "tapes")
    with sqlite3.connect(tape) as db:  # as if ibdesk had been killed: never closed
        db.execute("DELETE FROM meta WHERE key = 'closed'")
    report, _ = replay(tmp_path, FLIP, tape)
    assert "ends early" in report["message"]
    assert len(report["trades"]) == 5


def test_replay_refuses_a_real_broker_address(tmp_path: Path) -> None:
    tape = make_tape(tmp_path / "tapes")
    path = tmp_path / "strategy.py"
    path.write_text(textwrap.dedent(FLIP))
    for flag in (["--port", "7497"], ["--host", "10.0.0.5"], ["--demo"]):
        done = run(tmp_path, str(path), "--replay", str(tape), *flag)
        assert done.returncode == 2
        assert "--replay runs against its own simulator" in done.stderr


EVERY_TEN = """
from ibdesk.strategies import Strategy

class EveryTen(Strategy):
    '''Buys one ES every ten seconds.'''
    instruments = ("ES",)
    timer = 10.0

    def on_timer(self):
        self.buy("ES", 1, why="timer")
"""


def test_a_strategys_timer_runs_on_the_tapes_clock(tmp_path: Path) -> None:
    """30 s of tape replayed in well under a second: the 10 s timer still fires three
    times, ten seconds of the tape apart, as it would have on the day."""
    tape = make_tape(tmp_path / "tapes")
    report, _ = replay(tmp_path, EVERY_TEN, tape)
    times = [t["time"] for t in report["trades"]]
    assert len(times) == 3, report
    assert [b - a for a, b in itertools.pairwise(times)] == [10.0, 10.0]
    assert T0 < times[0] <= T0 + 5 * len(LAST)
