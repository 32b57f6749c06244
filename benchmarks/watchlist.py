"""The watchlist under load: 100 instruments, the simulator at a fast rate.

``python -m benchmarks.watchlist``

The app (window, stores, broker, qasync loop) runs in this process, offscreen; the simulated
TWS runs in its own process, as TWS would.

* ``watchlist_main_thread_cost_pct``: main-thread CPU time the watchlist costs (its model,
  view and painting), in percent of wall time, with the feed at about 10,000 updates/s.
  Measured as main-thread CPU with the watchlist live minus the same with the watchlist
  detached (baseline: that feed-only cost, decoding included). Goal <= 10.
* ``tick_to_screen_ms_p99``: from a new Last price reaching the QuoteStore to the end of the
  watchlist paint that shows it (only visible rows; a price that reverts before it is shown
  counts nothing), 99th percentile, at the same rate. Baseline: the same at about 100
  updates/s. Goal <= 50.
* ``frame_interval_ms_p99``: intervals of a 60 Hz timer on the GUI thread with the feed at
  about 20,000 messages/s, 99th percentile (a blocked loop shows as long intervals). Baseline:
  the same with the feed paused. Goal <= 20.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject

from benchmarks.common import SimProcess, emit, frame_intervals, percentile, run_app, set_feed

INSTRUMENTS = 100


def symbols(sim: SimProcess) -> list[str]:
    """Up to 100 local symbols the simulator lists: every future, then stocks and FX."""
    wanted: list[str] = []
    for root in ("ES", "MES", "NQ", "MNQ", "CL", "MCL", "GC", "MGC"):
        wanted += sim.call("chain", root=root)
    wanted += sim.call("stocks")
    return wanted[:INSTRUMENTS]


class PaintProbe(QObject):
    """Times each new Last price from its arrival in the store to the first paint that shows
    it, or a newer price, in its cell.

    Only changes a trader can see count: a quote whose Last text equals what the cell shows
    starts no clock, and clears the clocks of prices that came and went unpainted.
    """

    LAST = 3

    def __init__(self, desk: Any) -> None:
        super().__init__()
        self.view = desk.window.watchlist_panel.view
        self.model = desk.window.watchlist_model
        self.pending: dict[int, list[tuple[float, str]]] = {}
        self.latencies: list[float] = []
        self.recording = False
        self._rows = {k: r for r, k in enumerate(self.model.row_keys())}
        self.view.viewport().installEventFilter(self)

    def detach(self) -> None:
        """Stop observing, so that the probe's own work is not counted as the watchlist's."""
        self.view.viewport().removeEventFilter(self)
        self.recording = False

    def note(self, con_id: int) -> None:
        """A quote arrived: start a clock if its Last text differs from the cell's."""
        row = self._rows.get(con_id)
        if not self.recording or row is None:
            return
        text = self.model.columns[self.LAST].text(self.model.row(con_id))
        queue = self.pending.setdefault(con_id, [])
        if text == self.model.item(row, self.LAST).text():
            queue.clear()
        elif not queue or queue[-1][1] != text:
            queue.append((time.perf_counter(), text))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Timed as the paint event is delivered: the frame being drawn shows the cell's text.
        if event.type() == QEvent.Type.Paint and self.pending:
            now = time.perf_counter()
            region = event.region()  # type: ignore[attr-defined]
            proxy = self.view.model()
            for con_id, queue in self.pending.items():
                row = self._rows[con_id]
                shown = self.model.item(row, self.LAST).text()
                texts = [t for _, t in queue]
                if shown not in texts:
                    continue
                cell = proxy.mapFromSource(self.model.index(row, self.LAST))
                if not region.intersects(self.view.visualRect(cell)):
                    continue
                # Everything up to the shown price is on screen now (or superseded by it).
                upto = len(texts) - 1 - texts[::-1].index(shown)
                self.latencies += [(now - started) * 1000 for started, _ in queue[: upto + 1]]
                del queue[: upto + 1]
        return False


async def measure(desk: Any, sim: SimProcess, seconds: float) -> dict[str, Any]:
    """Run every measurement against a connected desk."""
    from ibdesk.domain.connection import LinkState

    ib = desk.session.ib
    while desk.link.status.state is not LinkState.CONNECTED:
        await asyncio.sleep(0.05)
    for text in symbols(sim):
        await desk.add_symbol(text)
    await asyncio.sleep(1.0)
    window = desk.window
    model = window.watchlist_model
    probe = PaintProbe(desk)
    desk.quotes.updated += probe.note
    out: dict[str, Any] = {"instruments": model.rowCount()}

    # Tick to screen, slow feed first (the baseline), then at ~10k updates/s.
    out["slow_rate"] = await set_feed(sim, ib, 100)
    probe.recording, probe.latencies = True, []
    await asyncio.sleep(seconds)
    probe.recording = False
    out["slow_p99"] = percentile(probe.latencies, 99)
    out["rate"] = await set_feed(sim, ib, 10_000)
    probe.recording, probe.latencies, probe.pending = True, [], {}
    await asyncio.sleep(seconds)
    probe.recording = False
    out["tick_to_screen_p99"] = percentile(probe.latencies, 99)
    out["tick_to_screen_p50"] = percentile(probe.latencies, 50)
    out["tick_to_screen_n"] = len(probe.latencies)
    probe.detach()
    desk.quotes.updated -= probe.note

    # Main-thread CPU with the watchlist live, then detached (same feed).
    out["cpu_live"] = await cpu_pct(seconds)
    model.close()
    window.dock("watchlist").hide()
    out["cpu_detached"] = await cpu_pct(seconds)

    # Frame intervals: feed paused (baseline), then at ~20k messages/s.
    sim.call("pause_market")
    out["frames_idle"] = percentile(await frame_intervals(seconds), 99)
    sim.call("resume_market")
    out["fast_rate"] = await set_feed(sim, ib, 20_000)
    out["frames_loaded"] = percentile(await frame_intervals(seconds), 99)
    return out


async def cpu_pct(seconds: float) -> float:
    """Main-thread CPU time over ``seconds``, in percent of wall time."""
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return 100 * (time.thread_time() - cpu0) / (time.perf_counter() - wall0)


def main() -> None:
    """Run the app against a simulator process and print the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    results = run_app(lambda desk, sim: measure(desk, sim, args.seconds))
    rate = results["rate"]
    emit(
        "watchlist_main_thread_cost_pct",
        results["cpu_live"] - results["cpu_detached"],
        results["cpu_detached"],
        "<= 10",
        updates_per_s=round(rate),
        instruments=results["instruments"],
        main_thread_total_pct=round(results["cpu_live"], 1),
    )
    emit(
        "tick_to_screen_ms_p99",
        results["tick_to_screen_p99"],
        results["slow_p99"],
        "<= 50",
        updates_per_s=round(rate),
        baseline_updates_per_s=round(results["slow_rate"]),
        p50_ms=round(results["tick_to_screen_p50"], 1),
        samples=results["tick_to_screen_n"],
    )
    emit(
        "frame_interval_ms_p99",
        results["frames_loaded"],
        results["frames_idle"],
        "<= 20",
        messages_per_s=round(results["fast_rate"]),
    )


if __name__ == "__main__":
    main()
