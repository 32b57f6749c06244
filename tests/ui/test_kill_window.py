"""The kill paths that do not need the desk's loop: the watchdog while that loop is frozen
(here by a sleep; by a call that holds the GIL in test_frozen_desk.py),
``ibdesk kill`` halting a running desk, and the separate kill window.

Each runs against the simulated TWS with a second raw client holding orders (and, for the
flattens, positions), on the qasync loop of tests/ui. Arrival times at the simulator come from
``sim.control.received``, whose ``monotonic`` field is ``time.perf_counter()`` taken on the
simulator's thread (one clock with the test's ``time.perf_counter()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PySide6.QtCore import Qt

from ibdesk.broker import ib as shim
from ibdesk.broker.emergency import StandbyKill
from ibdesk.broker.pacing import order_id_of
from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from ibdesk.ui.kill_window import KillWindow
from tests.helpers import Connect, private_env, quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

GLOBAL_CANCEL, PLACE_ORDER = 58, 3
DESK_ID, WATCHDOG_ID, CLI_ID, WINDOW_ID = 1, 101, 102, 103
STRATEGY = Source("strategy", "stuck")
TICKET = Source("ticket")


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(
        start_paused=True,
        positions=(("ES", 2.0), ("AAPL", -100.0)),
    )


async def run_to_end(
    args: list[str], home: Path, timeout: float = 90
) -> tuple[int, str, str, float]:
    """Run ``python -m ibdesk ARGS`` while this loop keeps turning; (exit code, stdout,
    stderr, perf_counter time it was seen finished). Always reaped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibdesk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_env(home),
    )
    try:
        await wait_until(lambda: proc.poll() is not None, timeout=timeout, what=f"{args} exits")
        finished = time.perf_counter()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    return proc.returncode, out, err, finished


async def es_future(ib: Any, sim: SimThread) -> Any:
    """The ES front month, qualified, at 6800 (the market is paused)."""
    [cont] = await shim.qualify(ib, shim.ContFuture("ES", exchange=""))
    assert cont is not None
    [fut] = await shim.qualify(ib, shim.Future(conId=cont.conId))
    assert fut is not None
    sim.control.set_price(fut.conId, 6800.0)
    return fut


async def raw_orders(connect: Connect, sim: SimThread, client_id: int = 9) -> list[int]:
    """A raw client leaves two resting ES orders; their perm ids at the sim."""
    ib = await connect(client_id)
    es = await es_future(ib, sim)
    ib.placeOrder(es, shim.LimitOrder("BUY", 1, 6700.0))
    ib.placeOrder(es, shim.LimitOrder("SELL", 1, 6900.0))
    await wait_until(lambda: len(open_of(sim, client_id)) == 2, timeout=10, what="raw orders")
    return [o["perm_id"] for o in open_of(sim, client_id)]


def open_of(sim: SimThread, client_id: int) -> list[dict[str, Any]]:
    return [o for o in sim.control.orders(open_only=True) if o["client_id"] == client_id]


def global_cancels(sim: SimThread, client_id: int, since: float = 0.0) -> list[float]:
    return [
        r["monotonic"]
        for r in sim.control.received(since=since, msg_id=GLOBAL_CANCEL, client_id=client_id)
    ]


def lmt(inst: Any, price: float, source: Source = TICKET) -> OrderIntent:
    return OrderIntent(inst, Side.BUY, 1, OrderType.LIMIT, source, limit_price=price)


def state(desk: Any, ref: str) -> OrderState | None:
    snap = desk.orders.get(ref)
    return snap.state if snap is not None else None


async def ready_desk(make_desk: MakeDesk, sim: SimThread) -> tuple[Any, Any]:
    """A connected desk (client 1, limits off, watchdog at its default 1.5 s) whose
    watchdog line is connected too, and ES at 6800."""
    desk = await make_desk(risk=limits_off())
    await wait_until(
        lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15, what="connected"
    )
    line = desk.safety.line
    assert line is not None
    await wait_until(line.connected.is_set, timeout=15, what="the watchdog connected")
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    return desk, es


async def running_strategy(desk: Any, folder: Path, name: str) -> None:
    """Load and start a strategy that does nothing by itself (the test places its orders)."""
    path = folder / f"{name}.py"
    path.write_text(
        "from ibdesk.strategies import Strategy\n\n"
        f"class Quiet(Strategy):\n    name = {name!r}\n    instruments = ('ES',)\n"
    )
    desk.strategies.load(path)
    await desk.strategies.start(name)


# ---- the watchdog while the desk's loop is frozen -----------------------------------------------


async def test_a_frozen_loop_is_halted_out_of_band_and_queued_orders_never_leave(
    make_desk: MakeDesk, connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """A strategy blocks the desk's loop for 5 s with ~100 orders queued in the pacer: the
    watchdog's global cancel reaches the sim within threshold + 300 ms of the block, every
    order of every client is cancelled, neither the queued orders nor the one the strategy
    places on waking reach the sim (the desk's own stall check holds them at the pacer and
    halts at once), the desk wakes HALTED with a banner saying why, and its next order is
    denied."""
    assert abs(time.perf_counter() - time.monotonic()) < 0.05  # the clocks compared below
    desk, es = await ready_desk(make_desk, sim)
    await running_strategy(desk, tmp_path, STRATEGY.name)  # the gate sends only a running one's
    threshold = desk.settings.risk.watchdog_halt_after
    theirs = await raw_orders(connect, sim)
    mine = [desk.place(lmt(es, 6700.0 - i * 0.25)).refs[0] for i in range(3)]
    await wait_until(
        lambda: all(state(desk, r) is OrderState.WORKING for r in mine), what="desk orders working"
    )
    await wait_until(lambda: desk.router.pacer.queued == 0, what="an idle pacer")
    burst = [desk.place(lmt(es, 6600.0 - i * 0.25)).refs[0] for i in range(100)]
    queued_ids = {order_id_of(m) for m in desk.router.pacer.normal} - {0}
    assert len(queued_ids) >= 40, "the burst should be mostly queued behind the pacer"
    queued_refs = [r for r in burst if desk.orders.get(r).order_id in queued_ids]

    line = desk.safety.line
    assert line is not None
    last_beat = line.last_beat  # time.monotonic(): one clock with perf_counter on Linux
    block_start = time.perf_counter()
    time.sleep(5.0)  # the stuck strategy: nothing on this loop runs for 5 s
    woke = time.perf_counter()
    late = desk.place(lmt(es, 6500.0, STRATEGY))  # the strategy's next move, before any await

    # The gate had no way to know yet; the pacer asked the desk's stall check before writing
    # the order, which held it and latched the gate and the pacer.
    assert late.accepted and desk.router.pacer.hold_orders
    assert desk.gate.state is TradingState.HALTED
    [fired] = global_cancels(sim, WATCHDOG_ID)
    stall_to_cancel = fired - block_start
    print(
        f"\nstall to out-of-band cancel at the sim: {stall_to_cancel * 1000:.0f} ms "
        f"(last beat to cancel {(fired - last_beat) * 1000:.0f} ms, threshold {threshold:g} s)"
    )
    assert block_start < fired < woke  # it went out while the loop was frozen
    assert fired - last_beat >= threshold - 0.01  # not before the stall passed the threshold
    assert stall_to_cancel <= threshold + 0.3

    await wait_until(
        lambda: desk.switch.last_change.state is TradingState.HALTED, what="the halt adopted"
    )
    assert desk.switch.last_change.who == "watchdog"
    await wait_until(
        lambda: any("watchdog" in t and "stalled" in t for t in desk.window.banners.texts()),
        what="a banner saying why",
    )
    await wait_until(
        lambda: sim.control.orders(open_only=True) == [], timeout=10, what="nothing working"
    )
    statuses = {o["perm_id"]: o["status"] for o in sim.control.orders()}
    assert all(statuses[p] == "Cancelled" for p in theirs)
    await wait_until(
        lambda: all(state(desk, r) is OrderState.NOT_SENT for r in [*queued_refs, *late.refs]),
        what="the queued orders and the late one marked not sent",
    )
    assert desk.router.pacer.queued == 0  # nothing is left that could still go out
    placed = sim.control.received(msg_id=PLACE_ORDER, client_id=DESK_ID)
    reached = {int(r["fields"][1]) for r in placed}
    assert not reached & queued_ids, "orders queued before the stall reached the sim"
    assert all(r["monotonic"] < block_start for r in placed)  # none left after the block
    assert desk.place(lmt(es, 6500.0, STRATEGY)).check == "halted"


# ---- ``ibdesk kill`` halting a running desk ---------------------------------------------------


async def test_ibdesk_kill_halts_a_running_desk_within_a_second_and_a_half(
    make_desk: MakeDesk, connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """`ibdesk kill` in another process cancels every client's orders and latches HALTED
    in the desk's journal; the running desk adopts it within 1.5 s of the command
    finishing, shows a banner naming it, and denies new orders."""
    desk, es = await ready_desk(make_desk, sim)
    theirs = await raw_orders(connect, sim)
    [mine] = desk.place(lmt(es, 6700.0)).refs
    await wait_until(lambda: state(desk, mine) is OrderState.WORKING, what="desk order working")
    assert desk.gate.state is TradingState.ACTIVE

    code, out, err, finished = await run_to_end(
        ["kill", "--port", str(sim.port), "--journal", str(desk.journal_path)], tmp_path
    )
    assert code == 0, out + err[-3000:]
    assert "Cancelled 3 working order(s):" in out and "verified at" in out
    await wait_until(
        lambda: desk.gate.state is TradingState.HALTED,
        timeout=max(0.1, finished + 1.5 - time.perf_counter()),
        what="the desk HALTED within 1.5 s of `ibdesk kill` finishing",
    )
    print(f"\ndesk halted {max(0.0, time.perf_counter() - finished) * 1000:.0f} ms after the CLI")
    assert desk.switch.last_change.who == "ibdesk kill (cli)"
    await wait_until(
        lambda: any("HALTED by ibdesk kill" in t for t in desk.window.banners.texts()),
        what="a banner naming `ibdesk kill`",
    )
    assert global_cancels(sim, CLI_ID)
    await wait_until(
        lambda: state(desk, mine) is OrderState.CANCELLED, timeout=10, what="desk order cancelled"
    )
    statuses = {o["perm_id"]: o["status"] for o in sim.control.orders()}
    assert all(statuses[p] == "Cancelled" for p in theirs)
    assert sim.control.orders(open_only=True) == []
    assert desk.place(lmt(es, 6690.0)).check == "halted"


# ---- the kill window ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def standby(sim: SimThread, tmp_path: Path) -> AsyncIterator[StandbyKill]:
    """A StandbyKill for the window's client id (not connected until a test starts it)."""
    kill = StandbyKill("127.0.0.1", sim.port, WINDOW_ID, tmp_path / "journal.sqlite")
    yield kill
    kill.stop()


async def keep(standby: StandbyKill) -> asyncio.Future[None]:
    keeper = asyncio.ensure_future(standby.keep_connected())
    await wait_until(lambda: standby.connected, timeout=15, what="the standby connection")
    return keeper


async def stop_keeping(keeper: asyncio.Future[None]) -> None:
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper


def window_for(qtbot: Any, standby: StandbyKill) -> KillWindow:
    window = KillWindow(
        f"127.0.0.1:{standby.port} as client {standby.client_id}",
        standby.kill,
        lambda: standby.connected,
    )
    qtbot.addWidget(window)
    window.show()
    return window


def buttons_enabled(window: KillWindow) -> bool:
    return window.kill_button.isEnabled() and window.flatten_button.isEnabled()


def journal_state(path: Path) -> Any:
    journal = Journal(path)
    try:
        return latch.read(journal, "DU1234567")
    finally:
        journal.close()


async def test_kill_window_kill_then_flatten_against_the_sim(
    connect: Connect, sim: SimThread, standby: StandbyKill, qtbot: Any, tmp_path: Path
) -> None:
    """The real window on a standing connection: KILL cancels every order of every client
    and shows the verified summary, buttons come back; FLATTEN ALL closes every position."""
    keeper = await keep(standby)
    try:
        window = window_for(qtbot, standby)
        await wait_until(
            lambda: "not connected" not in window.link.text() and "connected" in window.link.text(),
            what="the window shows the connection up",
        )
        theirs = await raw_orders(connect, sim, 7) + await raw_orders(connect, sim, 8)

        qtbot.mouseClick(window.kill_button, Qt.MouseButton.LeftButton)
        assert not window.kill_button.isEnabled()  # running
        await wait_until(
            lambda: buttons_enabled(window) and "verified" in window.result.text(),
            timeout=15,
            what="the kill's verified summary",
        )
        text = window.result.text()
        assert "0 working orders in DU1234567" in text and "NOT verified" not in text
        assert "Cancelled 4 order(s)." in text
        assert sim.control.orders(open_only=True) == []
        statuses = {o["perm_id"]: o["status"] for o in sim.control.orders()}
        assert all(statuses[p] == "Cancelled" for p in theirs)
        assert global_cancels(sim, WINDOW_ID)
        assert len(sim.control.positions()) == 2  # a kill does not close positions
        saved = journal_state(standby.journal_path)  # type: ignore[arg-type]
        assert saved is not None and saved["state"] == "HALTED"

        qtbot.mouseClick(window.flatten_button, Qt.MouseButton.LeftButton)
        assert not window.flatten_button.isEnabled()
        await wait_until(
            lambda: buttons_enabled(window) and "0 positions" in window.result.text(),
            timeout=20,
            what="the flatten's verified summary",
        )
        assert "NOT verified" not in window.result.text()
        assert sim.control.positions() == []
        closers = [o for o in sim.control.orders() if o["client_id"] == WINDOW_ID]
        assert sorted((o["symbol"], o["action"]) for o in closers) == [
            ("AAPL", "BUY"),
            ("ES", "SELL"),
        ]
    finally:
        await stop_keeping(keeper)


async def test_kill_window_click_while_not_connected_kills_on_a_fresh_connection(
    connect: Connect, sim: SimThread, standby: StandbyKill, qtbot: Any
) -> None:
    """With the standing connection down, the window says so and a click still kills:
    a fresh connection on the next client id cancels everything and verifies."""
    window = window_for(qtbot, standby)  # its keep_connected never runs: never connected
    assert "not connected: a click connects first" in window.link.text()
    theirs = await raw_orders(connect, sim, 7)
    qtbot.mouseClick(window.kill_button, Qt.MouseButton.LeftButton)
    await wait_until(
        lambda: buttons_enabled(window) and "verified" in window.result.text(),
        timeout=20,
        what="the kill's summary",
    )
    assert "NOT verified" not in window.result.text()
    assert "Cancelled 2 order(s)." in window.result.text()
    assert sim.control.orders(open_only=True) == []
    statuses = {o["perm_id"]: o["status"] for o in sim.control.orders()}
    assert all(statuses[p] == "Cancelled" for p in theirs)
    assert global_cancels(sim, WINDOW_ID + 1) and not global_cancels(sim, WINDOW_ID)
    assert not standby.connected


async def test_standby_kill_after_a_sim_restart_reconnects_and_kills(
    connect: Connect, sim: SimThread, standby: StandbyKill
) -> None:
    """After TWS restarts, the standby connection comes back by itself and its kill goes out
    on it and verifies."""
    keeper = await keep(standby)
    try:
        sim.control.restart(down_seconds=0.5)
        await wait_until(lambda: not standby.connected, timeout=10, what="the drop seen")
        await wait_until(lambda: standby.connected, timeout=15, what="reconnected")
        theirs = await raw_orders(connect, sim, 7)
        report = await asyncio.wait_for(standby.kill(flatten=False), 30)
        assert report.verified, report.summary()
        assert {o.perm_id for o in report.cancelled} == set(theirs)
        assert sim.control.orders(open_only=True) == []
        assert global_cancels(sim, WINDOW_ID) and not global_cancels(sim, WINDOW_ID + 1)
    finally:
        await stop_keeping(keeper)


async def test_ibdesk_kill_window_smoke(sim: SimThread, tmp_path: Path) -> None:
    """`ibdesk kill --window --exit-after 2` starts offscreen, connects as the window's
    client id (config's + 102), sends nothing, and exits 0."""
    journal = tmp_path / "kill.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ibdesk",
            "kill",
            "--window",
            "--exit-after",
            "2",
            "--port",
            str(sim.port),
            "--journal",
            str(journal),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_env(tmp_path),
    )
    try:
        await wait_until(
            lambda: WINDOW_ID in {c["client_id"] for c in sim.control.clients()},
            timeout=60,
            what="the kill window connected",
        )
        await wait_until(lambda: proc.poll() is not None, timeout=60, what="the window exits")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err[-3000:]
    assert "Traceback" not in err
    assert sim.control.received(msg_id=GLOBAL_CANCEL) == []  # opening it kills nothing
    assert not journal.exists() or journal_state(journal) is None
    await wait_until(
        lambda: WINDOW_ID not in {c["client_id"] for c in sim.control.clients()},
        timeout=10,
        what="its connection closed",
    )
