"""Record and replay: what the recorder costs the desk, what a tape weighs, how fast it plays.

``python -m benchmarks.replay [--seconds 4] [--rounds 3] [--minutes 60] [--rate 5000]``

* ``record_overhead_pct``: the watchlist benchmark's main-thread CPU (100 instruments, the
  simulator at about 10,000 updates/s, the window live) with the recorder on, in percent more
  than the same with it off, in the same run: rounds of on and off interleaved, medians
  compared. Goal <= 5.
* ``tape_bytes_per_msg``: bytes of tape per recorded event (a quote, an order state ...), on
  the tape that run wrote. Reported.
* ``replay_speed_x``: tape seconds per wall second when a synthetic hour (``--minutes``) at
  ``--rate`` events/s (100 instruments' quotes, their 5-second bars, an order and its fill
  every 10 s) is replayed at max speed into the headless desk (no Qt). Goal >= 100. The
  ``every_quote_x`` field is the same with a listener on every quote (nothing folded), on the
  first ten minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SimProcess, emit, run_app, set_feed
from benchmarks.watchlist import cpu_pct, symbols


async def measure_overhead(
    desk: Any, sim: SimProcess, seconds: float, rounds: int
) -> dict[str, Any]:
    """Main-thread CPU with the recorder on and off, interleaved, against a connected desk."""
    from ibdesk.domain.connection import LinkState
    from ibdesk.replay.recorder import start_recording
    from ibdesk.replay.tape import TapeReader

    while desk.link.status.state is not LinkState.CONNECTED:
        await asyncio.sleep(0.05)
    for text in symbols(sim):
        await desk.add_symbol(text)
    await asyncio.sleep(1.0)
    rate = await set_feed(sim, desk.session.ib, 10_000)
    recorder = desk.recorder
    assert recorder is not None, "the desk records by default"
    folder = recorder.folder
    on: list[float] = []
    off: list[float] = []
    paths: list[Path] = []
    for _ in range(rounds):
        if desk.recorder is None:
            desk.recorder = start_recording(desk, folder, desk.settings.record.budget_mb)
        on.append(await cpu_pct(seconds))
        desk.recorder.close()
        paths += desk.recorder.paths
        desk.recorder = None
        off.append(await cpu_pct(seconds))
    size = sum(p.stat().st_size for p in paths)
    events = sum(TapeReader(p).info().events for p in paths)
    return {"on": on, "off": off, "rate": rate, "bytes": size, "events": events}


def synthesise(folder: Path, minutes: float, rate: float) -> tuple[Path, float, int]:
    """Record ``minutes`` of a fast synthetic market through the real recorder and stores, as
    fast as they go (no loop, no thread: the recorder is flushed every 0.25 s of tape time).
    Returns the tape, its duration and its event count."""
    from ibdesk import events
    from ibdesk.domain.bars import Bar, Timeframe
    from ibdesk.domain.instruments import Instrument, SecType
    from ibdesk.domain.market import Quote
    from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side
    from ibdesk.replay.recorder import FLUSH_S, Recorder
    from ibdesk.replay.tape import TapeReader
    from ibdesk.state.account import AccountStore, PositionStore
    from ibdesk.state.bars import BarKey, BarStore
    from ibdesk.state.link import LinkStore
    from ibdesk.state.orders import OrderStore
    from ibdesk.state.quotes import QuoteStore, WatchlistStore

    class Clock:
        now = 1_796_000_000.0

        def __call__(self) -> float:
            return self.now

    class Gate:
        decided = events.new("decided")

    class Switch:
        changed = events.new("changed")

    @dataclasses.dataclass
    class Stores:
        clock: Any = dataclasses.field(default_factory=Clock)
        quotes: QuoteStore = dataclasses.field(default_factory=QuoteStore)
        watchlist: WatchlistStore = dataclasses.field(default_factory=WatchlistStore)
        orders: OrderStore = dataclasses.field(default_factory=OrderStore)
        accounts: AccountStore = dataclasses.field(default_factory=AccountStore)
        positions: PositionStore = dataclasses.field(default_factory=PositionStore)
        bars: BarStore = dataclasses.field(default_factory=BarStore)
        link: LinkStore = dataclasses.field(default_factory=LinkStore)
        gate: Any = dataclasses.field(default_factory=Gate)
        switch: Any = dataclasses.field(default_factory=Switch)

    s = Stores()
    rng = random.Random(19)
    insts = [
        Instrument(1000 + i, f"F{i}", SecType.FUTURE, "CME", "USD", f"F{i}Z6", 50.0, 0.25)
        for i in range(100)
    ]
    for inst in insts:
        s.watchlist.add(inst)
    prices = [1000.0 + 10 * i for i in range(100)]
    volume = [0.0] * 100
    recorder = Recorder(s, folder, 1 << 40).start(writer_thread=False)
    start = s.clock.now
    n = int(minutes * 60 * rate)
    step = 1.0 / rate
    next_flush, next_bar, next_order, order_id = start + FLUSH_S, start + 5, start + 10, 0
    put = s.quotes.put
    for k in range(n):
        t = s.clock.now = start + k * step
        i = k % 100
        prices[i] += 0.25 if rng.random() < 0.5 else -0.25
        p = prices[i]
        volume[i] += 1
        put(Quote(1000 + i, p - 0.25, p, p, 3.0, 5.0, 1.0, volume[i], 990.0, p + 5, p - 5, t))
        if t >= next_bar:
            next_bar += 5
            for j, inst in enumerate(insts):
                q = prices[j]
                s.bars.put(BarKey(inst.con_id, Timeframe.S5), Bar(t - 5, q, q + 1, q - 1, q, 50))
        if t >= next_order:
            next_order += 10
            order_id += 1
            ref = f"ticket#1.{order_id}"
            snap = OrderSnapshot(ref, insts[0], Side.BUY, 1.0, OrderType.MARKET, OrderState.SENT)
            s.orders.put(snap)
            s.orders.put(dataclasses.replace(snap, state=OrderState.FILLED, filled=1.0))
            fill = FillSnapshot(
                f"e{order_id}", t, ref, order_id, order_id, insts[0], Side.BUY, 1.0, p, "DU1"
            )
            s.orders.add_fill(fill)
        if t >= next_flush:
            next_flush += FLUSH_S
            recorder.flush()
    recorder.close()
    (path,) = recorder.paths
    return path, n * step, TapeReader(path).info().events


def replay_speed(path: Path, every_quote: bool, until: float | None = None) -> tuple[float, int]:
    """Wall seconds to replay a tape (up to ``until``) into a headless desk, and events."""
    from ibdesk.config import RecordSettings, Settings
    from ibdesk.desk.core import Desk
    from ibdesk.replay.player import Player, ReplayClock, StoreSink
    from ibdesk.replay.tape import TapeReader

    settings = dataclasses.replace(Settings(), record=RecordSettings(enabled=False))
    clock = ReplayClock()
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(settings, Path(tmp) / "journal.sqlite", clock=clock)
        if every_quote:
            desk.quotes.updated += lambda con_id: None
        player = Player(TapeReader(path), StoreSink(desk), clock, end=until)
        t0 = time.perf_counter()
        count = player.run_to_end()
        wall = time.perf_counter() - t0
        desk.journal.close()
    return wall, count


def main() -> None:
    """Run the three measurements and print them as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument(
        "--only", choices=("record", "replay"), default=None, help="one half of the benchmark"
    )
    args = parser.parse_args()
    if args.only != "replay":
        record(args)
    if args.only != "record":
        replay(args)


def record(args: argparse.Namespace) -> None:
    """record_overhead_pct and tape_bytes_per_msg, against the simulator."""

    live = run_app(lambda desk, sim: measure_overhead(desk, sim, args.seconds, args.rounds))
    on, off = statistics.median(live["on"]), statistics.median(live["off"])
    emit(
        "record_overhead_pct",
        100 * (on - off) / off,
        None,
        "<= 5",
        main_thread_on_pct=round(on, 1),
        main_thread_off_pct=round(off, 1),
        on_rounds=[round(x, 1) for x in live["on"]],
        off_rounds=[round(x, 1) for x in live["off"]],
        rounds=args.rounds,
        updates_per_s=round(live["rate"]),
        shared_machine=True,
    )
    emit(
        "tape_bytes_per_msg",
        live["bytes"] / max(1, live["events"]),
        None,
        "report",
        events=live["events"],
        tape_bytes=live["bytes"],
    )
    assert not math.isnan(on)


def replay(args: argparse.Namespace) -> None:
    """replay_speed_x on a synthetic hour."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path, duration, events_n = synthesise(Path(tmp), args.minutes, args.rate)
        made = time.perf_counter() - t0
        wall, count = replay_speed(path, every_quote=False)
        ten = min(duration, 600.0)
        start = 1_796_000_000.0
        wall_every, _ = replay_speed(path, every_quote=True, until=start + ten)
        emit(
            "replay_speed_x",
            duration / wall,
            None,
            ">= 100",
            tape_seconds=round(duration),
            events=count,
            events_per_s=round(count / wall),
            every_quote_x=round(ten / wall_every, 1),
            synthetic_tape_bytes_per_msg=round(path.stat().st_size / max(1, events_n), 2),
            recorded_in_s=round(made, 1),
            shared_machine=True,
        )


if __name__ == "__main__":
    main()
