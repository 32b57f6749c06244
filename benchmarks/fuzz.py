"""A million hostile frames at either end of the wire (issue 18).

``python -m benchmarks.fuzz sim --frames 1000000``: seeded request frames
(``benchmarks.fuzz_frames.requests``) from four raw connections at the simulated TWS, while
a well-behaved client streams ES quotes.

* ``fuzz_frames_sim``: frames sent, with the server's handler exceptions (ERROR records of
  ``ibdesk.simtws``), the connections it hung up, whether a fresh client still connects,
  and the bystander's longest gap without a quote. Goal: 0 exceptions, the server up, the
  bystander undisturbed (gap under a second).

``python -m benchmarks.fuzz desk --frames 1000000``: the headless desk connected through the
hostile proxy (``tests/proxy.py``), with a working order and a streaming quote, fed seeded
server frames (``benchmarks.fuzz_frames.replies``) in bursts, each followed by a round trip
that proves it was read.

* ``fuzz_frames_desk``: frames fed, with the desk's loop lag p99 throughout (goal <= 50 ms),
  exceptions left in its loop or logged as errors by ibdesk (goal 0), the library's decoder
  complaints (counted, expected), and whether the desk still answers and trades at the end.

``--write-docs`` records the figures in ``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import emit, percentile
from benchmarks.fuzz_frames import replies, requests
from benchmarks.hostile import until
from ibdesk.broker import ib as shim
from ibdesk.config import ConnectionSettings, RiskSettings, Settings, limits_off
from ibdesk.desk.core import Desk
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.simtws.handlers import HANDLERS
from tests.probe import LoopLagProbe
from tests.proxy import WireProxy
from tests.sim.rawclient import RawClient, contract_fields

BATCH = 2_000
LIVE_REQ_IDS = 40
DESK_ID = 1


class Counter(logging.Handler):
    """ERROR records by logger prefix (and a few of their texts)."""

    def __init__(self, prefixes: tuple[str, ...], skip: tuple[str, ...] = ()) -> None:
        super().__init__(logging.ERROR)
        self.prefixes, self.skip = prefixes, skip
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self.prefixes) and not record.name.startswith(self.skip):
            self.count += 1
            if len(self.samples) < 5:
                self.samples.append(f"{record.name}: {record.getMessage()[:200]}")


def counting(*prefixes: str, skip: tuple[str, ...] = ()) -> Counter:
    """A Counter on the root logger (remove it with ``logging.getLogger().removeHandler``)."""
    counter = Counter(prefixes, skip)
    logging.getLogger().addHandler(counter)
    return counter


# ---- the simulator's side ------------------------------------------------------------------------


@dataclass
class Offender:
    """One raw connection pouring frames into the simulator; a thread drains its replies."""

    port: int
    sent: int = 0
    hangups: int = 0

    def pour(self, frames: Iterator[bytes]) -> None:
        """Send everything, reconnecting whenever the server hangs up."""
        client = self._open()
        batch: list[bytes] = []
        for data in frames:
            batch.append(data)
            if len(batch) < BATCH:
                continue
            client = self._send(client, batch)
            batch = []
        if batch:
            client = self._send(client, batch)
        assert client.answers(), "the last connection no longer answers"
        client.close()

    def _open(self) -> RawClient:
        client = RawClient(self.port, timeout=30).start()
        threading.Thread(target=_drain, args=(client.sock,), daemon=True).start()
        return client

    def _send(self, client: RawClient, batch: list[bytes]) -> RawClient:
        try:
            client.send_bytes(b"".join(batch))
            self.sent += len(batch)
            return client
        except OSError:  # hung up on: count it, come back
            self.hangups += 1
            client.close()
            return self._open()


def _drain(sock: socket.socket) -> None:
    """Read and drop what the server answers (a client that stops reading is cut off)."""
    while True:
        try:
            if not sock.recv(1 << 16):
                return
        except TimeoutError:
            continue
        except OSError:
            return


async def fuzz_sim(frames: int, seed: int = 1, connections: int = 4) -> dict[str, Any]:
    """Pour ``frames`` request frames into a simulator; what broke."""
    config = SimConfig(port=0, seed=seed, tick_interval=0.05, max_msg_rate=0)
    errors = counting("ibdesk.simtws")
    try:
        with SimThread(config) as sim:
            ib = shim.IB()
            await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=10)
            [es] = await shim.qualify(ib, shim.ContFuture("ES", exchange=""))
            stamps: list[float] = []
            ib.pendingTickersEvent += lambda _t: stamps.append(time.monotonic())
            ib.reqMktData(shim.Future(conId=es.conId, exchange="CME"))
            contract = contract_fields(sim)
            offenders = [Offender(sim.port) for _ in range(connections)]
            share = frames // connections
            started = time.monotonic()
            await asyncio.gather(
                *(
                    asyncio.to_thread(
                        o.pour, requests(seed * 100 + i, share, sorted(HANDLERS), contract)
                    )
                    for i, o in enumerate(offenders)
                )
            )
            seconds = time.monotonic() - started
            fresh = RawClient(sim.port).start().answers()
            bystander = (
                ib.isConnected()
                and await asyncio.wait_for(ib.reqCurrentTimeAsync(), 10) is not None
            )
            gaps = [
                b - a
                for a, b in zip([started, *stamps], [*stamps, time.monotonic()], strict=True)
                if a >= started
            ]
            ib.disconnect()
    finally:
        logging.getLogger().removeHandler(errors)
    return {
        "frames": sum(o.sent for o in offenders),
        "seconds": seconds,
        "exceptions": errors.count,
        "samples": errors.samples,
        "hangups": sum(o.hangups for o in offenders),
        "fresh_client_ok": fresh,
        "bystander_ok": bystander,
        "bystander_gap_s": max(gaps, default=float("nan")),
    }


# ---- the desk's side ---------------------------------------------------------------------------


def _working(desk: Desk, ref: str) -> bool:
    snap = desk.orders.get(ref)
    return snap is not None and snap.state is OrderState.WORKING


async def _ready(desk: Desk, sim: SimThread, proxy: WireProxy) -> tuple[Any, str, int]:
    """Connected, ES streaming, a working order far from the market; (ES, its ref, req id)."""
    await until(lambda: desk.link.status.state is LinkState.CONNECTED, 20, "the connection")
    es = await desk.resolver.resolve("ES")
    await desk.add_symbol("ES")
    sim.control.set_price(es.con_id, 6800.0)
    link = await asyncio.to_thread(proxy.link, DESK_ID)
    await until(lambda: es.con_id in link.market_req_ids, 20, "ES subscribed")
    intent = OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=6700.0)
    [ref] = desk.place(intent).refs
    await until(lambda: _working(desk, ref), 20, "the order working")
    return es, ref, link.market_req_ids[es.con_id]


async def _settled(check: Any, timeout: float) -> bool:
    """Whether ``check()`` came to hold within ``timeout`` (False, not an error, if not)."""
    try:
        await until(check, timeout, "")
    except RuntimeError:
        return False
    return True


async def fuzz_desk(frames: int, seed: int = 1, folder: Path | None = None) -> dict[str, Any]:
    """Feed ``frames`` hostile server frames to the headless desk; its lag and what broke."""
    # Made before the desk starts: a generator on its loop (or on a thread sharing its GIL)
    # would be measured as its lag. Request ids are aimed at the first few the client
    # library hands out, where the desk's market-data lines are.
    bursts = _bursts(replies(seed, frames, range(1, LIVE_REQ_IDS)), BATCH * 5)
    errors = counting(
        "ibdesk", "asyncio", "eventkit", skip=("ibdesk.broker.codes", "ibdesk.simtws")
    )
    decoder = counting(
        "ib_async.Decoder", "ib_insync.Decoder", "ib_async.wrapper", "ib_insync.wrapper"
    )
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _l, ctx: errors.samples.append(f"loop: {ctx.get('message')}"))
    with (
        tempfile.TemporaryDirectory(prefix="ibdesk-fuzz-") as tmp,
        SimThread(SimConfig(port=0, seed=seed, tick_interval=0.05)) as sim,
        WireProxy(sim.port) as proxy,
    ):
        connection = ConnectionSettings(host="127.0.0.1", port=proxy.port, client_id=DESK_ID)
        settings = Settings(
            connection=connection, risk=limits_off(RiskSettings(watchdog_halt_after=0))
        )
        desk = Desk(settings, (folder or Path(tmp)) / "journal.sqlite", watchlist=())
        desk.start()
        try:
            es, ref, req_id = await _ready(desk, sim, proxy)
            drops: list[bool] = []
            desk.session.disconnected += lambda: drops.append(True)
            probe = LoopLagProbe().start()
            started, fed = time.monotonic(), 0
            for burst, count in bursts:
                await asyncio.to_thread(proxy.send, DESK_ID, burst)
                await _round_trip(desk, es)
                fed += count
            seconds = time.monotonic() - started
            lags = probe.stop()
            answers = await _round_trip(desk, es)
            [again] = desk.place(
                OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=6701.0)
            ).refs
            trades = await _settled(lambda: _working(desk, again), 15)
            # A frame may have spoken for it; Unknown must not last (the desk asks the broker).
            await _settled(lambda: desk.orders.get(ref).state is not OrderState.UNKNOWN, 15)
            resting = desk.orders.get(ref).state.value
        finally:
            await desk.close()
            logging.getLogger().removeHandler(errors)
            logging.getLogger().removeHandler(decoder)
            loop.set_exception_handler(None)
    return {
        "frames": fed,
        "seconds": seconds,
        "lag_p99_ms": percentile(lags, 99) if lags else float("nan"),
        "lag_worst_ms": max(lags, default=float("nan")),
        "errors": errors.count + sum(s.startswith("loop:") for s in errors.samples),
        "samples": errors.samples,
        "decoder_complaints": decoder.count,
        "disconnects": len(drops),
        "answers_at_end": answers,
        "trades_at_end": trades,
        "resting_order": resting,
        "live_req_id_aimed_at": req_id < LIVE_REQ_IDS,
    }


def _bursts(frames: Iterator[bytes], size: int) -> list[tuple[bytes, int]]:
    """The frames joined in bursts of ``size`` (bytes, how many frames)."""
    out: list[tuple[bytes, int]] = []
    batch: list[bytes] = []
    for data in frames:
        batch.append(data)
        if len(batch) == size:
            out.append((b"".join(batch), len(batch)))
            batch = []
    if batch:
        out.append((b"".join(batch), len(batch)))
    return out


async def _round_trip(desk: Desk, es: Any, timeout: float = 120.0) -> bool:
    """A request answered after everything sent before it (TCP keeps the order), once the
    desk's inbound guard has decoded its backlog; False without an answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if desk.session.is_connected:
            try:
                ask = desk.session.ib.reqContractDetailsAsync(shim.Contract(conId=es.con_id))
                if await asyncio.wait_for(ask, 10):
                    while desk.session.inbound.waiting and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    return True
            except (TimeoutError, ConnectionError):
                pass
        await asyncio.sleep(0.1)
    return False


# ---- the command -------------------------------------------------------------------------------


def emit_sim(r: dict[str, Any]) -> None:
    emit(
        "fuzz_frames_sim",
        r["frames"],
        None,
        "1e6 frames, 0 exceptions, server up, bystander undisturbed",
        exceptions=r["exceptions"],
        hangups=r["hangups"],
        fresh_client_ok=r["fresh_client_ok"],
        bystander_ok=r["bystander_ok"],
        bystander_gap_s=round(r["bystander_gap_s"], 3),
        frames_per_s=round(r["frames"] / r["seconds"]),
        samples=r["samples"],
    )


def emit_desk(r: dict[str, Any]) -> None:
    emit(
        "fuzz_frames_desk",
        r["frames"],
        None,
        "1e6 frames, 0 errors, loop lag p99 <= 50 ms",
        errors=r["errors"],
        lag_p99_ms=round(r["lag_p99_ms"], 2),
        lag_worst_ms=round(r["lag_worst_ms"], 1),
        decoder_complaints=r["decoder_complaints"],
        disconnects=r["disconnects"],
        answers_at_end=r["answers_at_end"],
        trades_at_end=r["trades_at_end"],
        resting_order=r["resting_order"],
        live_req_id_aimed_at=r["live_req_id_aimed_at"],
        frames_per_s=round(r["frames"] / r["seconds"]),
        samples=r["samples"],
    )


def sim_ok(r: dict[str, Any]) -> bool:
    """The simulator's goals met."""
    return (
        not r["exceptions"]
        and r["fresh_client_ok"]
        and r["bystander_ok"]
        and r["bystander_gap_s"] < 1.0
    )


def desk_ok(r: dict[str, Any]) -> bool:
    """The desk's goals met."""
    return not r["errors"] and r["answers_at_end"] and r["trades_at_end"] and r["lag_p99_ms"] <= 50


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("side", choices=("sim", "desk", "both"))
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--write-docs", action="store_true", help="record the figures in docs/reliability.md"
    )
    a = parser.parse_args()
    # The counters on the root logger take the library's complaints (a traceback a frame):
    # with a handler there, nothing falls through to stderr.
    ok, figures = True, {}
    if a.side in ("sim", "both"):
        r = asyncio.run(fuzz_sim(a.frames, a.seed))
        emit_sim(r)
        ok &= sim_ok(r)
        figures.update(fuzz_frames_sim=r["frames"], fuzz_sim_exceptions=r["exceptions"])
    if a.side in ("desk", "both"):
        r = asyncio.run(fuzz_desk(a.frames, a.seed))
        emit_desk(r)
        ok &= desk_ok(r)
        figures.update(
            fuzz_frames_desk=r["frames"],
            fuzz_desk_errors=r["errors"],
            fuzz_desk_lag_ms_p99=r["lag_p99_ms"],
        )
    if a.write_docs:
        from benchmarks.reliability import record

        record(f"fuzz {a.side}", f"--frames {a.frames} --seed {a.seed}", figures)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
