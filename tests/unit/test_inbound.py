"""The guard between the socket and the client library: linear framing, bounded work per
loop turn, a garbled stream noticed (issue 12, findings 6 and 7).

These feed bytes to a real (unconnected) library client through its Connection's events,
exactly where the socket's bytes arrive.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.broker.inbound import MAX_FRAME, InboundGuard
from tests.helpers import wait_until


def frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def ready_client() -> Any:
    """A library client as it is after the handshake (server version 176, API ready)."""
    client = shim.IB().client
    client._serverVersion = 176
    client.decoder.serverVersion = 176
    client._apiReady = True
    client.connState = client.CONNECTED
    return client


class Guarded:
    def __init__(self) -> None:
        self.client = ready_client()
        self.garbled: list[int] = []
        self.guard = InboundGuard(self.client, self.garbled.append)
        self.times: list[Any] = []
        self.client.wrapper.currentTime = self.times.append  # a message with no side effects

    def receive(self, data: bytes) -> float:
        """Hand bytes over as the socket would; returns the seconds the callback took."""
        started = time.perf_counter()
        self.client.conn.hasData.emit(data)
        return time.perf_counter() - started

    @property
    def decoded(self) -> int:
        return int(self.client._numMsgRecv)


async def test_frames_cut_anywhere_arrive_whole_and_in_order() -> None:
    g = Guarded()
    data = b"".join(frame(49, 1, 1_700_000_000 + i) for i in range(50))
    for i in range(0, len(data), 7):
        g.receive(data[i : i + 7])
    await wait_until(lambda: g.decoded == 50, what="50 frames")
    assert g.times == [1_700_000_000 + i for i in range(50)]
    assert g.guard.frames == 50
    assert g.guard.waiting == 0


async def test_a_burst_is_decoded_a_bounded_slice_per_loop_turn() -> None:
    g = Guarded()
    burst = frame(49, 1, 1_700_000_000) * 100_000  # 1.9 MB, ten reads' worth
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while g.decoded < 100_000:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.ensure_future(count_turns())
    took = g.receive(burst)
    await wait_until(lambda: g.decoded == 100_000, timeout=30, what="the whole burst")
    await counter
    assert took < 0.05, f"the socket callback took {took * 1000:.0f} ms"
    assert turns > 5, "the burst was decoded in one go"
    assert g.guard.frames == 100_000


async def test_an_absurd_length_prefix_is_a_garbled_stream() -> None:
    g = Guarded()
    g.receive(frame(49, 1, 1_700_000_000) + struct.pack(">I", 0x7FFFFFFF) + b"49\x001\x00")
    await wait_until(lambda: g.garbled, what="the garbled report")
    assert g.garbled == [0x7FFFFFFF]
    assert g.decoded == 1
    g.receive(frame(49, 1, 1_700_000_001))  # nothing more is read from a broken stream
    await asyncio.sleep(0.05)
    assert g.decoded == 1
    g.guard.reset()  # a new connection
    g.receive(frame(49, 1, 1_700_000_002))
    await wait_until(lambda: g.decoded == 2, what="a frame after the reset")


async def test_the_longest_legal_frame_is_not_garbled() -> None:
    g = Guarded()
    g.receive(struct.pack(">I", MAX_FRAME) + b"x" * 10)
    await asyncio.sleep(0.02)
    assert not g.garbled
    assert g.guard.waiting == 14  # waiting for the rest of it


async def test_a_megabyte_frame_in_small_reads_costs_linear_time(expected_faults: Any) -> None:
    expected_faults.allow_decoder_errors(1)
    g = Guarded()
    big = frame(46, 6, 1, 45, "9" * (1 << 20))  # a lastTimestamp of a million digits
    started = time.perf_counter()
    for i in range(0, len(big), 4096):
        g.receive(big[i : i + 4096])
    await wait_until(lambda: g.decoded == 1, what="the big frame")
    assert time.perf_counter() - started < 1.0
    assert g.guard.frames == 1


async def test_frames_already_here_are_decoded_before_a_disconnect() -> None:
    g = Guarded()
    g.receive(frame(49, 1, 1_700_000_000) * 20_000)  # more than one turn's worth
    assert g.decoded < 20_000
    g.client.conn.disconnected.emit("")  # the peer closed right after sending
    assert g.times and len(g.times) == 20_000
    assert g.guard.waiting == 0
