"""The fault kinds the chaos runner needs: latency with jitter, order reports sent twice or
late, partial fills, rejects, and a restart that loses the working orders.

The byte-level faults are checked on the frames themselves (a recording session, no socket),
the order-level ones end to end through a real client.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.simtws.faults import Faults, is_order_report
from ibdesk.simtws.outbound import pack
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until
from .test_orders import placed

pytestmark = pytest.mark.sim


@dataclass(eq=False)  # hashable by identity, as a real session
class Recorder:
    """A session that records what reaches its socket, and when."""

    closed: bool = False
    frames: list[tuple[float, bytes]] = field(default_factory=list)

    def raw_write(self, data: bytes) -> None:
        self.frames.append((time.monotonic(), data))

    def check_queue(self) -> None:
        pass

    def sent(self) -> list[bytes]:
        return [data for _, data in self.frames]


STATUS = pack(["3", "7", "Submitted"])
EXEC = pack(["11", "-1", "7"])
TICK = pack(["1", "6", "5", "1", "6800.0"])


def test_order_reports_are_told_apart_by_message_id() -> None:
    assert is_order_report(STATUS) and is_order_report(EXEC)
    assert not is_order_report(TICK) and not is_order_report(pack(["31", "1"]))


async def test_duplicate_reports_sends_the_next_reports_twice_and_nothing_else() -> None:
    faults, session = Faults(asyncio.get_running_loop()), Recorder()
    faults.duplicate_reports = 2
    for data in (TICK, STATUS, TICK, EXEC, STATUS):
        faults.write(session, data)  # type: ignore[arg-type]
    assert session.sent() == [TICK, STATUS, STATUS, TICK, EXEC, EXEC, STATUS]


async def test_a_late_report_is_overtaken_by_the_frames_after_it() -> None:
    faults, session = Faults(asyncio.get_running_loop()), Recorder()
    faults.late_reports, faults.late_ms = 1, 50
    for data in (STATUS, TICK, EXEC):
        faults.write(session, data)  # type: ignore[arg-type]
    assert session.sent() == [TICK, EXEC]
    await wait_until(lambda: len(session.frames) == 3, what="the late report")
    assert session.sent()[-1] == STATUS


async def test_latency_with_jitter_delays_every_frame_and_keeps_their_order() -> None:
    faults, session = Faults(asyncio.get_running_loop()), Recorder()
    faults.latency_ms, faults.jitter_ms = 30, 40
    faults.rng.seed(5)
    frames = [pack(["1", str(i)]) for i in range(30)]
    started = time.monotonic()
    for data in frames:
        faults.write(session, data)  # type: ignore[arg-type]
    assert session.frames == []
    assert faults.held(session) == sum(map(len, frames))  # type: ignore[arg-type]
    await wait_until(lambda: len(session.frames) == 30, what="every delayed frame")
    assert session.sent() == frames
    assert session.frames[0][0] - started >= 0.029
    assert faults.held(session) == 0  # type: ignore[arg-type]


async def test_clear_faults_stops_latency_and_report_faults() -> None:
    faults, session = Faults(asyncio.get_running_loop()), Recorder()
    faults.latency_ms, faults.duplicate_reports, faults.late_reports = 50, 3, 3
    faults.clear()
    faults.write(session, STATUS)  # type: ignore[arg-type]
    assert session.sent() == [STATUS]


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


async def test_reject_orders_refuses_the_next_order_with_201_then_accepts(
    ib: Any, es: Any, sim: SimThread
) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda _req, code, *_: errors.append(code)
    sim.control.reject_orders(1)
    refused = await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0), "Cancelled")
    assert 201 in errors
    assert [o["status"] for o in sim.control.orders()] == ["Cancelled"]
    await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0))
    assert refused.order.orderId not in [o.orderId for o in ib.openOrders()]


async def test_partial_fills_fill_in_pieces_of_the_size_shown(
    ib: Any, es: Any, sim: SimThread
) -> None:
    sim.control.partial_fills(True)
    shown = sim.control.quote(es.conId)["ask_size"]
    trade = ib.placeOrder(es, shim.MarketOrder("BUY", shown + 3))
    await wait_until(lambda: trade.fills, what="a first fill")
    assert trade.fills[0].execution.shares == shown
    sim.control.step(5)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="the rest filled")
    assert len(trade.fills) >= 2


async def test_restart_without_orders_cancels_the_working_ones_and_keeps_positions(
    connect: Connect, ib: Any, es: Any, sim: SimThread
) -> None:
    await placed(ib, es, shim.LimitOrder("BUY", 1, 6790.0))
    await placed(ib, es, shim.MarketOrder("BUY", 2), "Filled")
    gone: list[bool] = []
    ib.disconnectedEvent += lambda: gone.append(True)
    sim.control.restart(down_seconds=0.2, keep_orders=False)
    await wait_until(lambda: gone, what="disconnect on restart")
    await wait_until(lambda: not sim.control.status()["restarting"], what="port open again")
    back = await connect(client_id=1)
    assert back.openTrades() == []
    assert [p.position for p in back.positions()] == [2]
    assert len(sim.control.executions()) == 1


async def test_a_closed_session_never_takes_the_held_bytes_of_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found reading the faults while chasing a chaos seed: bytes held for a session were
    filed under ``id(session)``, and CPython gives a new object the id of a freed one. The
    old session's last drain then dropped the new session's lane, and its next frames went
    out through a second lane, interleaved with the first: a broken stream. Here two live
    sessions share an id on purpose (the module's ``id`` made constant)."""
    from ibdesk.simtws import faults as faults_module

    monkeypatch.setattr(faults_module, "id", lambda _obj: 1, raising=False)
    faults = Faults(asyncio.get_running_loop())
    faults.slice_bytes = 2
    old, new = Recorder(), Recorder()
    faults.write(old, STATUS)  # type: ignore[arg-type]
    old.closed = True  # dropped, with bytes still held
    faults.write(new, TICK)  # type: ignore[arg-type]
    faults.write(new, EXEC)  # type: ignore[arg-type]
    await wait_until(lambda: b"".join(new.sent()) == TICK + EXEC, what="the new session's frames")
    assert old.sent() == []  # closed before its first slice was due
