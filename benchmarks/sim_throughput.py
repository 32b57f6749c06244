"""How fast the simulated TWS feeds one real client, and how fast a client connects.

``python -m benchmarks.sim_throughput``

* ``sim_stream_msgs_per_s``: market-data messages one ib_async client decodes per second
  from the simulator (running in its own process, as TWS would) when the simulator offers
  far more than the client can take. Baseline: the same client decoding the same bytes
  replayed from memory, i.e. the client's own ceiling; the ratio says how much of that
  ceiling the simulator delivers. Goal: at least 100,000 messages/s, so the simulator is
  never the bottleneck of other benchmarks.
* ``sim_connect_sync_ms``: ``connectAsync`` (handshake plus the full startup sync) until it
  returns, median of 20. Baseline: the bare handshake (TCP connect, version exchange,
  startApi until nextValidId) on a raw socket. Goal: at most 50 ms.
* ``sim_clients50_msgs_per_s``: 50 clients, each streaming 10 stocks (500 market-data
  lines), the market offering far more than the simulator can send: messages delivered to
  all of them together per second. The clients are raw sockets that only count frames, so
  the figure is the simulator's, not a client library's. Also reported: the longest time
  any one client waited between two deliveries (goal: none starved over 250 ms) and the
  slowest client's share. Baseline: one such client alone. Goal: at least 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import struct
import time
from typing import Any

from benchmarks.common import emit, median, sim_process
from ibdesk.broker import ib as shim

SYMBOLS = ("ES", "MES", "NQ", "MNQ", "CL", "MCL", "GC", "MGC")
STOCKS = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY", "QQQ")


async def subscribe_many(ib: Any) -> list[Any]:
    """Every listed future of every root and every stock: about 60 market-data lines."""
    contracts = []
    for root in SYMBOLS:
        details = await ib.reqContractDetailsAsync(shim.Future(root))
        contracts += [d.contract for d in details]
    for sym in STOCKS:
        [stock] = await shim.qualify(ib, shim.Stock(sym, "SMART", "USD"))
        contracts.append(stock)
    return [ib.reqMktData(c) for c in contracts[:95]]


async def stream_rate(port: int, seconds: float) -> tuple[float, float]:
    """Live decode rate over a socket, then the same bytes replayed from memory."""
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
    client = ib.client
    await subscribe_many(ib)
    await asyncio.sleep(1.0)  # warm up: every line has sent its first snapshot
    # Record what arrives, starting with any partial frame already buffered, so that the
    # replay below starts on a frame boundary.
    captured: list[bytes] = [bytes(client._data)]
    live = client._onSocketHasData

    def recording(data: bytes) -> None:
        captured.append(data)
        live(data)

    client.conn.hasData.clear()
    client.conn.hasData += recording
    start_msgs, started = client._numMsgRecv, time.perf_counter()
    await asyncio.sleep(seconds)
    delivered = (client._numMsgRecv - start_msgs) / (time.perf_counter() - started)
    client.conn.hasData.clear()
    client.conn.hasData += live
    # Replay what arrived, in the same chunks, through the same client code path.
    tail, client._data = client._data, b""
    before, t0 = client._numMsgRecv, time.perf_counter()
    for chunk in captured:
        live(chunk)
    ceiling = (client._numMsgRecv - before) / (time.perf_counter() - t0)
    client._data = tail
    ib.disconnect()
    return delivered, ceiling


async def connect_times(port: int, runs: int) -> list[float]:
    """Milliseconds for connectAsync (handshake + startup sync), ``runs`` times."""
    out = []
    for i in range(runs):
        ib = shim.IB()
        t0 = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=100 + i, timeout=10)
        out.append((time.perf_counter() - t0) * 1000)
        ib.disconnect()
    return out


def handshake_ms(port: int, client_id: int) -> float:
    """Milliseconds for a bare handshake on a raw socket, until nextValidId arrives."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = b"v157..176"
        sock.sendall(b"API\0" + struct.pack(">I", len(hello)) + hello)
        start = f"71\x002\x00{client_id}\x00\x00".encode()
        sent = False
        buf = b""
        while True:
            buf += sock.recv(65536)
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                size = struct.unpack(">I", buf[:4])[0]
                fields = buf[4 : 4 + size].split(b"\0")
                buf = buf[4 + size :]
                if not sent:
                    sock.sendall(struct.pack(">I", len(start)) + start)
                    sent = True
                elif fields[0] == b"9":
                    return (time.perf_counter() - t0) * 1000


class FrameCounter(asyncio.Protocol):
    """A raw TWS API client that handshakes, subscribes, then only counts frames and notes
    when data arrived (to find the longest wait)."""

    def __init__(self, client_id: int, symbols: list[str]) -> None:
        self.client_id = client_id
        self.symbols = symbols
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.started = False
        self.ready = asyncio.get_running_loop().create_future()
        self.frames = 0
        self.arrivals: list[float] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        hello = b"v157..176"
        transport.write(b"API\0" + struct.pack(">I", len(hello)) + hello)

    def _send(self, *fields: str) -> None:
        assert self.transport is not None
        payload = "".join(f + "\0" for f in fields).encode()
        self.transport.write(struct.pack(">I", len(payload)) + payload)

    def data_received(self, data: bytes) -> None:
        self.arrivals.append(time.perf_counter())
        buf = self.buf
        buf += data
        pos, end, count = 0, len(buf), 0
        while end - pos >= 4:
            (size,) = struct.unpack_from(">I", buf, pos)
            if end - pos - 4 < size:
                break
            if not self.started:
                first = bytes(buf[pos + 4 : pos + 4 + size]).split(b"\0", 1)[0]
                self._on_startup(first)
            pos += 4 + size
            count += 1
        del buf[:pos]
        self.frames += count

    def _on_startup(self, msg_id: bytes) -> None:
        if msg_id.isdigit() and int(msg_id) >= 100:  # the server version: the handshake reply
            self._send("71", "2", str(self.client_id), "")
        elif msg_id == b"9":  # nextValidId: the API has started
            self.started = True
            for n, symbol in enumerate(self.symbols):
                contract = ["0", symbol, "STK", "", "0", "", "", "SMART", "", "USD", "", ""]
                self._send("1", "11", str(n + 1), *contract, "0", "", "0", "0", "")
            self.ready.set_result(None)


async def many_clients(
    port: int, stocks: list[str], clients: int, seconds: float
) -> dict[str, float]:
    """``clients`` frame counters, 10 stocks each; aggregate rate and the longest wait."""
    loop = asyncio.get_running_loop()
    counters = []
    for k in range(clients):
        chosen = [stocks[(7 * k + j) % len(stocks)] for j in range(10)]
        counter = FrameCounter(200 + k, chosen)
        await loop.create_connection(lambda c=counter: c, "127.0.0.1", port)  # type: ignore[misc]
        counters.append(counter)
    await asyncio.wait_for(asyncio.gather(*(c.ready for c in counters)), 30)
    await asyncio.sleep(1.0)  # every line has sent its first snapshot
    before = [c.frames for c in counters]
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    t1 = time.perf_counter()
    got = [c.frames - b for c, b in zip(counters, before, strict=True)]
    gaps = []
    for c in counters:
        inside = [t for t in c.arrivals if t0 <= t <= t1]
        edges = [t0, *inside, t1]
        gaps.append(max(b - a for a, b in itertools.pairwise(edges)))
    for c in counters:
        assert c.transport is not None
        c.transport.close()
    return {
        "rate": sum(got) / (t1 - t0),
        "max_gap_ms": max(gaps) * 1000,
        "slowest_share": min(got) / (sum(got) / len(got)) if sum(got) else 0.0,
    }


def main() -> None:
    """Run both measurements and print their metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    # 1 ms updates of 5 steps each: ~60 lines x ~3 messages x 5000 steps/s offered.
    with sim_process(
        "--tick-interval-ms", "1", "--steps-per-tick", "5", "--no-pacing", "--max-msg-rate", "0"
    ) as sim:
        delivered, ceiling = asyncio.run(stream_rate(sim.port, args.seconds))
    emit("sim_stream_msgs_per_s", delivered, ceiling, ">= 100000")
    with sim_process("--no-pacing", "--max-msg-rate", "0") as sim:
        times = asyncio.run(connect_times(sim.port, 20))
        bare = [handshake_ms(sim.port, 500 + i) for i in range(20)]
    emit("sim_connect_sync_ms", median(times), median(bare), "<= 50")
    flags = (
        *("--tick-interval-ms", "1", "--steps-per-tick", "5", "--no-pacing"),
        *("--max-msg-rate", "0", "--market-data-lines", "1000"),
    )
    with sim_process(*flags) as sim:
        stocks = [s for s in sim.call("stocks") if "." not in s]
        alone = asyncio.run(many_clients(sim.port, stocks, 1, args.seconds))
    with sim_process(*flags) as sim:
        crowd = asyncio.run(many_clients(sim.port, stocks, 50, args.seconds))
    emit(
        "sim_clients50_msgs_per_s",
        crowd["rate"],
        alone["rate"],
        ">= 100000, no client starved > 250 ms",
        max_gap_ms=round(crowd["max_gap_ms"], 1),
        slowest_client_share=round(crowd["slowest_share"], 3),
        clients=50,
        lines_per_client=10,
    )


if __name__ == "__main__":
    main()
