"""``ibdesk run FILE.py --replay TAPE``: a strategy on a recorded day, as a user runs it.

The tape is made by the recorder from the desk's stores (as a session writes it), with the
simulator's own ES so that the embedded simulator knows the instrument; the runner is a
subprocess; its report is read from its last line (``--log-format json``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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

from ibdesk import events
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.replay.recorder import Recorder
from ibdesk.simtws.catalog import Catalog
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from tests.helpers import private_env

pytestmark = pytest.mark.sim

T0 = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC).timestamp()  # a Wednesday, CME open
LAST = (6795.0, 6805.0, 6795.0, 6805.0, 6795.0, 6806.0)
""" Flip (level 6800) buys on 6805, sells on 6795...: five trades, long one at the end """

FLIP = """
from ibdesk.strategies import Strategy


class Flip(Strategy):
    # Buys when ES trades above the level, sells when it trades back below.
    instruments = ("ES",)
    params = {"level": 6800.0}

    def on_start(self):
        self.above = None

    def on_quote(self, quote):
        if quote.last != quote.last:
            return
        above = quote.last > self.p["level"]
        if self.above is None or above == self.above:
            self.above = above
            return
        self.above = above
        if above:
            self.buy("ES", 1, why="above")
        else:
            self.sell("ES", 1, why="below")
"""

FAR = """
from ibdesk.strategies import Strategy


class Far(Strategy):
    # Bids 10 % over the market on its first two quotes: the price collar refuses both.
    instruments = ("ES",)

    def on_start(self):
        self.tried = 0

    def on_quote(self, quote):
        if self.tried < 2 and quote.last == quote.last:
            self.tried += 1
            self.buy("ES", 1, limit=round(quote.last * 1.1 * 4) / 4, why="far")
"""


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class _Stores:
    """What the recorder taps: a desk's stores, its gate's and kill switch's events."""

    def __init__(self) -> None:
        self.clock = _Clock()
        self.quotes = QuoteStore()
        self.watchlist = WatchlistStore()
        self.orders = OrderStore()
        self.accounts = AccountStore()
        self.positions = PositionStore()
        self.bars = BarStore()
        self.link = LinkStore()
        self.gate = type("Gate", (), {"decided": events.new("decided")})()
        self.switch = type("Switch", (), {"changed": events.new("changed")})()


def sim_es() -> Instrument:
    """The simulator's ES front month on the tape's day, as the desk knows it."""
    es = Catalog.build(dt.date.fromtimestamp(T0)).find("ES")
    return Instrument(
        es.con_id, "ES", SecType.FUTURE, "CME", "USD", es.local_symbol, es.multiplier,
        es.min_tick, es.expiry, es.local_symbol[:2],
    )  # fmt: skip


def make_tape(folder: Path, lasts: tuple[float, ...] = LAST, con_id: int = 0) -> Path:
    """Flip's tape: ES at ``lasts``, five seconds apart (``con_id``: ES under another conId,
    as a tape recorded at IB names it)."""
    s = _Stores()
    recorder = Recorder(s, folder, 1 << 30).start()
    es = sim_es()
    if con_id:
        es = dataclasses.replace(es, con_id=con_id)
    s.watchlist.add(es)
    for i, last in enumerate(lasts):
        s.clock.now = T0 + 5 * (i + 1)
        now = s.clock.now
        s.quotes.put(Quote(es.con_id, last - 0.25, last, last, 5, 5, 1, 100 + i, 6790.0, time=now))
    recorder.close()
    (path,) = recorder.paths
    return path


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
