"""The tape: what the recorder writes from the stores, read back in time order and replayed into
fresh stores; a tape cut by a killed process or cut short on disk; the size budget."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ibdesk.config import ConfigError, RecordSettings, from_mapping
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.bars import Bar, Timeframe
from ibdesk.domain.connection import Farm, LinkState, Notice, Severity
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import (
    FillSnapshot,
    GateDecision,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Source,
)
from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.replay import codec
from ibdesk.replay.player import Player, ReplayClock, StoreSink
from ibdesk.replay.recorder import Recorder
from ibdesk.replay.tape import TapeReader, TapeWriter, prune, tapes_in
from ibdesk.state.bars import BarKey
from tests.strategy_tapes import Stores as TapStores

ES = Instrument(495512563, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50.0, 0.25, "20261218", "ES")
T0 = 1_796_000_000.0


def order(state: OrderState, filled: float = 0.0) -> OrderSnapshot:
    return OrderSnapshot(
        "ticket#1.7",
        ES,
        Side.BUY,
        2.0,
        OrderType.LIMIT,
        state,
        "DU1",
        limit_price=6800.25,
        order_id=7,
        filled=filled,
        created=T0,
        updated=T0 + 1,
        why="test",
    )


FILL = FillSnapshot("e1", T0 + 3, "ticket#1.7", 7, 99, ES, Side.BUY, 2.0, 6800.25, "DU1")


def a_session(s: TapStores) -> None:
    """One of every kind of change, a second apart."""

    def at(dt: float) -> None:
        s.clock.now = T0 + dt

    at(0)
    s.link.set_status(state=LinkState.CONNECTED, host="127.0.0.1", port=7497, account="DU1")
    s.link.set_farm(Farm.MARKET_DATA, True)
    s.watchlist.add(ES)
    at(1)
    s.quotes.put(Quote(ES.con_id, 6800.0, 6800.25, 6800.25, 3, 4, 1, 1000, 6790.0, time=T0 + 1))
    s.bars.merge_bars(BarKey(ES.con_id, Timeframe.M1), [Bar(T0 - 120, 1, 2, 0.5, 1.5, 10)] * 1)
    at(2)
    s.gate.decided.emit("order", Source("ticket"), GateDecision(True, ("ticket#1.7",)))
    s.orders.put(order(OrderState.QUEUED))
    s.orders.put(order(OrderState.WORKING))
    at(3)
    s.orders.put(order(OrderState.FILLED, 2.0))
    s.orders.add_fill(FILL)
    s.positions.put(PositionSnapshot("DU1", ES, 2.0, 340012.5))
    s.accounts.merge("DU1", net_liquidation=1e6, daily_pnl=-12.5)
    s.bars.put(BarKey(ES.con_id, Timeframe.M1), Bar(T0 - 60, 1.5, 3, 1, 2.5, 4))
    at(4)
    s.orders.add_fill(dataclasses.replace(FILL, commission=4.2))
    s.link.post(Notice("1100", Severity.ERROR, "Connectivity lost", 1100, T0 + 4))
    s.switch.changed.emit(StateChange(TradingState.HALTED, "test", "why not", T0 + 4))
    at(5)
    s.link.clear("1100")
    s.positions.put(PositionSnapshot("DU1", ES, 0.0, 0.0))
    s.watchlist.remove(ES.con_id)
    s.gate.decided.emit("order", Source("ticket"), GateDecision.deny("halted", "HALTED"))


def record(tmp_path: Path, session: Any = a_session) -> tuple[TapStores, Path]:
    s = TapStores(T0)
    recorder = Recorder(s, tmp_path, 1 << 30).start()
    session(s)
    recorder.close()
    (path,) = recorder.paths
    return s, path


def test_every_kind_of_change_is_on_the_tape_in_time_order(tmp_path: Path) -> None:
    _, path = record(tmp_path)
    reader = TapeReader(path)
    got = list(reader.events())
    kinds = [e.kind for e in got]
    # The keyframe of an empty desk first: its connection status.
    assert kinds[0] == codec.STATUS
    assert set(kinds) == set(codec.KINDS) - {codec.INSTRUMENT}
    times = [e.time for e in got]
    assert times == sorted(times)
    quote = next(e for e in got if e.kind == codec.QUOTE)
    assert quote.time == pytest.approx(T0 + 1)
    assert quote.value.last == 6800.25 and math.isnan(quote.value.high)
    orders = [e.value for e in got if e.kind == codec.ORDER]
    assert [o.state for o in orders] == [OrderState.QUEUED, OrderState.WORKING, OrderState.FILLED]
    assert orders[-1] == order(OrderState.FILLED, 2.0)  # the instrument comes back whole
    fills = [e.value for e in got if e.kind == codec.FILL]
    assert math.isnan(fills[0].commission) and fills[1].commission == 4.2
    decisions = [e.value for e in got if e.kind == codec.DECISION]
    assert [(d.accepted, d.check) for d in decisions] == [(True, ""), (False, "halted")]
    assert reader.problem is None and reader.message() is None
    info = reader.info()
    assert info.closed and info.events == len(got) and info.ended == pytest.approx(T0 + 5)


def test_a_time_range_reads_only_its_events(tmp_path: Path) -> None:
    _, path = record(tmp_path)
    got = list(TapeReader(path).events(T0 + 2, T0 + 3))
    assert got and all(T0 + 2 - 1e-6 <= e.time <= T0 + 3 + 1e-6 for e in got)
    assert codec.QUOTE not in {e.kind for e in got}
    assert codec.ORDER in {e.kind for e in got}


def test_a_replay_into_fresh_stores_ends_where_the_session_ended(tmp_path: Path) -> None:
    live, path = record(tmp_path)
    again = TapStores(T0)
    clock = ReplayClock()
    player = Player(TapeReader(path), StoreSink(again), clock)
    player.run_to_end()
    assert player.finished and clock() == pytest.approx(T0 + 5)
    assert again.quotes.quotes == live.quotes.quotes
    assert again.orders.orders == live.orders.orders
    assert again.orders.fills == live.orders.fills
    assert again.accounts.accounts == live.accounts.accounts
    assert again.positions.positions == live.positions.positions == {}
    assert again.watchlist.items == live.watchlist.items == []
    assert again.link.status == live.link.status and again.link.farms == live.link.farms
    key = BarKey(ES.con_id, Timeframe.M1)
    assert again.bars.series[key].closes.tolist() == live.bars.series[key].closes.tolist()


def test_the_player_starts_at_a_time_with_the_state_of_that_time(tmp_path: Path) -> None:
    _, path = record(tmp_path)
    again = TapStores(T0)
    clock = ReplayClock()
    player = Player(TapeReader(path), StoreSink(again), clock, start=T0 + 2.5)
    assert clock() == T0 + 2.5
    assert again.orders.get("ticket#1.7").state is OrderState.WORKING
    assert ES in again.watchlist.items
    event = player.step()
    assert event is not None and event.time == pytest.approx(T0 + 3)
    assert clock() == pytest.approx(T0 + 3)


def test_the_keyframe_carries_what_the_stores_held_before_recording(tmp_path: Path) -> None:
    s = TapStores(T0)
    s.watchlist.add(ES)
    s.orders.put(order(OrderState.WORKING))
    s.quotes.put(Quote(ES.con_id, 1.0, 2.0, 1.5))
    recorder = Recorder(s, tmp_path, 1 << 30).start()
    recorder.close()
    again = TapStores(T0)
    Player(TapeReader(recorder.paths[0]), StoreSink(again), ReplayClock()).run_to_end()
    assert again.watchlist.items == [ES]
    assert again.orders.orders == s.orders.orders
    assert again.quotes.quotes == s.quotes.quotes


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ibdesk.domain.market import Quote
    from ibdesk.replay import codec
    from ibdesk.replay.tape import TapeWriter

    writer = TapeWriter(Path(sys.argv[1]))
    t = 1796000000.0
    for batch in range(1000):
        rows = [(t + batch + i / 100, codec.QUOTE, Quote(1, 1.0 + i, 2.0)) for i in range(100)]
        writer.write(rows)
        if batch == 20:
            print("ready", flush=True)
        time.sleep(0.002)
    """
)


def test_a_tape_cut_by_a_killed_process_replays_up_to_the_cut_and_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cut.tape"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader = TapeReader(path)
    got = list(reader.events())
    assert len(got) >= 2100 and len(got) % 100 == 0  # whole batches: each one a commit
    assert [e.time for e in got] == sorted(e.time for e in got)
    assert not reader.info().closed
    message = reader.message()
    assert message is not None and "cut" in message and "Replayed up to" in message


def test_a_tape_cut_short_on_disk_replays_what_can_be_read_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "short.tape"
    writer = TapeWriter(path)
    for batch in range(200):
        rows = [
            (T0 + batch + i / 1000, codec.QUOTE, Quote(i, batch + i / 7, 2.0)) for i in range(500)
        ]
        writer.write(rows)
    writer.close(T0 + 200)
    whole = sum(1 for _ in TapeReader(path).events())
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size * 2 // 3)
    reader = TapeReader(path)
    got = list(reader.events())
    assert 0 < len(got) < whole
    assert [e.time for e in got] == sorted(e.time for e in got)
    message = reader.message()
    assert message is not None and "cut short" in message and "unreadable after" in message


def test_not_a_tape_is_refused_in_words(tmp_path: Path) -> None:
    from ibdesk.replay.tape import TapeError

    path = tmp_path / "notes.tape"
    path.write_text("hello")
    with pytest.raises(TapeError, match="not an ibdesk tape"):
        TapeReader(path)


def test_parts_rotate_and_the_oldest_tapes_go_past_the_budget(tmp_path: Path) -> None:
    old = [tmp_path / f"2026010{i}-090000.tape" for i in range(1, 4)]
    for p in old:
        p.write_bytes(b"x" * (1 << 20))
    s = TapStores(T0)
    recorder = Recorder(s, tmp_path, 4 << 20)  # parts of 1 MiB at most
    recorder._open_part()  # no writer thread: the test drives the writes
    for n in range(60):
        for i in range(2000):
            s.clock.now = T0 + n + i / 2000
            recorder.queue.append(
                (s.clock.now, codec.QUOTE, Quote(i, os.urandom(1)[0] * 1.37, n * 3.1 + i))
            )
        recorder._drain()
    recorder._close_part()
    assert len(recorder.paths) >= 2
    left = tapes_in(tmp_path)
    assert sum(p.stat().st_size for p in left) <= 4 << 20
    assert old[0] not in left
    assert recorder.paths[-1] in left


def test_prune_keeps_the_tape_being_written(tmp_path: Path) -> None:
    a, b = tmp_path / "20260101-000000.tape", tmp_path / "20260102-000000.tape"
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"x" * 100)
    assert prune(tmp_path, 50, keep=a) == [b]
    assert a.exists()


def test_record_settings_are_on_by_default_and_checked() -> None:
    assert RecordSettings().enabled and from_mapping({}).record.enabled
    settings = from_mapping({"record": {"enabled": False, "budget_mb": 100}})
    assert not settings.record.enabled and settings.record.budget_mb == 100
    with pytest.raises(ConfigError, match="budget_mb"):
        from_mapping({"record": {"budget_mb": 0}})


def quotes_around_an_order(s: TapStores) -> None:
    for i in range(50):
        s.clock.now = T0 + i / 10
        s.quotes.put(Quote(ES.con_id if i % 2 else 7, 100.0 + i, 101.0 + i, 100.5 + i))
        if i == 25:
            s.orders.put(order(OrderState.WORKING))


def test_a_listener_sees_every_quote_and_the_rest_see_the_same_state_at_each_event(
    tmp_path: Path,
) -> None:
    live, path = record(tmp_path, quotes_around_an_order)
    every = TapStores(T0)
    seen: list[float] = []
    every.quotes.updated += lambda con_id: seen.append(every.quotes.quotes[con_id].last)
    assert Player(TapeReader(path), StoreSink(every), ReplayClock()).run_to_end() > 50
    assert seen == [100.5 + i for i in range(50)]

    folded = TapStores(T0)
    at_order: list[dict[int, Quote]] = []
    folded.orders.added += lambda ref: at_order.append(dict(folded.quotes.quotes))
    dirty = folded.quotes.dirty_set()
    clock = ReplayClock()
    Player(TapeReader(path), StoreSink(folded), clock).run_to_end()
    assert folded.quotes.quotes == live.quotes.quotes
    assert dirty == {7, ES.con_id}
    # The order arrived after quote 25: the store held quotes 24 and 25 then, not later ones.
    assert {q.last for q in at_order[0].values()} == {124.5, 125.5}


def test_a_position_held_before_recording_that_goes_flat_is_flat_on_replay(
    tmp_path: Path,
) -> None:
    s = TapStores(T0)
    s.positions.put(PositionSnapshot("DU1", ES, 3.0, 340012.5))
    recorder = Recorder(s, tmp_path, 1 << 30).start()
    s.positions.put(PositionSnapshot("DU1", ES, 0.0, 0.0))
    recorder.close()
    again = TapStores(T0)
    Player(TapeReader(recorder.paths[0]), StoreSink(again), ReplayClock()).run_to_end()
    assert again.positions.positions == {}
