"""Orders: click to wire, the cancel lane, the journal, a 10k-order blotter.

``python -m benchmarks.orders``

The app runs in this process (offscreen, qasync); the simulated TWS in its own process. Times
at the simulator come from its inbound log, stamped with ``time.perf_counter()``, which on
Linux is CLOCK_MONOTONIC and so comparable across processes.

* ``click_to_wire_ms_p99``: a QTest click on a real button wired to ``Desk.place`` (the path the
  order ticket uses) to the placeOrder bytes at the simulator, with about 5,000 market-data
  messages/s arriving. Baseline: the same click to bytes with the feed idle. Goal <= 5.
* ``cancel_lane_ms_p99_with_150_queued``: a cancel's time to the wire with 150 orders queued
  behind IB's budget. Baseline: the plain client library (its one 45/s queue), same run.
  Goal <= 10.
* ``journal_write_ms_p99``: one journal write (an order state or a fill), 10,000 of them.
  Baseline: one SQLite insert without the journal's indexes and JSON. Goal <= 1.
* ``blotter_10k_frame_interval_ms_p99``: a 60 Hz timer with 10,000 orders in the blotter and
  200 of them changing a second. Baseline: the same timer with an empty blotter. Goal <= 20.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from benchmarks.common import SimProcess, at_sim, emit, frame_intervals, percentile, run_app
from ibdesk.broker import ib as shim
from ibdesk.domain.orders import (
    FillSnapshot,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Source,
    order_ref,
)


async def click_to_wire(desk: Any, sim: SimProcess, es: Any, runs: int) -> list[float]:
    """Milliseconds from a button click to the order's bytes at the simulator."""
    button = QPushButton("Buy 1 ES limit")
    button.clicked.connect(
        lambda: desk.place(
            OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=6500.0)
        )
    )
    button.show()
    out = []
    for _ in range(runs):
        await asyncio.sleep(0.1)  # 10 clicks/s stays inside the budget: measure the path
        since = time.perf_counter()
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        [arrived] = await at_sim(sim, since, 3)
        out.append((arrived - since) * 1000)
    button.close()
    return out


async def cancel_lane(desk: Any, sim: SimProcess, es: Any, runs: int) -> list[float]:
    """Milliseconds from a cancel (through the gate) to its bytes at the simulator, with 150
    orders queued behind IB's budget."""
    out = []
    for i in range(runs):
        [working] = desk.place(
            OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=6400.0 - i)
        ).refs
        while desk.orders.get(working).state is not OrderState.WORKING:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.1)  # a fresh budget window, then fill the queue
        for k in range(150):
            desk.place(
                OrderIntent(
                    es,
                    Side.BUY,
                    1,
                    OrderType.LIMIT,
                    Source("ticket"),
                    limit_price=6000.0 - k * 0.25 - i,
                )
            )
        since = time.perf_counter()
        assert desk.cancel_order(working).accepted
        [arrived] = await at_sim(sim, since, 4)
        out.append((arrived - since) * 1000)
        desk.gate.cancel_all(Source("blotter"))  # withdraw the queue and clear the book
        await asyncio.sleep(0.2)
    return out


async def library_cancel_lane(port: int, es_con_id: int) -> tuple[float, Any]:
    """The plain library with its own throttle: queue 150 orders, cancel an earlier one.

    Returns when the cancel was issued and the client (the caller times the arrival).
    """
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", port, clientId=77)
    contract = shim.Future(conId=es_con_id, exchange="CME")
    first = ib.placeOrder(contract, shim.LimitOrder("BUY", 1, 6300.0))
    while first.orderStatus.status != "Submitted":
        await asyncio.sleep(0.01)
    await asyncio.sleep(1.1)
    for k in range(150):
        ib.placeOrder(contract, shim.LimitOrder("BUY", 1, 6200.0 - k * 0.25))
    since = time.perf_counter()
    ib.cancelOrder(first.order)
    return since, ib


def journal_writes(count: int) -> tuple[list[float], list[float]]:
    """Per-write milliseconds: the journal's order()/fill(), and a bare SQLite insert."""
    from ibdesk.domain.instruments import Instrument, SecType
    from ibdesk.trading.journal import Journal

    es = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.sqlite")
        for i in range(count):
            snap = OrderSnapshot(
                f"ticket#{i:06x}",
                es,
                Side.BUY,
                1,
                OrderType.LIMIT,
                OrderState.WORKING,
                "DU1",
                6800.0,
                None,
                order_id=i,
                created=time.time(),
                updated=time.time(),
            )
            t0 = time.perf_counter()
            if i % 2:
                journal.order(snap)
            else:
                journal.fill(
                    FillSnapshot(
                        f"e{i}", time.time(), snap.ref, i, i, es, Side.BUY, 1, 6800.0, "DU1"
                    )
                )
            ours.append((time.perf_counter() - t0) * 1000)
        journal.close()
        db = sqlite3.connect(Path(tmp) / "bare.sqlite", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE t (a TEXT, b REAL)")
        for i in range(count):
            t0 = time.perf_counter()
            db.execute("INSERT INTO t VALUES (?, ?)", (f"r{i}", float(i)))
            bare.append((time.perf_counter() - t0) * 1000)
        db.close()
    return ours, bare


async def blotter_10k(desk: Any, es: Any, seconds: float) -> tuple[float, float]:
    """Frame interval p99 with an empty blotter, then with 10,000 orders, 200 changing/s."""
    desk.window.dock("orders").raise_()
    idle = percentile(await frame_intervals(seconds), 99)
    now = time.time()
    refs = []
    for i in range(10_000):
        ref = order_ref(Source("strategy", f"s{i % 7}"), 1, 1_000_000 + i)
        desk.orders.put(
            OrderSnapshot(
                ref,
                es,
                Side.BUY if i % 2 else Side.SELL,
                1 + i % 5,
                OrderType.LIMIT,
                OrderState.WORKING,
                "DU1234567",
                6000.0 + (i % 400) * 0.25,
                None,
                order_id=900_000 + i,
                client_id=99,
                created=now,
                updated=now,
            )
        )
        refs.append(ref)
    await asyncio.sleep(0.5)
    stop = asyncio.Event()

    async def churn() -> None:
        n = 0
        while not stop.is_set():
            for ref in refs[n % 10_000 : n % 10_000 + 10]:
                snap = desk.orders.get(ref)
                desk.orders.put(
                    dataclasses.replace(
                        snap, filled=min(snap.qty, snap.filled + 1), updated=time.time()
                    )
                )
            n += 10
            await asyncio.sleep(0.05)  # 10 every 50 ms: 200 changes a second

    task = asyncio.ensure_future(churn())
    loaded = percentile(await frame_intervals(seconds), 99)
    stop.set()
    await task
    return loaded, idle


async def measure(desk: Any, sim: SimProcess, runs: int, seconds: float) -> dict[str, Any]:
    """Every measurement against one connected desk."""
    from ibdesk.domain.connection import LinkState

    while desk.link.status.state is not LinkState.CONNECTED:
        await asyncio.sleep(0.05)
    es = await desk.resolver.resolve("ES")
    await asyncio.sleep(2.0)  # start-up requests leave the message budget's window
    sim.call("pause_market")
    sim.call("set_price", symbol=es.con_id, price=6800.0)
    out: dict[str, Any] = {"click_idle": await click_to_wire(desk, sim, es, runs)}
    for text in ("NQ", "CL", "GC", "AAPL", "NVDA", "SPY", "MES", "MNQ", "MCL", "MGC"):
        await desk.add_symbol(text)
    sim.call("resume_market")
    sim.call("set_rate", tick_interval=0.004, steps_per_tick=1)
    before, t0 = desk.session.ib.client._numMsgRecv, time.perf_counter()
    await asyncio.sleep(1.0)
    out["inbound_rate"] = (desk.session.ib.client._numMsgRecv - before) / (time.perf_counter() - t0)
    out["click_loaded"] = await click_to_wire(desk, sim, es, runs)
    sim.call("pause_market")
    out["cancel_lane"] = await cancel_lane(desk, sim, es, max(5, runs // 5))
    since, plain = await library_cancel_lane(sim.port, es.con_id)
    [arrived] = await at_sim(sim, since, 4, timeout=15)
    out["library_cancel"] = (arrived - since) * 1000
    plain.disconnect()
    out["blotter_loaded"], out["blotter_idle"] = await blotter_10k(desk, es, seconds)
    return out


def main() -> None:
    """Run every measurement and print the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    results = run_app(lambda desk, sim: measure(desk, sim, args.runs, args.seconds), limits=False)
    ours, bare = journal_writes(10_000)
    emit(
        "click_to_wire_ms_p99",
        percentile(results["click_loaded"], 99),
        percentile(results["click_idle"], 99),
        "<= 5",
        inbound_msgs_per_s=round(results["inbound_rate"]),
        p50_ms=round(percentile(results["click_loaded"], 50), 2),
    )
    emit(
        "cancel_lane_ms_p99_with_150_queued",
        percentile(results["cancel_lane"], 99),
        results["library_cancel"],
        "<= 10",
        library_ms=round(results["library_cancel"], 1),
    )
    emit(
        "journal_write_ms_p99", percentile(ours, 99), percentile(bare, 99), "<= 1", writes=len(ours)
    )
    emit(
        "blotter_10k_frame_interval_ms_p99",
        results["blotter_loaded"],
        results["blotter_idle"],
        "<= 20",
        orders=10_000,
    )


if __name__ == "__main__":
    main()
