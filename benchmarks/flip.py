"""The level-crossing strategy the quote-to-wire benchmarks trade, and its trials.

``benchmarks.strategies`` runs it in the window's desk, ``benchmarks.headless`` in
``ibdesk run``: the same strategy, the same price sets, the placeOrder read at the simulator.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SimProcess

PLACE_ORDER = 3
LEVEL = 6800.0

FLIP = f"""
import time

from ibdesk.strategies import Strategy


class Flip(Strategy):
    # Buys when ES trades above the level, sells when it trades back below.
    instruments = ("ES",)
    params = {{"level": {LEVEL}}}

    def on_start(self):
        self.above = None
        self.stamps = []  # (called, seconds since the data arrived, order handed over)

    def on_quote(self, quote):
        if quote.last != quote.last:  # NaN: no trade yet
            return
        above = quote.last > self.p["level"]
        if self.above is None or above == self.above:
            self.above = above
            return
        self.above = above
        called, waited = time.perf_counter(), time.time() - quote.time
        if above:
            self.buy("ES", 1, why=f"last {{quote.last}} above {{self.p['level']}}")
        else:
            self.sell("ES", 1, why=f"last {{quote.last}} below {{self.p['level']}}")
        self.stamps.append((called, waited, time.perf_counter()))
"""


async def until(check: Any, what: str, timeout: float = 20.0) -> None:
    """Poll ``check`` on the loop until it holds; SystemExit after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Control:
    """The simulator's control port on the event loop: unlike ``SimProcess.call``, a call
    does not block the loop while the simulator works, so a desk on this loop handles the
    tick a price set sends as soon as it arrives, as it would with no benchmark around it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, sim: SimProcess) -> Control:
        return cls(*await asyncio.open_connection("127.0.0.1", sim.control_port))

    async def call(self, op: str, **args: Any) -> Any:
        self.writer.write((json.dumps({"op": op, "args": args, "id": 1}) + "\n").encode())
        reply = json.loads(await self.reader.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"control {op} failed: {reply.get('error')}")
        return reply["result"]

    def close(self) -> None:
        self.writer.close()


async def crossings(
    sim: SimProcess, con_id: int, client_id: int, trials: int
) -> list[tuple[float, float]]:
    """(price set, placeOrder read by the simulator) perf_counter pairs, one per crossing of
    the level. The arrival is read after a fixed pause, not by polling: polling the control
    port from the desk's loop would slow the desk it measures."""
    out = []
    control = await Control.open(sim)
    for i in range(trials):
        price = LEVEL + (1.0 if i % 2 == 0 else -1.0)
        since = time.perf_counter()
        await control.call("set_price", symbol=con_id, price=price)
        await asyncio.sleep(0.15)
        rows = sim.call("received", since=since, msg_id=PLACE_ORDER, client_id=client_id)
        if not rows:
            raise SystemExit(f"trial {i}: client {client_id} sent no order within 150 ms")
        out.append((since, rows[0]["monotonic"]))
        await asyncio.sleep(0.1)
    control.close()
    return out


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def ms(pairs: list[tuple[float, float]]) -> list[float]:
    """Milliseconds from the first to the second stamp of each pair."""
    return [(b - a) * 1000 for a, b in pairs]
