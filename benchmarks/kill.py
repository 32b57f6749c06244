"""The kill switch: click to global cancel at the broker, idle and loaded; flatten; the stall
watchdog.

``python -m benchmarks.kill``

The app runs in this process (offscreen, qasync, limits off so that the pre-trade checks do
not refuse the benchmark's own order bursts; the kill switch and the watchdog are as
configured by default); the simulated TWS runs in its own process. Times at the simulator are
its stamps on reading each message (``time.perf_counter()``: CLOCK_MONOTONIC on Linux, so
comparable with this process's clock).

* ``kill_to_wire_ms_p99_idle``: a QTest click on the trading bar's KILL button, with 3 working
  orders, to the reqGlobalCancel (message 58) bytes at the simulator. Baseline: the plain
  client library's ``reqGlobalCancel()`` call to its bytes at the simulator, same loop, same
  3 working orders, interleaved trial by trial. Goal <= 5.
* ``kill_to_wire_ms_p99_loaded``: the same click with 150 orders queued in the pacer (40 more
  just sent) and about 5,000 market-data messages/s arriving. Baseline: the plain library (its
  own 45/s throttle, no pacer) under the same feed: 150 ``placeOrder`` then
  ``reqGlobalCancel()``, call to bytes at the simulator. Goal <= 10.
* ``flatten_10_verified_s``: 10 positions (5 futures, 5 stocks, long and short, opened from
  the TWS screen through the control port and held for a second) to a verified-flat report
  from ``Desk.flatten_all``, median of several trials. Baseline: a plain library client
  sending 10 market orders and seeing every position at zero (no cancel, no verification),
  in trials interleaved with the desk's. Goal <= 1.
* ``stall_to_oob_cancel_ms``: the desk's loop blocked (``time.sleep`` in a callback) to the
  watchdog client's reqGlobalCancel at the simulator, worst of several trials, with the
  default threshold. Baseline: the threshold itself. Goal <= threshold + 300 ms.
* ``gil_stall_to_oob_cancel_ms``: the same, but the loop is frozen for 5 s inside one C call
  that holds the GIL (``ctypes.PyDLL(None).usleep``, the shape of the measured 30 s
  ``QPlainTextEdit`` append): no Python thread of the desk runs meanwhile. Worst of several
  trials; also counts the desk's placeOrder messages that reached the simulator after a freeze
  began (must be 0). Baseline: the threshold itself. Goal <= threshold + 300 ms.
* ``hostile_loop_lag_ms_p99``: a desk of its own behind a hostile proxy (1 MiB strings and
  30,000 malformed frames), its loop's lag p99; goal <= 50 ms and no watchdog fire (see
  ``benchmarks.hostile``; ``--hostile-trials 0`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from benchmarks import hostile
from benchmarks.common import (
    SimProcess,
    at_sim,
    emit,
    emit_p99,
    median,
    percentile,
    run_app,
    set_feed,
)
from ibdesk.broker import ib as shim
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState

GLOBAL_CANCEL = 58
PLACE_ORDER = 3
DESK_ID = 1
LIBRARY_ID = 77
WORKING = 3
""" working orders at the broker for each idle kill trial """
QUEUED = 150
""" orders waiting in the pacer (or the library's throttle) at a loaded kill """
FLATTEN = (
    ("ESZ6", 2),
    ("NQZ6", -1),
    ("CLF7", 3),
    ("GCZ6", -2),
    ("MESZ6", 4),
    ("AAPL", 100),
    ("MSFT", -50),
    ("NVDA", 75),
    ("SPY", -20),
    ("TSLA", 30),
)
""" the 10 positions to flatten: (local symbol, quantity) """


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Keep the loop turning until ``check()`` holds (RuntimeError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.002)


class Desk:
    """The desk under test and what the benchmark needs of it."""

    def __init__(self, desk: Any, sim: SimProcess) -> None:
        self.desk = desk
        self.sim = sim
        self.reports: list[Any] = []
        desk.switch.reported += self.reports.append
        self.button = desk.window.trading_bar.kill_button

    def limit_buys(self, inst: Any, count: int, top: float) -> list[str]:
        """Send ``count`` resting limit buys through the gate; returns their refs."""
        refs: list[str] = []
        for k in range(count):
            intent = OrderIntent(
                inst,
                Side.BUY,
                1,
                OrderType.LIMIT,
                Source("ticket"),
                limit_price=inst.round_to_tick(top - k * inst.min_tick),
            )
            decision = self.desk.place(intent)
            if not decision.accepted:
                raise RuntimeError(f"the gate refused a benchmark order: {decision.reason}")
            refs += decision.refs
        return refs

    async def working(self, refs: list[str]) -> None:
        """Wait until every order is working at the broker."""
        store = self.desk.orders
        await until(
            lambda: all(store.get(r).state is OrderState.WORKING for r in refs),
            what="orders to work",
        )

    async def click_kill(self) -> tuple[float, Any]:
        """Click KILL; returns the click's time and the kill's verified report."""
        seen = len(self.reports)
        since = time.perf_counter()
        QTest.mouseClick(self.button, Qt.MouseButton.LeftButton)
        return since, await self.report_after(seen)

    async def report_after(self, seen: int) -> Any:
        """The next kill or flatten report after the first ``seen``."""
        await until(lambda: len(self.reports) > seen, what="a kill report")
        return self.reports[seen]

    def rearm(self) -> None:
        """Back to ACTIVE for the next trial."""
        self.desk.rearm("benchmark", "next benchmark trial")


def statuses_are(trades: list[Any], status: str) -> bool:
    """Whether every library trade has this status."""
    return all(t.orderStatus.status == status for t in trades)


def all_done(trades: list[Any]) -> bool:
    """Whether every library trade is done (filled or cancelled)."""
    return all(t.isDone() for t in trades)


async def arrival(sim: SimProcess, since: float, client_id: int, timeout: float = 10.0) -> float:
    """When the first reqGlobalCancel from ``client_id`` after ``since`` reached the
    simulator (RuntimeError if none did within ``timeout``)."""
    found = await at_sim(sim, since, GLOBAL_CANCEL, client_id=client_id, timeout=timeout)
    if not found:
        raise RuntimeError(f"no reqGlobalCancel from client {client_id} within {timeout:g} s")
    return found[0]


async def library_client(port: int, client_id: int) -> Any:
    """A plain library client with its own throttle (no ibdesk pacer)."""
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id)
    return ib


async def kill_idle(d: Desk, ib: Any, es: Any, runs: int) -> tuple[list[float], list[float]]:
    """Click to 58 at the simulator with working orders, and the library's call to 58,
    trial by trial."""
    sim = d.sim
    ours: list[float] = []
    plain: list[float] = []
    contract = shim.Future(conId=es.con_id, exchange=es.exchange)
    for i in range(runs):
        top = 6400.0 - (i % 40)
        await d.working(d.limit_buys(es, WORKING, top))
        await asyncio.sleep(0.02)
        since, report = await d.click_kill()
        arrived = await arrival(sim, since, DESK_ID)
        ours.append((arrived - since) * 1000)
        if not report.verified:
            raise RuntimeError(f"kill not verified: {report.summary()}")
        d.rearm()

        trades = [ib.placeOrder(contract, shim.LimitOrder("BUY", 1, top - k)) for k in range(3)]
        await until(
            partial(statuses_are, trades, "Submitted"),
            what="the library's orders to work",
        )
        await asyncio.sleep(0.02)
        since = time.perf_counter()
        ib.reqGlobalCancel()
        arrived = await arrival(sim, since, LIBRARY_ID)
        plain.append((arrived - since) * 1000)
        await until(partial(all_done, trades), what="the library's cancels")
        await asyncio.sleep(0.05)  # about 8 trials/s: inside the 40/s budget
    return ours, plain


async def kill_loaded(d: Desk, es: Any, runs: int) -> tuple[list[float], list[int], int]:
    """Click to 58 with 150 orders queued in the pacer (and the feed running).

    Returns the milliseconds, the queue length at each click, and how many placeOrder
    messages from the desk reached the simulator after its global cancel (must be 0).
    """
    pacer = d.desk.router.pacer
    out: list[float] = []
    queued: list[int] = []
    late = 0
    for i in range(runs):
        await asyncio.sleep(1.05)  # a fresh budget window: 40 go at once, the rest queue
        d.limit_buys(es, pacer.normal_rate + QUEUED, 6300.0 - i)
        queued.append(pacer.queued)
        since, report = await d.click_kill()
        arrived = await arrival(d.sim, since, DESK_ID)
        out.append((arrived - since) * 1000)
        late += len(d.sim.call("received", since=arrived, msg_id=PLACE_ORDER, client_id=DESK_ID))
        if not report.verified:
            raise RuntimeError(f"loaded kill not verified: {report.summary()}")
        d.rearm()
    return out, queued, late


async def library_loaded(d: Desk, ib: Any, es: Any, runs: int) -> list[float]:
    """The plain library under the same feed: 150 placeOrder, then reqGlobalCancel()."""
    contract = shim.Future(conId=es.con_id, exchange=es.exchange)
    out = []
    for i in range(runs):
        await asyncio.sleep(1.05)  # the library's 45/s window is fresh too
        for k in range(QUEUED):
            ib.placeOrder(contract, shim.LimitOrder("BUY", 1, 6200.0 - i - k * 0.25))
        since = time.perf_counter()
        ib.reqGlobalCancel()
        arrived = await arrival(d.sim, since, LIBRARY_ID, timeout=20)
        out.append((arrived - since) * 1000)
    await until(lambda: not d.sim.call("orders", open_only=True), what="the book to clear")
    return out


async def open_positions(d: Desk) -> None:
    """Open the 10 positions from the TWS screen; wait until the desk shows them (a trader
    flattens what the positions panel shows)."""
    sim = d.sim
    for symbol, qty in FLATTEN:
        action = "BUY" if qty > 0 else "SELL"
        sim.call("enter_manual_order", symbol=symbol, action=action, qty=abs(qty), order_type="MKT")
    if len(sim.call("positions")) != len(FLATTEN):
        raise RuntimeError(f"expected {len(FLATTEN)} positions, have {sim.call('positions')}")
    account = d.desk.session.account
    await until(
        lambda: (
            sum(1 for (a, _), p in d.desk.positions.positions.items() if a == account and p.qty)
            == len(FLATTEN)
        ),
        what="the desk to show the positions",
    )


async def library_flatten(ib: Any, contracts: dict[int, Any]) -> float:
    """A plain client: fresh positions, a market order against each, until all read zero."""
    t0 = time.perf_counter()
    positions = [p for p in await ib.reqPositionsAsync() if p.position]
    for p in positions:
        action = "SELL" if p.position > 0 else "BUY"
        ib.placeOrder(contracts[p.contract.conId], shim.MarketOrder(action, abs(p.position)))
    await until(lambda: not any(p.position for p in ib.positions()), what="the library to be flat")
    return time.perf_counter() - t0


async def flatten(d: Desk, runs: int) -> tuple[list[float], list[float]]:
    """Seconds to a verified-flat report (the desk) and to all-zero (the library)."""
    ib = await library_client(d.sim.port, LIBRARY_ID + 1)
    contracts: dict[int, Any] = {}
    ours: list[float] = []
    plain: list[float] = []
    try:
        for _ in range(runs):
            await open_positions(d)
            for row in d.sim.call("positions"):
                if row["con_id"] not in contracts:
                    [contracts[row["con_id"]]] = await ib.qualifyContractsAsync(
                        shim.Contract(conId=row["con_id"])
                    )
            # Held positions: the desk's own requests for them (P&L subscriptions, contract
            # details) leave the message budget's window, as they would long before a flatten.
            await asyncio.sleep(1.05)
            t0 = time.perf_counter()
            report = await d.desk.flatten_all("benchmark")
            ours.append(time.perf_counter() - t0)
            left = d.sim.call("positions")
            if not report.verified or left:
                raise RuntimeError(f"flatten not verified: {report.summary()}; left {left}")
            d.rearm()

            await open_positions(d)
            await until(
                lambda: sum(1 for p in ib.positions() if p.position) == len(FLATTEN),
                what="the library to see the positions",
            )
            await asyncio.sleep(0.2)
            plain.append(await library_flatten(ib, contracts))
            if d.sim.call("positions"):
                raise RuntimeError("the library's flatten left positions")
            await asyncio.sleep(0.2)
    finally:
        ib.disconnect()
    return ours, plain


def block(started: list[float], seconds: float) -> None:
    """A strategy's blocking call on the desk's loop (notes when it began)."""
    started.append(time.perf_counter())
    time.sleep(seconds)


def hold_the_gil(started: list[float], seconds: float) -> None:
    """A call that freezes every Python thread of the desk: one C call that keeps the GIL
    (ctypes.PyDLL does not release it, unlike CDLL)."""
    started.append(time.perf_counter())
    ctypes.PyDLL(None).usleep(ctypes.c_uint(int(seconds * 1_000_000)))


@dataclass
class Stalls:
    """What :func:`stall` measured."""

    ms: list[float]
    """ freeze start to the watchdog's 58 at the simulator, per trial that had one """
    missed: int
    """ trials whose freeze ended with no out-of-band cancel at all """
    late: int
    """ the desk's placeOrder messages that reached the simulator after a freeze began """
    threshold: float
    client_id: int


async def stall(
    d: Desk,
    es: Any,
    runs: int,
    seconds: float,
    freeze: Callable[[list[float], float], None] = block,
) -> Stalls:
    """Freeze the desk's loop with ``freeze`` for ``seconds``, ``runs`` times; when the
    watchdog's global cancel reached the simulator, and what else did."""
    line = d.desk.safety.line
    if line is None:
        raise RuntimeError("the watchdog line is off")
    await until(line.connected.is_set, what="the watchdog line to connect")
    loop = asyncio.get_running_loop()
    result = Stalls([], 0, 0, line.threshold, line.client_id)
    for i in range(runs):
        await d.working(d.limit_buys(es, WORKING, 6350.0 - i))
        await asyncio.sleep(0.3)  # heartbeats flowing again
        started: list[float] = []
        seen = len(d.reports)
        loop.call_soon(freeze, started, seconds)
        await until(partial(bool, started), timeout=seconds + 10, what="the freeze")
        found = await at_sim(
            d.sim, started[0], GLOBAL_CANCEL, client_id=line.client_id, timeout=2.0
        )
        if found:
            result.ms.append((found[0] - started[0]) * 1000)
        else:  # a watchdog that could not run during the freeze may never fire at all
            result.missed += 1
        if found or d.desk.switch.state is TradingState.HALTED:
            # The desk adopts the watchdog's halt when it wakes (its own kill and report).
            await d.report_after(seen)
            d.rearm()
        result.late += len(
            d.sim.call("received", since=started[0], msg_id=PLACE_ORDER, client_id=DESK_ID)
        )
        await asyncio.sleep(0.2)
    return result


async def measure(desk: Any, sim: SimProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement against one connected desk."""
    from ibdesk.domain.connection import LinkState

    await until(
        lambda: desk.link.status.state is LinkState.CONNECTED, timeout=30, what="the connection"
    )
    d = Desk(desk, sim)
    if not d.button.isVisible():
        raise RuntimeError("the KILL button is not on screen")
    es = await desk.resolver.resolve("ES")
    await asyncio.sleep(2.0)  # start-up requests leave the message budget's window
    sim.call("pause_market")
    sim.call("set_price", symbol=es.con_id, price=6800.0)
    out: dict[str, Any] = {}
    ib = await library_client(sim.port, LIBRARY_ID)
    try:
        out["idle"], out["idle_library"] = await kill_idle(d, ib, es, args.runs)
        out["flatten"], out["flatten_library"] = await flatten(d, args.flatten_runs)
        out["stall"] = await stall(d, es, args.stall_runs, args.stall_seconds)
        out["gil"] = await stall(d, es, args.gil_stall_runs, args.gil_stall_seconds, hold_the_gil)
        for text in ("NQ", "CL", "GC", "AAPL", "NVDA", "SPY", "MES", "MNQ", "MCL", "MGC"):
            await desk.add_symbol(text)
        sim.call("resume_market")
        out["inbound_rate"] = await set_feed(sim, desk.session.ib, 5_000, seconds=1.0)
        out["loaded"], out["queued"], out["late"] = await kill_loaded(d, es, args.loaded_runs)
        out["loaded_library"] = await library_loaded(d, ib, es, args.library_runs)
        out["inbound_rate_after"] = await set_feed(sim, desk.session.ib, 5_000, seconds=1.0)
    finally:
        sim.call("pause_market")
        ib.disconnect()
    return out


def main() -> None:
    """Run every measurement and print the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="idle kill trials")
    parser.add_argument("--loaded-runs", type=int, default=20, help="loaded kill trials")
    parser.add_argument("--library-runs", type=int, default=3, help="plain library, loaded")
    parser.add_argument("--flatten-runs", type=int, default=6)
    parser.add_argument("--stall-runs", type=int, default=4)
    parser.add_argument("--stall-seconds", type=float, default=3.0)
    parser.add_argument("--gil-stall-runs", type=int, default=3)
    parser.add_argument("--gil-stall-seconds", type=float, default=5.0)
    parser.add_argument(
        "--hostile-trials", type=int, default=5, help="hostile stream trials (0: skip)"
    )
    args = parser.parse_args()
    results = run_app(lambda desk, sim: measure(desk, sim, args), client_id=DESK_ID, limits=False)
    idle, idle_lib = results["idle"], results["idle_library"]
    emit_p99(
        "kill_to_wire_ms_p99_idle",
        idle,
        idle_lib,
        "<= 5",
        baseline_what="plain library reqGlobalCancel() call to bytes at the simulator, p99",
        working_orders=WORKING,
    )
    loaded, lib = results["loaded"], results["loaded_library"]
    emit(
        "kill_to_wire_ms_p99_loaded",
        percentile(loaded, 99),
        median(lib),
        "<= 10",
        baseline_what=(
            "plain library (own 45/s throttle): 150 placeOrder then reqGlobalCancel(), "
            "call to bytes at the simulator, median"
        ),
        p50_ms=round(percentile(loaded, 50), 3),
        library_ms=[round(x, 1) for x in lib],
        queued_at_click=min(results["queued"]),
        orders_on_wire_after_kill=results["late"],
        inbound_msgs_per_s=round(results["inbound_rate"]),
        inbound_msgs_per_s_after=round(results["inbound_rate_after"]),
        trials=len(loaded),
    )
    flat, flat_lib = results["flatten"], results["flatten_library"]
    emit(
        "flatten_10_verified_s",
        median(flat),
        median(flat_lib),
        "<= 1",
        baseline_what=(
            "plain library: reqPositions, 10 market orders, until its position events "
            "read zero (no cancel, no verification), median"
        ),
        p90_s=round(percentile(flat, 90), 3),
        baseline_p90_s=round(percentile(flat_lib, 90), 3),
        trials=len(flat),
        positions=len(FLATTEN),
    )
    stalls, gil = results["stall"], results["gil"]
    threshold_ms = stalls.threshold * 1000
    emit(
        "stall_to_oob_cancel_ms",
        max(stalls.ms),
        threshold_ms,
        f"<= {threshold_ms + 300:g}",
        baseline_what="the watchdog threshold (RiskSettings().watchdog_halt_after)",
        median_ms=round(median(stalls.ms), 1),
        all_ms=[round(x, 1) for x in stalls.ms],
        missed=stalls.missed,
        watchdog_client_id=stalls.client_id,
        stall_s=args.stall_seconds,
    )
    emit(
        "gil_stall_to_oob_cancel_ms",
        max(gil.ms) if gil.ms else math.nan,
        threshold_ms,
        f"<= {threshold_ms + 300:g}",
        baseline_what="the watchdog threshold (RiskSettings().watchdog_halt_after)",
        all_ms=[round(x, 1) for x in gil.ms],
        missed=gil.missed,
        orders_on_wire_after_freeze=gil.late,
        watchdog_client_id=gil.client_id,
        stall_s=args.gil_stall_seconds,
    )
    if args.hostile_trials > 0:  # its own desk, behind a hostile proxy (benchmarks.hostile)
        hostile.run_and_emit(args.hostile_trials)


if __name__ == "__main__":
    main()
