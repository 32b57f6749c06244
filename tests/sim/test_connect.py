"""Connection, version negotiation and startup sync, at several server versions."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, wait_until

pytestmark = pytest.mark.sim


@pytest.fixture(params=[157, 166, 176])
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    return quick_sim(max_version=request.param)


async def test_connect_and_sync_at_each_version(connect: Connect, sim: SimThread) -> None:
    notices: list[int] = []
    ib = shim.IB()
    ib.errorEvent += lambda req_id, code, *_: notices.append(code)
    started = time.perf_counter()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=5, timeout=5)
    elapsed = time.perf_counter() - started
    try:
        assert ib.client.serverVersion() == sim.config.max_version
        assert ib.managedAccounts() == ["DU1234567"]
        # Startup sync answered every request: no request waited for its timeout.
        assert elapsed < 2.0
        await wait_until(lambda: {2104, 2106, 2158} <= set(notices), what="farm notices")
        assert ib.client.getReqId() >= 1
        assert sim.control.clients()[0]["client_id"] == 5
    finally:
        ib.disconnect()


async def test_duplicate_client_id_is_refused_with_326(connect: Connect, sim: SimThread) -> None:
    await connect(client_id=3)
    second = shim.IB()
    codes: list[int] = []
    second.errorEvent += lambda req_id, code, *_: codes.append(code)
    # Both libraries report a refused client id as a timeout (TWS_PROTOCOL.md §2).
    with pytest.raises((TimeoutError, asyncio.TimeoutError, ConnectionError)):
        await second.connectAsync("127.0.0.1", sim.port, clientId=3, timeout=1)
    assert 326 in codes
    second.disconnect()
    assert [c["client_id"] for c in sim.control.clients()] == [3]


async def test_several_clients_at_once(connect: Connect, sim: SimThread) -> None:
    clients = [await connect(client_id=i) for i in (1, 2, 3)]
    assert sorted(c["client_id"] for c in sim.control.clients()) == [1, 2, 3]
    times = await asyncio.gather(*(c.reqCurrentTimeAsync() for c in clients))
    assert all(abs(t.timestamp() - time.time()) < 5 for t in times)


def _raw_hello(port: int, version_text: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"API\0" + struct.pack(">I", len(version_text)) + version_text)
        data = b""
        try:
            while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        return data


def test_version_negotiation_announces_min_of_client_max_and_176(sim: SimThread) -> None:
    cap = sim.config.max_version
    for text, low, high in (
        (b"v157..178", 157, 178),
        (b"v157..176 +PACEAPI", 157, 176),
        (b"v100..200", 100, 200),
        (b"v166", 166, 166),
    ):
        reply = _raw_hello(sim.port, text)
        expected = min(high, 176, cap)
        if expected < max(low, 157):
            assert reply == b"", text  # no common version: TWS closes the socket
            continue
        fields = reply[4:].split(b"\0")
        assert fields[0] == str(expected).encode(), text
        assert len(fields) == 3 and fields[2] == b""  # exactly two fields


def test_too_old_client_is_closed(sim: SimThread) -> None:
    assert _raw_hello(sim.port, b"v100..150") == b""
