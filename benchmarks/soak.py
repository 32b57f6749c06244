"""The desk left running under a fast demo market: does it grow?

``python -m benchmarks.soak --minutes 10``

The desktop runs in this process (offscreen, qasync) with what ``ibdesk --demo`` shows: the
demo watchlist, the demo's positions and its ES stop and target (entered at the simulator as
if typed into TWS), and four charts open (ES 1 min, NQ 5 s, CL 1 min, AAPL 5 s). The
simulated TWS runs in its own process, so what is measured is the desk alone (``--demo``
runs the simulator inside the desk's process). The market ticks every ``--tick-interval-ms``
(10 ms: about 2,700 messages a second for these instruments, ten times IB's pace).

Every ``--every`` seconds it samples the process's resident memory, the event loop's lag (how
late a 100 ms sleep wakes: the median and the worst of each interval, and the p99 of the whole
run), the open file descriptors and the journal's size (the SQLite file and its WAL).

A strategy trades meanwhile (the mean-reversion example on AAPL, ``--no-strategy`` to
leave it out), so orders, fills and the journal grow as they do on a working day, and the
recorder writes the session's tape (on by default, as for a trader).

* ``soak_rss_growth_mib_per_h``: the slope of a least-squares line through the RSS samples
  after a warm-up, in MiB per hour. The warm-up (the first quarter of the run, at least two
  minutes) is left out: history back-fills, Qt's caches and Python's arenas fill once,
  which is growth that stops. Goal <= 5 over an hour, <= 10 over a short run.

``--write-docs`` records the figures in ``docs/reliability.md``. ``--max-growth N`` makes
the run fail (exit 1) when the growth is above N MiB an hour, or cannot be fitted: CI's
short soak runs with ``--max-growth 10``.

Then one JSON object per sampled metric with its samples ``[seconds, value]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import SimProcess, emit, percentile, run_app
from ibdesk.demo import DEMO_WATCHLIST
from ibdesk.strategies import examples

#: (symbol, side, quantity): the demo's positions, bought at the market at the start.
DEMO_POSITIONS = (("MES", "BUY", 2), ("CL", "SELL", 1), ("AAPL", "BUY", 100), ("ES", "BUY", 1))
CHARTS = (("NQ", "5s"), ("CL", "1m"), ("AAPL", "5s"))  # besides the default ES 1 min
LAG_TICK = 0.1
STRATEGY = Path(examples.__file__).with_name("mean_reversion.py")


def rss_mib() -> float:
    """This process's resident set, in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_files() -> int:
    """File descriptors this process holds open (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def journal_bytes(path: Path) -> int:
    """The journal's size on disk: the database and its write-ahead log."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per hour."""
    if len(samples) < 3:
        return float("nan")
    xs, ys = zip(*samples, strict=True)
    return statistics.linear_regression(xs, ys).slope * 3600


async def demo_market(desk: Any, sim: SimProcess, tick_interval_ms: float) -> None:
    """The demo's watchlist, positions, orders and charts, and a fast market."""
    from ibdesk.domain.bars import Timeframe

    for symbol in DEMO_WATCHLIST:
        await desk.add_symbol(symbol)
    for symbol, side, qty in DEMO_POSITIONS:
        sim.call("enter_manual_order", symbol=symbol, action=side, qty=qty, order_type="MKT")
    last = float(sim.call("quote", symbol="ES")["last"])
    sim.call(
        "enter_manual_order", symbol="ES", action="SELL", qty=1, order_type="STP", stop=last - 25
    )
    sim.call(
        "enter_manual_order", symbol="ES", action="SELL", qty=1, order_type="LMT", price=last + 40
    )
    for symbol, label in CHARTS:
        desk.window.chart_area.new_chart(symbol, Timeframe.from_label(label))
    sim.call("set_rate", tick_interval=tick_interval_ms / 1000, steps_per_tick=1)


async def soak(desk: Any, sim: SimProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Run the demo market for ``args.minutes`` and sample the desk every ``args.every`` s."""
    from ibdesk.domain.connection import LinkState

    while desk.link.status.state is not LinkState.CONNECTED:
        await asyncio.sleep(0.05)
    await demo_market(desk, sim, args.tick_interval_ms)
    if args.strategy:
        [name] = desk.strategies.load(STRATEGY)
        await desk.strategies.start(name)
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    running = True

    async def lag_probe() -> None:
        while running:
            due = loop.time() + LAG_TICK
            await asyncio.sleep(LAG_TICK)
            lags.append((loop.time() - due) * 1000)

    probe = asyncio.ensure_future(lag_probe())
    client = desk.session.ib.client
    received, t0 = client._numMsgRecv, time.monotonic()
    every_lag: list[float] = []
    out: dict[str, list[tuple[float, float]]] = {
        "rss": [],
        "lag_p50": [],
        "lag_max": [],
        "files": [],
        "journal": [],
    }
    while (elapsed := time.monotonic() - t0) < args.minutes * 60:
        await asyncio.sleep(min(args.every, args.minutes * 60 - elapsed))
        at = round(time.monotonic() - t0, 1)
        window, lags[:] = list(lags), []
        every_lag += window
        out["rss"].append((at, round(rss_mib(), 2)))
        if window:
            out["lag_p50"].append((at, round(percentile(window, 50), 2)))
            out["lag_max"].append((at, round(max(window), 2)))
        out["files"].append((at, open_files()))
        out["journal"].append((at, journal_bytes(desk.journal_path)))
    running = False
    await probe
    rate = (client._numMsgRecv - received) / (time.monotonic() - t0)
    return {"samples": out, "msgs_per_s": rate, "lag_p99": percentile(every_lag or [0.0], 99)}


def main() -> None:
    """Soak the desk and print the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--tick-interval-ms", type=float, default=10.0)
    parser.add_argument("--no-strategy", dest="strategy", action="store_false")
    parser.add_argument("--write-docs", action="store_true", help="record in docs/reliability.md")
    parser.add_argument(
        "--max-growth", type=float, default=None, metavar="MIB_PER_H", help="fail above this"
    )
    args = parser.parse_args()
    results = run_app(lambda desk, sim: soak(desk, sim, args), limits=False)
    samples: dict[str, list[tuple[float, float]]] = results["samples"]
    warmup = max(120.0, args.minutes * 60 / 4)
    steady = [(t, v) for t, v in samples["rss"] if t >= warmup]
    growth = slope_per_hour(steady)
    emit(
        "soak_rss_growth_mib_per_h",
        growth,
        None,
        "<= 5 over an hour, <= 10 over a short run",
        warmup_s=warmup,
        fitted_samples=len(steady),
        rss_first_mib=samples["rss"][0][1] if samples["rss"] else None,
        rss_last_mib=samples["rss"][-1][1] if samples["rss"] else None,
        minutes=args.minutes,
        inbound_msgs_per_s=round(results["msgs_per_s"]),
    )
    rows = [
        {"metric": "desk_rss_mib", "samples": samples["rss"]},
        {
            "metric": "loop_lag_ms",
            "p99": round(results["lag_p99"], 2),
            "max": max((v for _, v in samples["lag_max"]), default=None),
            "note": f"how late a {LAG_TICK * 1000:g} ms sleep wakes; samples: median per window",
            "samples": samples["lag_p50"],
        },
        {"metric": "loop_lag_ms_max", "samples": samples["lag_max"]},
        {
            "metric": "open_files",
            "first": samples["files"][0][1] if samples["files"] else None,
            "last": samples["files"][-1][1] if samples["files"] else None,
            "samples": samples["files"],
        },
        {
            "metric": "journal_bytes",
            "growth_per_h": round(slope_per_hour(samples["journal"])),
            "samples": samples["journal"],
        },
    ]
    for row in rows:
        print(json.dumps(row), flush=True)
    if args.write_docs:
        from benchmarks.reliability import record

        files, journal = samples["files"], samples["journal"]
        record(
            "soak",
            f"--minutes {args.minutes:g}" + ("" if args.strategy else " --no-strategy"),
            {
                "soak_rss_growth_mib_per_h": round(growth, 2),
                "loop_lag_ms_p99": round(results["lag_p99"], 2),
                "open_files_first": files[0][1] if files else 0,
                "open_files_last": files[-1][1] if files else 0,
                "journal_bytes_per_h": round(slope_per_hour(journal)),
            },
        )

    if args.max_growth is not None and not growth <= args.max_growth:  # NaN fails too
        raise SystemExit(
            f"soak: the resident memory grew {growth:.2f} MiB an hour after the warm-up "
            f"({len(steady)} samples), above --max-growth {args.max_growth:g}"
        )


if __name__ == "__main__":
    main()
