"""Every fault the control interface can inject, seen by a real client."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until
from .test_orders import placed

pytestmark = pytest.mark.sim


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


def error_log(ib: Any) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: seen.append((req_id, code))
    return seen


async def ticks_during_steps(ib: Any, sim: SimThread, steps: int = 20) -> int:
    """How many ticker updates arrive while the market moves ``steps`` steps.

    The reqCurrentTime round trip is a barrier: the server answers after it has written
    every tick of those steps, and TCP keeps the order.
    """
    batches: list[int] = []

    def count(tickers: Any) -> None:
        batches.append(len(tickers))

    ib.pendingTickersEvent += count
    sim.control.step(steps)
    await ib.reqCurrentTimeAsync()
    ib.pendingTickersEvent -= count
    return sum(batches)


async def test_1100_stops_market_data_and_1102_resumes_it(ib: Any, es: Any, sim: SimThread) -> None:
    errors = error_log(ib)
    ticker = ib.reqMktData(es)
    await wait_until(lambda: ticker.bid > 0, what="first quote")
    assert await ticks_during_steps(ib, sim) > 0
    sim.control.inject_error(1100)
    await wait_until(lambda: (-1, 1100) in errors, what="1100")
    assert await ticks_during_steps(ib, sim) == 0
    sim.control.inject_error(1102)
    await wait_until(lambda: (-1, 1102) in errors, what="1102")
    assert await ticks_during_steps(ib, sim) > 0


async def test_1101_drops_every_subscription(ib: Any, es: Any, sim: SimThread) -> None:
    errors = error_log(ib)
    ticker = ib.reqMktData(es)
    await wait_until(lambda: ticker.bid > 0, what="first quote")
    assert sim.control.clients()[0]["market_lines"] == 1
    sim.control.inject_error(1101)
    await wait_until(lambda: (-1, 1101) in errors, what="1101")
    assert sim.control.clients()[0]["market_lines"] == 0
    assert await ticks_during_steps(ib, sim) == 0
    ib.cancelMktData(es)
    ib.reqMktData(es)
    await wait_until(lambda: sim.control.clients()[0]["market_lines"] == 1, what="resubscribed")
    assert await ticks_during_steps(ib, sim) > 0


async def test_farm_blip_2103_then_2104(ib: Any, es: Any, sim: SimThread) -> None:
    errors = error_log(ib)
    ticker = ib.reqMktData(es)
    await wait_until(lambda: ticker.bid > 0, what="first quote")
    sim.control.inject_error(2103)
    await wait_until(lambda: (-1, 2103) in errors, what="2103")
    assert await ticks_during_steps(ib, sim) == 0
    sim.control.inject_error(2104)
    await wait_until(lambda: (-1, 2104) in errors, what="2104")
    assert await ticks_during_steps(ib, sim) > 0


async def test_10197_is_reported_per_market_data_request(ib: Any, es: Any, sim: SimThread) -> None:
    errors = error_log(ib)
    ticker = ib.reqMktData(es)
    await wait_until(lambda: ticker.bid > 0, what="first quote")
    sim.control.inject_error(10197)
    await wait_until(lambda: any(code == 10197 for _, code in errors), what="10197")
    [(rid, _)] = [e for e in errors if e[1] == 10197]
    assert rid > 0  # reported against the market-data request, not as a system notice
    assert await ticks_during_steps(ib, sim) == 0
    sim.control.competing_session(False)
    assert await ticks_during_steps(ib, sim) > 0


async def test_drop_clients_disconnects_everyone(connect: Connect, sim: SimThread) -> None:
    clients = [await connect(client_id=i) for i in (1, 2)]
    gone: list[int] = []
    for i, c in enumerate(clients):
        c.disconnectedEvent += lambda i=i: gone.append(i)
    assert sim.control.drop_clients() == 2
    await wait_until(lambda: sorted(gone) == [0, 1], what="both disconnected")
    assert not any(c.isConnected() for c in clients)


async def test_restart_keeps_state_refuses_meanwhile_and_can_roll_back_ids(
    connect: Connect, ib: Any, es: Any, sim: SimThread
) -> None:
    working = await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0))
    await placed(ib, es, shim.MarketOrder("BUY", 2), "Filled")
    used = working.order.orderId + 1
    gone: list[bool] = []
    ib.disconnectedEvent += lambda: gone.append(True)
    sim.control.restart(down_seconds=0.5, roll_back_ids=used)
    await wait_until(lambda: gone, what="disconnect on restart")
    with pytest.raises((ConnectionRefusedError, OSError)):
        await asyncio.open_connection("127.0.0.1", sim.port)
    deadline = time.monotonic() + 5
    back = None
    while back is None:
        try:
            back = await connect(client_id=1, timeout=2)
        except (ConnectionRefusedError, OSError, TimeoutError):
            assert time.monotonic() < deadline, "the port did not reopen"
            await asyncio.sleep(0.05)
    assert [p.position for p in back.positions()] == [2]
    open_ids = [t.order.permId for t in back.openTrades()]
    assert open_ids == [working.order.permId]
    back.disconnect()
    await wait_until(lambda: not sim.control.clients(), what="client 1 gone")
    # nextValidId was rolled back below ids already used: a client that trusts it reuses ids.
    assert raw_next_valid_id(sim.port, client_id=1) < used


def raw_next_valid_id(port: int, client_id: int) -> int:
    """Handshake on a raw socket and return the nextValidId the server announces."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        hello = b"v157..176"
        sock.sendall(b"API\0" + struct.pack(">I", len(hello)) + hello)
        start = f"71\0{2}\0{client_id}\0\0".encode()
        sock.sendall(struct.pack(">I", len(start)) + start)
        buf = b""
        while True:
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                size = struct.unpack(">I", buf[:4])[0]
                fields = buf[4 : 4 + size].split(b"\0")
                buf = buf[4 + size :]
                if fields[0] == b"9":
                    return int(fields[2])
            chunk = sock.recv(4096)
            assert chunk, "server closed before nextValidId"
            buf += chunk


async def test_stall_holds_replies(ib: Any, sim: SimThread) -> None:
    sim.control.stall(300)
    started = time.perf_counter()
    await ib.reqCurrentTimeAsync()
    assert time.perf_counter() - started >= 0.29


async def test_sliced_frames_still_decode(ib: Any, sim: SimThread) -> None:
    sim.control.slice_frames(3)
    details = await ib.reqContractDetailsAsync(shim.Future("CL", exchange="NYMEX"))
    assert len(details) == 12
    sim.control.clear_faults()


async def test_corrupted_field_is_rejected_by_the_client_which_carries_on(
    ib: Any, sim: SimThread, expected_faults: Any
) -> None:
    expected_faults.allow_decoder_errors(1)
    sim.control.corrupt_frames(1, "field")
    ib.client.reqCurrentTime()  # its reply is the corrupted frame: dropped by the decoder
    assert (await ib.reqCurrentTimeAsync()).year >= 2024


async def test_corrupted_length_breaks_the_stream(ib: Any, sim: SimThread) -> None:
    sim.control.corrupt_frames(1, "length")
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), timeout=0.5)


async def test_message_rate_over_50_per_second_gets_error_100(ib: Any) -> None:
    errors = error_log(ib)
    ib.client.MaxRequests = 0  # switch the client's own throttle off to exceed the limit
    for _ in range(60):
        ib.client.reqCurrentTime()
    await wait_until(lambda: (-1, 100) in errors, what="error 100")
