"""The level-crossing strategy the quote-to-wire benchmarks trade, and its trials.

``benchmarks.strategies`` runs it in the window's desk, ``benchmarks.headless`` in
``ibdesk run``: the same strategy, the same price sets, the placeOrder read at the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import textwrap
import time
from collections.abc import AsyncIterator
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
    the level by one client's Flip, armed below it."""
    return (await turns(sim, con_id, {client_id: LEVEL}, trials, LEVEL - 1.0))[client_id]


async def turns(
    sim: SimProcess,
    con_id: int,
    levels: dict[int, float],
    trials: int,
    armed_at: float,
    block: int = 10,
) -> dict[int, list[tuple[float, float]]]:
    """Crossings taken in turn by clients each trading Flip at its own level: ``block``
    crossings of one client's level, then ``block`` of the next one's, until each has
    ``trials``. Returns each client's (price set, placeOrder read by the simulator)
    perf_counter pairs.

    Each client is armed on its home side of its level by the price ``armed_at``, and the
    prices that cross the other levels (a point either side of them) must lie on that same
    side: then each price set crosses one level, one client orders and the others only see
    the tick. A turn of an even number of crossings brings its client home again. Taken in
    turn, the clients share the machine's ups and downs; one after the other, a run's drift
    would show as a difference between them.

    The arrival is read after a fixed pause, not by polling: polling the control port from
    the desk's loop would slow the desk it measures."""
    above = {client: armed_at > level for client, level in levels.items()}
    for client, level in levels.items():
        for other, theirs in levels.items():
            if other != client and {theirs - 1 > level, theirs + 1 > level} != {above[client]}:
                raise ValueError(f"client {other}'s crossings would cross client {client}'s level")
    if len(levels) > 1 and (block % 2 or trials % block):
        raise ValueError(f"turns of {block} crossings must be even and divide {trials}")
    out: dict[int, list[tuple[float, float]]] = {client: [] for client in levels}
    control = await Control.open(sim)
    try:
        for i in range(trials * len(levels)):
            client = list(levels)[i // block % len(levels)]
            price = levels[client] + (-1.0 if above[client] else 1.0)
            above[client] = not above[client]
            since = time.perf_counter()
            await control.call("set_price", symbol=con_id, price=price)
            await asyncio.sleep(0.15)
            rows = sim.call("received", since=since, msg_id=PLACE_ORDER)
            if not any(r["client_id"] == client for r in rows):
                raise SystemExit(f"crossing {i}: client {client} sent no order within 150 ms")
            if strays := {r["client_id"] for r in rows} - {client}:
                raise SystemExit(f"crossing {i}: clients {strays} ordered on client {client}'s")
            first = next(r for r in rows if r["client_id"] == client)
            out[client].append((since, first["monotonic"]))
            await asyncio.sleep(0.1)
    finally:
        control.close()
    return out


@contextlib.asynccontextmanager
async def desk_flip(desk: Any, folder: Path) -> AsyncIterator[Any]:
    """Flip running in the window's desk (its level: ``LEVEL``), stopped on the way out.
    The breaker's per-minute and duplicate limits are off for it: its crossings come faster
    than the defaults allow."""
    runner = desk.strategies
    default = runner.limits
    runner.limits = dataclasses.replace(default, orders_per_minute=0, duplicate_ms=0.0)
    try:
        runner.load(write(folder, "flip.py", FLIP))
        await runner.start("Flip")
    finally:
        runner.limits = default  # strategies started from here on get the default breaker
    try:
        yield runner.entries["Flip"].instance
    finally:
        runner.stop("Flip")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def ms(pairs: list[tuple[float, float]]) -> list[float]:
    """Milliseconds from the first to the second stamp of each pair."""
    return [(b - a) * 1000 for a, b in pairs]
