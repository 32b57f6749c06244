"""A strategy replayed on the tape of a real desk session: a desk records ES moving at the
simulator over a real socket, then ``ibdesk run FLIP --replay TAPE`` (a subprocess) trades
that tape twice, the same both times, once per crossing of its level the tape holds."""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ibdesk.replay import codec
from ibdesk.replay.tape import TapeReader, tapes_in
from ibdesk.simtws import SimThread
from tests.desk.kit import MakeDesk, ready_desk
from tests.helpers import private_env, wait_until
from tests.strategy_tapes import FLIP  # its level is set per run (--param level=...)

pytestmark = pytest.mark.desk


def es_lasts(tape: Path, con_id: int) -> list[float]:
    return [
        e.value.last
        for e in TapeReader(tape).events()
        if e.kind == codec.QUOTE and e.value.con_id == con_id and e.value.last > 0
    ]


def crossings(lasts: list[float], level: float) -> int:
    sides = [last > level for last in lasts]
    return sum(1 for a, b in itertools.pairwise(sides) if a != b)


def replay(tmp_path: Path, tape: Path, level: float) -> dict[str, Any]:
    path = tmp_path / "flip.py"
    path.write_text(textwrap.dedent(FLIP))
    done = subprocess.run(
        [sys.executable, "-m", "ibdesk", "run", str(path), "--replay", str(tape),
         "--param", f"level={level}", "--log-format", "json"],
        check=False, capture_output=True, text=True, env=private_env(tmp_path / "home"),
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])["report"]
    return report


async def test_a_recorded_session_replays_into_the_same_trades_twice(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim, price=None)
    seen = []
    desk.quotes.updated += seen.append
    await desk.add_symbol("ES")
    await wait_until(lambda: len(seen) >= 60, timeout=30, what="ES moving for a while")
    await desk.close()
    (tape,) = tapes_in(tmp_path / "tapes")
    lasts = es_lasts(tape, es.con_id)
    # A level between two prices the tape has, in the middle: it is crossed at least once.
    level = statistics.median_low(sorted(set(lasts))) + es.min_tick / 2
    expected = crossings(lasts, level)
    assert expected >= 1
    first = replay(tmp_path, tape, level)
    second = replay(tmp_path, tape, level)
    assert first["trades"] == second["trades"]
    assert len(first["trades"]) == expected
    # Every quote of the tape is applied (ES's and the watchlist's other instruments').
    assert first["quotes"] == second["quotes"] >= len(lasts)
    assert first["realized_pnl"] == second["realized_pnl"]
    assert first["max_drawdown"] == second["max_drawdown"]
