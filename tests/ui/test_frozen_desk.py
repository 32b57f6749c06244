"""The desk frozen inside one C call that holds the GIL, with the simulated TWS in a process of
its own (a simulator thread in this process would freeze too, and stamp every message late).

The measured case: ``QPlainTextEdit.appendPlainText`` of a 1 MiB line held the GIL for 30 s,
and no Python thread of the desk ran meanwhile. Here ``ctypes.PyDLL(None).usleep`` plays that
call (PyDLL keeps the GIL for the whole call). The watchdog's global cancel must reach the
simulator within threshold + 300 ms of the freeze while the desk is still frozen, and no order
may leave the desk once it wakes: neither the ones queued in the pacer nor one placed by the
frozen code on its way out.
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.common import SimProcess
from benchmarks.common import sim_process as start_sim_process
from ibdesk.broker.pacing import order_id_of
from ibdesk.config import ConnectionSettings, Settings, limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(sys.platform != "linux", reason="cross-process CLOCK_MONOTONIC, usleep"),
]

GLOBAL_CANCEL, PLACE_ORDER = 58, 3
DESK_ID, WATCHDOG_ID = 1, 101
FREEZE = 5.0

_LIBC = ctypes.PyDLL(None)


def hold_the_gil(seconds: float) -> None:
    """Block this thread inside one C call that never releases the GIL."""
    _LIBC.usleep(ctypes.c_uint(int(seconds * 1_000_000)))


@pytest.fixture
def sim_process() -> Iterator[SimProcess]:
    with start_sim_process("--paused") as running:
        yield running


def lmt(inst: Any, price: float, source: Source) -> OrderIntent:
    return OrderIntent(inst, Side.BUY, 1, OrderType.LIMIT, source, limit_price=price)


def received(sim: SimProcess, msg_id: int, client_id: int, since: float = 0.0) -> list[Any]:
    return list(sim.call("received", since=since, msg_id=msg_id, client_id=client_id))


async def frozen_desk(make_desk: MakeDesk, sim: SimProcess) -> tuple[Any, Any]:
    """A connected desk (limits off, watchdog at its default threshold) whose watchdog is
    connected too, and ES at 6800."""
    connection = ConnectionSettings(
        host="127.0.0.1", port=sim.port, client_id=DESK_ID, connect_timeout=5.0
    )
    desk = await make_desk(settings=Settings(connection=connection, risk=limits_off()))
    await wait_until(
        lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15, what="connected"
    )
    line = desk.safety.line
    assert line is not None
    await wait_until(line.connected.is_set, timeout=15, what="the watchdog connected")
    es = await desk.resolver.resolve("ES")
    sim.call("set_price", symbol=es.con_id, price=6800.0)
    return desk, es


async def test_a_desk_frozen_holding_the_gil_is_cancelled_out_of_band_and_sends_nothing_after(
    make_desk: MakeDesk, sim_process: SimProcess
) -> None:
    """~60 orders queued in the pacer, then the loop holds the GIL for 5 s and, on its way
    out, the frozen code places one more order: the watchdog's global cancel reaches the
    simulator within threshold + 300 ms of the freeze (while it lasts), the desk adopts the
    halt, and not one order message reaches the simulator after the freeze began."""
    assert abs(time.perf_counter() - time.monotonic()) < 0.05  # the clocks compared below
    desk, es = await frozen_desk(make_desk, sim_process)
    threshold = desk.settings.risk.watchdog_halt_after
    await wait_until(lambda: desk.router.pacer.queued == 0, what="an idle pacer")
    await asyncio.sleep(1.05)  # a fresh message budget: 40 go at once, the rest queue
    burst = [desk.place(lmt(es, 6600.0 - i * 0.25, Source("ticket"))).refs[0] for i in range(100)]
    queued_ids = {order_id_of(m) for m in desk.router.pacer.normal} - {0}
    assert len(queued_ids) >= 40, "the burst should be mostly queued behind the pacer"
    queued_refs = [r for r in burst if desk.orders.get(r).order_id in queued_ids]
    loop = asyncio.get_running_loop()
    frozen: list[float] = []
    late: list[Any] = []

    line = desk.safety.line
    assert line is not None
    beats: list[float] = []

    def stuck_strategy() -> None:
        beats.append(line.last_beat)  # time.monotonic(): one clock with perf_counter on Linux
        frozen.append(time.perf_counter())
        hold_the_gil(FREEZE)
        frozen.append(time.perf_counter())
        late.append(desk.place(lmt(es, 6500.0, Source("strategy", "stuck"))))

    loop.call_soon(stuck_strategy)
    await wait_until(lambda: len(frozen) == 2, timeout=FREEZE + 10, what="the freeze to end")
    start, _ = frozen
    [last_beat] = beats

    [fired] = [r["monotonic"] for r in received(sim_process, GLOBAL_CANCEL, WATCHDOG_ID)]
    print(
        f"\nGIL held {FREEZE:g} s: freeze to the watchdog's global cancel at the sim "
        f"{(fired - start) * 1000:.0f} ms, from the last beat {(fired - last_beat) * 1000:.0f} ms "
        f"(threshold {threshold:g} s)"
    )
    assert fired < start + FREEZE - 0.1, "the cancel went out only after the freeze"
    assert fired - last_beat >= threshold - 0.01  # not before the stall passed the threshold
    assert fired - start <= threshold + 0.3

    await wait_until(
        lambda: desk.switch.last_change.state is TradingState.HALTED, what="the halt adopted"
    )
    assert desk.switch.last_change.who == "watchdog"
    await wait_until(
        lambda: all(desk.orders.get(r).state is OrderState.NOT_SENT for r in queued_refs),
        what="the queued orders marked not sent",
    )
    [decision] = late
    for ref in decision.refs:  # accepted before the desk knew, then held and purged
        await wait_until(
            lambda ref=ref: desk.orders.get(ref).state is OrderState.NOT_SENT,
            what="the frozen code's order marked not sent",
        )
    assert desk.router.pacer.queued == 0
    after = received(sim_process, PLACE_ORDER, DESK_ID, since=start)
    assert after == [], f"{len(after)} order(s) reached the sim after the freeze began"
    reached = {int(r["fields"][1]) for r in received(sim_process, PLACE_ORDER, DESK_ID)}
    assert not reached & queued_ids
    assert desk.place(lmt(es, 6500.0, Source("ticket"))).check == "halted"
