"""A probe of the running loop's lag: how late a timer due every few milliseconds runs.

That lateness is what a trader feels (a click, a repaint, a kill waits that long), and it is
what the stall watchdog measures with its heartbeat. It works on any asyncio loop, the desk's
qasync loop included; tests and benchmarks use it to bound the cost of hostile input.
"""

from __future__ import annotations

import asyncio
import math


class LoopLagProbe:
    """Schedules itself every ``interval`` seconds and records each firing's lateness (ms)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lags_ms: list[float] = []
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> LoopLagProbe:
        """Start probing the running loop."""
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.interval
        self._handle = loop.call_at(self._due, self._fire)
        return self

    def stop(self) -> list[float]:
        """Stop; returns the lags recorded (ms)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return self.lags_ms

    def p99(self) -> float:
        """The 99th percentile of the lags so far (ms)."""
        if not self.lags_ms:
            return 0.0
        ordered = sorted(self.lags_ms)  # nearest rank, as benchmarks.common.percentile
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]

    def worst(self) -> float:
        """The longest lag so far (ms)."""
        return max(self.lags_ms, default=0.0)

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.lags_ms.append(max(0.0, (now - self._due) * 1000))
        self._due = now + self.interval
        self._handle = loop.call_at(self._due, self._fire)
