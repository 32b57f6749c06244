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
"""

from __future__ import annotations

import argparse
import asyncio
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


if __name__ == "__main__":
    main()
