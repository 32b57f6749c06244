"""The JSON-lines control port, over a real socket, as a test rig or script would use it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ibdesk.simtws import SimConfig, SimThread

pytestmark = pytest.mark.sim


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(port=0, control_port=0, seed=7, start_paused=True)


@pytest.fixture
def control(sim: SimThread) -> Iterator[Any]:
    assert sim.control_port
    with socket.create_connection(("127.0.0.1", sim.control_port), timeout=5) as sock:
        stream = sock.makefile("rwb")

        def call(line: bytes) -> dict[str, Any]:
            stream.write(line + b"\n")
            stream.flush()
            return json.loads(stream.readline())

        yield call


def test_an_operation_runs_and_answers_with_its_id(control: Any, sim: SimThread) -> None:
    reply = control(
        json.dumps({"op": "set_price", "args": {"symbol": "ES", "price": 6810.3}, "id": 7}).encode()
    )
    assert reply == {"id": 7, "ok": True, "result": 6810.25}  # put on the tick grid
    assert sim.control.quote("ES")["last"] == 6810.25


def test_bad_requests_get_an_error_and_the_port_stays_up(control: Any) -> None:
    unknown = control(b'{"op": "explode", "id": 1}')
    assert unknown["ok"] is False and "unknown op 'explode'" in unknown["error"]
    assert control(b"not json")["ok"] is False
    bad_args = control(b'{"op": "set_price", "args": {"symbol": "NOPE", "price": 1}, "id": 2}')
    assert bad_args["ok"] is False and "unknown symbol" in bad_args["error"]
    assert control(b'{"op": "status", "id": 3}')["result"]["paused"] is True


def test_state_read_back(control: Any, sim: SimThread) -> None:
    control(
        json.dumps(
            {
                "op": "enter_manual_order",
                "args": {
                    "symbol": "ES",
                    "action": "BUY",
                    "qty": 1,
                    "order_type": "LMT",
                    "price": 6700.0,
                },
            }
        ).encode()
    )
    orders = control(b'{"op": "orders", "args": {"open_only": true}}')["result"]
    assert [(o["action"], o["lmt_price"], o["manual"]) for o in orders] == [("BUY", 6700.0, True)]
