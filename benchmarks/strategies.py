"""Strategies: a tick to a strategy's order on the wire, fifty strategies under load, a runaway.

``python -m benchmarks.strategies``

The app runs in this process (offscreen, qasync, the pre-trade limits off so that the gate's
own per-minute and collar checks do not refuse the benchmark's orders; the runaway breaker is
as configured by default unless said below); the simulated TWS runs in its own process.
Times at the simulator are its stamps on reading each message (``time.perf_counter()``:
CLOCK_MONOTONIC on Linux, so comparable with this process's clock).

* ``strategy_quote_to_wire_ms_p99``: the market paused, a price set through the control port
  (the tick leaves the simulator within that call) to the placeOrder bytes a strategy sends
  on seeing the price cross a level, back at the simulator; each trial crosses the level the
  other way (buy, then sell: the position stays flat). The strategy runs in the desk with the
  window up, through the runner, the breaker and the gate (the breaker's per-minute and
  duplicate limits are off for these trials only: they come faster than the default allows).
  Baseline: a bare ib_async script in a process of its own doing the same (``reqMktData``,
  on the ticker's update place the order), same simulator, trials before the desk's. Goal:
  at most 2 ms over the bare script. Reported beside it, p50 and p99 of where the desk's
  time goes: the tick to its data on the desk's socket, that data to the callback, the order
  call (breaker, gate, journal, pacer, socket write) and its bytes to the simulator's read.
  The price is set through a control connection on the desk's own loop, never a blocking
  call that would hold the desk's loop while the tick arrives.
* ``strategies50_frame_interval_ms_p99``: 50 strategies (the shipped breakout and mean
  reversion, alternately, with a probe recording each quote callback's lag) on 20
  instruments, the simulator at about 10,000 messages/s, the window up: intervals of a 60 Hz
  timer on the GUI thread, 99th percentile. Baseline: the same feed and watchlist with no
  strategy running. Goal <= 20, with no callback backlog: reported are the quote callbacks'
  lag (from the data's arrival on the socket to the callback) p99 and max, the slowest
  callback the runner saw, the bytes the simulator still had queued for the desk, and the
  pauses of full garbage collections meanwhile.
* ``runaway_orders_on_wire``: a strategy whose first quote callback places 1,000 limit orders
  in a loop (a bug: ``for`` where an ``if`` was meant): how many placeOrder messages reach the
  simulator before the breaker halts it (default limits). Baseline: the orders it tried.
  Goal <= 10.
* ``headless_quote_to_wire_ms_p99`` and ``headless_rss_mib``: the same strategies in
  ``ibdesk run``, beside the window (see ``benchmarks.headless``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks import headless
from benchmarks.common import SimProcess, emit, frame_intervals, percentile, run_app, set_feed
from benchmarks.flip import LEVEL, PLACE_ORDER, crossings, desk_flip, ms, until, write

BARE_CLIENT_ID = 77
RUNAWAY = """
from ibdesk.strategies import Strategy


class Runaway(Strategy):
    instruments = ("ES",)
    params = {"attempts": 1000}

    def on_start(self):
        self.accepted = 0
        self.tried = 0

    def on_quote(self, quote):
        if self.tried or not quote.bid > 0:
            return
        for i in range(self.p["attempts"]):  # the bug: a loop where an if was meant
            self.tried += 1
            if self.buy("ES", 1, limit=quote.bid - 1 - i * 0.25, why="runaway").accepted:
                self.accepted += 1
"""

PROBE = """
import time

from ibdesk.strategies.examples.breakout import Breakout
from ibdesk.strategies.examples.mean_reversion import MeanReversion


class LagProbe:
    # Records how late each quote callback runs: now minus the time its data arrived.
    def on_start(self):
        self.lags = []
        return super().on_start()

    def on_quote(self, quote):
        self.lags.append(time.time() - quote.time)
        return super().on_quote(quote)
"""

BARE = """
import asyncio, sys

from ibdesk.broker import ib as shim  # ib_async (or ib_insync), nothing of ibdesk's own


async def main(port, client_id, con_id, level):
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id)
    contract = shim.Future(conId=con_id, exchange="CME")
    ticker = ib.reqMktData(contract)
    state = {"above": None}

    def on_update(t):
        if t.last != t.last:
            return
        above = t.last > level
        if state["above"] is None or above == state["above"]:
            state["above"] = above
            return
        state["above"] = above
        ib.placeOrder(contract, shim.MarketOrder("BUY" if above else "SELL", 1))

    ticker.updateEvent += on_update
    await asyncio.Event().wait()


asyncio.run(main(*map(int, sys.argv[1:4]), float(sys.argv[4])))
"""


async def bare_script(sim: SimProcess, es: Any, trials: int) -> list[float]:
    """The baseline: the bare library script in its own process, crossing for crossing."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE, *map(str, (sim.port, BARE_CLIENT_ID, es.con_id, LEVEL))],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:

        def subscribed() -> bool:
            return any(
                c["client_id"] == BARE_CLIENT_ID and c["market_lines"] for c in sim.call("clients")
            )

        await until(subscribed, "the bare script's subscription")
        sim.call("set_price", symbol=es.con_id, price=LEVEL - 1.0)  # below: armed
        await asyncio.sleep(0.5)
        return ms(await crossings(sim, es.con_id, BARE_CLIENT_ID, trials))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def strategy_latency(desk: Any, sim: SimProcess, es: Any, folder: Path, trials: int) -> Any:
    """The same crossings, seen and ordered by a strategy in the desk."""
    async with desk_flip(desk, folder) as flip:
        sim.call("set_price", symbol=es.con_id, price=LEVEL - 1.0)
        await until(lambda: flip.above is False, "Flip armed")
        pairs = await crossings(sim, es.con_id, desk.session.client_id, trials)
        stamps = flip.stamps
    if len(stamps) != len(pairs):
        raise SystemExit(f"Flip saw {len(stamps)} crossings of {len(pairs)}")
    # Where the time goes: the tick to its data on the desk's socket (the simulator and the
    # network), that data to the strategy's callback (decoding, the loop), the order call
    # (breaker, gate, journal, pacer, the socket write) and its bytes to the simulator's read.
    parts: dict[str, list[float]] = {k: [] for k in ("to_desk", "to_callback", "order", "to_sim")}
    for (since, read), (called, waited, handed) in zip(pairs, stamps, strict=True):
        parts["to_desk"].append((called - waited - since) * 1000)
        parts["to_callback"].append(waited * 1000)
        parts["order"].append((handed - called) * 1000)
        parts["to_sim"].append((read - handed) * 1000)
    return {"total": ms(pairs), **parts}


async def runaway(desk: Any, sim: SimProcess, es: Any, folder: Path) -> dict[str, Any]:
    """A strategy placing orders in a loop, with the default breaker: what reaches the wire."""
    runner = desk.strategies
    runner.load(write(folder, "runaway.py", RUNAWAY))
    await runner.start("Runaway")
    started = time.perf_counter()
    sim.call("set_price", symbol=es.con_id, price=LEVEL)  # its first quote
    instance = runner.entries["Runaway"].instance
    await until(lambda: instance.tried, "the runaway loop")
    await asyncio.sleep(3.0)  # anything queued behind IB's budget has had time to go out
    sent = sim.call("received", since=started, msg_id=PLACE_ORDER)
    on_wire = [r for r in sent if any("strategy:Runaway#" in str(f) for f in r["fields"])]
    status = runner.status("Runaway")
    return {
        "on_wire": len(on_wire),
        "tried": instance.tried,
        "accepted": instance.accepted,
        "state": status.state.value,
        "reason": status.reason,
    }


def probe_file(folder: Path, symbols: list[str], count: int) -> tuple[Path, list[str]]:
    """A strategy file of ``count`` strategies: the examples with the lag probe, alternating
    over ``symbols`` so that every instrument has both kinds."""
    lines, names = [PROBE], []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        breakout = (i + i // len(symbols)) % 2 == 0
        base = "Breakout" if breakout else "MeanReversion"
        future = symbol in FUTURES
        qty = {"qty": 1, "max_position": 1} if future and not breakout else {}
        name = f"s{i:02d}_{base}_{symbol}"
        names.append(name)
        lines.append(
            f"class S{i:02d}(LagProbe, {base}):\n"
            f"    name = {name!r}\n"
            f"    instruments = ({symbol!r},)\n"
            f"    params = {{**{base}.params, **{qty!r}}}\n"
        )
    return write(folder, "fifty.py", "\n\n".join(lines)), names


FUTURES = ("ES", "NQ", "CL", "GC", "MES", "MNQ", "MCL", "MGC")


@contextlib.contextmanager
def full_collections() -> Iterator[list[float]]:
    """Milliseconds of each full (generation 2) garbage collection meanwhile: a pause of
    the whole loop, the usual cause of a late callback with nothing else wrong."""
    pauses: list[float] = []
    started = [0.0]

    def note(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append(round((time.perf_counter() - started[0]) * 1000, 1))

    gc.callbacks.append(note)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(note)


async def fifty(desk: Any, sim: SimProcess, folder: Path, seconds: float) -> dict[str, Any]:
    """Frames with the feed at ~10k msgs/s, first with no strategy, then with 50 running."""
    symbols = list(FUTURES) + sim.call("stocks")[:12]
    for symbol in symbols:
        await desk.add_symbol(symbol)
    sim.call("resume_market")
    out: dict[str, Any] = {"instruments": len(symbols)}
    out["rate_idle"] = await set_feed(sim, desk.session.ib, 10_000)
    out["frames_idle"] = percentile(await frame_intervals(seconds), 99)
    path, names = probe_file(folder, symbols, 50)
    runner = desk.strategies
    runner.load(path)
    for name in names:
        await runner.start(name)
    await asyncio.sleep(2.0)  # past the start: bars loaded, windows filling
    for name in names:
        runner.entries[name].instance.lags.clear()
    ib = desk.session.ib
    before, t0 = ib.client._numMsgRecv, time.perf_counter()
    with full_collections() as pauses:
        out["frames"] = percentile(await frame_intervals(seconds), 99)
    out["gc_pauses"] = pauses
    out["rate"] = (ib.client._numMsgRecv - before) / (time.perf_counter() - t0)
    queued = [c["queued_bytes"] for c in sim.call("clients") if c["client_id"] == 1]
    out["queued_bytes"] = queued[0] if queued else math.nan
    lags = [lag * 1000 for n in names for lag in runner.entries[n].instance.lags]
    statuses = [runner.status(n) for n in names]
    out.update(
        callbacks=len(lags),
        lag_p99=percentile(lags, 99) if lags else math.nan,
        lag_max=max(lags, default=math.nan),
        slowest_callback_ms=max(s.callback_ms for s in statuses),
        slowest_strategy=max(statuses, key=lambda s: s.callback_ms).name,
        running=sum(s.state.value == "Running" for s in statuses),
        halted=[f"{s.name}: {s.reason}" for s in statuses if s.state.value == "Halted"],
        strategy_orders=sum(1 for ref in desk.orders.orders if ref.startswith("strategy:s")),
    )
    for name in names:
        runner.stop(name)
    return out


async def measure(desk: Any, sim: SimProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement against one connected desk."""
    from ibdesk.domain.connection import LinkState

    await until(lambda: desk.link.status.state is LinkState.CONNECTED, "connected")
    es = await desk.resolver.resolve("ES")
    await asyncio.sleep(2.0)  # start-up requests leave the message budget's window
    sim.call("pause_market")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "latency" in args.parts:
            out["bare"] = await bare_script(sim, es, args.trials)
            out["ours"] = await strategy_latency(desk, sim, es, folder, args.trials)
        if "headless" in args.parts:
            out["headless"], out["desktop"] = await headless.latency(
                desk, sim, es, folder, args.trials
            )
        if "runaway" in args.parts:
            out["runaway"] = await runaway(desk, sim, es, folder)
        if "fifty" in args.parts:
            out["fifty"] = await fifty(desk, sim, folder, args.seconds)
        if "rss" in args.parts:
            out["rss"] = await headless.resident(desk, sim, folder, args.rss_minutes)
    return out


def main() -> None:
    """Run every measurement and print the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--parts",
        default="latency,headless,runaway,fifty,rss",
        help="which measurements, comma-separated (default: all five)",
    )
    parser.add_argument("--rss-minutes", type=float, default=10.0)
    args = parser.parse_args()
    results = run_app(lambda desk, sim: measure(desk, sim, args), limits=False)
    if "ours" in results:
        emit_latency(results)
    if "headless" in results:
        headless.emit_latency(results["headless"], results["desktop"])
    if "fifty" in results:
        emit_fifty(results["fifty"])
    if "runaway" in results:
        emit_runaway(results["runaway"])
    if "rss" in results:
        headless.emit_rss(results["rss"], args.rss_minutes)


def emit_latency(results: dict[str, Any]) -> None:
    """Print strategy_quote_to_wire_ms_p99."""
    ours, bare = results["ours"]["total"], results["bare"]
    parts = {
        f"{part}_ms_p50_p99": [round(percentile(results["ours"][part], q), 3) for q in (50, 99)]
        for part in ("to_desk", "to_callback", "order", "to_sim")
    }
    emit(
        "strategy_quote_to_wire_ms_p99",
        percentile(ours, 99),
        percentile(bare, 99),
        "<= 2 ms over the bare script",
        over_ms=round(percentile(ours, 99) - percentile(bare, 99), 3),
        p50_ms=round(percentile(ours, 50), 3),
        baseline_p50_ms=round(percentile(bare, 50), 3),
        trials=len(ours),
        **parts,
    )


def emit_fifty(f: dict[str, Any]) -> None:
    """Print strategies50_frame_interval_ms_p99."""
    emit(
        "strategies50_frame_interval_ms_p99",
        f["frames"],
        f["frames_idle"],
        "<= 20, no callback backlog",
        messages_per_s=round(f["rate"]),
        baseline_messages_per_s=round(f["rate_idle"]),
        instruments=f["instruments"],
        running=f["running"],
        halted=f["halted"],
        quote_callbacks=f["callbacks"],
        callback_lag_ms_p99=round(f["lag_p99"], 2),
        callback_lag_ms_max=round(f["lag_max"], 2),
        slowest_callback_ms=round(f["slowest_callback_ms"], 2),
        slowest_strategy=f["slowest_strategy"],
        sim_queued_bytes=f["queued_bytes"],
        full_gc_pauses_ms=f["gc_pauses"],
        strategy_orders=f["strategy_orders"],
    )


def emit_runaway(r: dict[str, Any]) -> None:
    """Print runaway_orders_on_wire."""
    emit(
        "runaway_orders_on_wire",
        r["on_wire"],
        r["tried"],
        "<= 10",
        accepted_by_gate=r["accepted"],
        state=r["state"],
        reason=r["reason"],
    )


if __name__ == "__main__":
    main()
