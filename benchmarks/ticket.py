"""The ticket's hotkey: a key press to a whole bracket at the broker.

``python -m benchmarks.ticket``

The app runs in this process (offscreen, qasync; pre-trade limits off so the benchmark's own
trials do not trip the orders-per-minute limit); the simulated TWS in its own process stamps
each message as it reads it (``time.perf_counter()``, CLOCK_MONOTONIC on Linux, comparable
with this process's clock).

* ``hotkey_to_bracket_on_wire_ms_p99``: a QTest Ctrl+B on the main window, the ticket loaded
  with ES and its template, to the third placeOrder (the stop, transmit=1) at the simulator.
  Baseline: a plain library client placing the same three orders (parent, take-profit, stop)
  with ``placeOrder``, call to the third at the simulator, trials interleaved. Goal <= 10.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from benchmarks.common import SimProcess, at_sim, emit_p99, run_app
from ibdesk.broker import ib as shim

PLACE_ORDER = 3
DESK_ID = 1
LIBRARY_ID = 78


async def until(check: Any, timeout: float = 10.0, what: str = "") -> None:
    """Keep the loop turning until ``check()`` holds (RuntimeError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def third_order(sim: SimProcess, since: float, client_id: int) -> float:
    """When the third placeOrder from ``client_id`` after ``since`` reached the simulator."""
    found = await at_sim(sim, since, PLACE_ORDER, count=3, client_id=client_id)
    if len(found) < 3:
        raise RuntimeError(f"only {len(found)} of 3 orders from client {client_id} arrived")
    return found[2]


async def library_bracket(ib: Any, contract: Any, price: float) -> float:
    """The plain library's bracket: three placeOrder calls; returns when it started."""
    parent = shim.LimitOrder("BUY", 1, price, transmit=False)
    parent.orderId = ib.client.getReqId()
    take = shim.LimitOrder("SELL", 1, price + 2.0, parentId=parent.orderId, transmit=False)
    stop = shim.StopOrder("SELL", 1, price - 1.5, parentId=parent.orderId, transmit=True)
    since = time.perf_counter()
    for order in (parent, take, stop):
        ib.placeOrder(contract, order)
    return since


async def measure(desk: Any, sim: SimProcess, runs: int) -> dict[str, Any]:
    """Hotkey trials and library trials, interleaved."""
    from ibdesk.domain.connection import LinkState

    await until(lambda: desk.link.status.state is LinkState.CONNECTED, 30, "the connection")
    window = desk.window
    panel = window.ticket_panel
    es = await desk.resolver.resolve("ES")
    sim.call("pause_market")
    sim.call("set_price", symbol=es.con_id, price=6800.0)
    await panel.set_symbol("ES")
    await until(lambda: math.isfinite(panel.market().bid) and panel.entry.text(), what="quotes")
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=LIBRARY_ID)
    contract = shim.Future(conId=es.con_id, exchange=es.exchange)
    ours: list[float] = []
    plain: list[float] = []
    try:
        await asyncio.sleep(1.5)  # start-up requests leave the message budget's window
        for _ in range(runs):
            window.activateWindow()
            since = time.perf_counter()
            QTest.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
            arrived = await third_order(sim, since, DESK_ID)
            ours.append((arrived - since) * 1000)
            if not panel.outcome.text().startswith("Sent:"):
                raise RuntimeError(f"the hotkey did not send: {panel.outcome.text()}")
            since = await library_bracket(ib, contract, 6790.0)
            arrived = await third_order(sim, since, LIBRARY_ID)
            plain.append((arrived - since) * 1000)
            desk.cancel_all()
            ib.reqGlobalCancel()
            await until(lambda: not sim.call("orders", open_only=True), what="the book to clear")
            await asyncio.sleep(0.25)  # a handful of messages per trial: far inside 40/s
    finally:
        ib.disconnect()
    return {"ours": ours, "plain": plain}


def main() -> None:
    """Run the trials and print the metric."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    results = run_app(
        lambda desk, sim: measure(desk, sim, args.runs), client_id=DESK_ID, limits=False
    )
    ours, plain = results["ours"], results["plain"]
    emit_p99(
        "hotkey_to_bracket_on_wire_ms_p99",
        ours,
        plain,
        "<= 10",
        baseline_what="plain library: three placeOrder calls to the third at the simulator, p99",
    )


if __name__ == "__main__":
    main()
