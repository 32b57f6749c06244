"""``ibdesk kill`` as a user runs it: a subprocess against the simulated TWS.

Two raw clients hold working orders and the account holds positions; the command must cancel
every client's orders (and close every position with ``--flatten``), say what it did, exit 0
only when the broker confirms it, and latch HALTED in the journal even when no broker answers.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from tests.helpers import Connect, private_env, quick_sim, wait_until

pytestmark = pytest.mark.sim

KILL_ID = 1 + 101  # the default config's client id + the kill's offset


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(
        start_paused=True,
        positions=(("ES", 2.0), ("AAPL", -100.0)),
    )


def run_kill(args: list[str], home: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m ibdesk kill ARGS`` with a private home (so no user config is read)."""
    env = private_env(home)
    return subprocess.run(
        [sys.executable, "-m", "ibdesk", "kill", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


async def run_kill_async(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """The same, on a worker thread, so the raw clients on this loop keep reading."""
    return await asyncio.to_thread(run_kill, args, home)


def saved_state(path: Path) -> Any:
    journal = Journal(path)
    try:
        return latch.read(journal, "DU1234567")
    finally:
        journal.close()


async def es_future(ib: Any, sim: SimThread) -> Any:
    """The ES front month, qualified, trading at 6800 (the market is paused)."""
    [cont] = await shim.qualify(ib, shim.ContFuture("ES", exchange=""))
    assert cont is not None
    [fut] = await shim.qualify(ib, shim.Future(conId=cont.conId))
    assert fut is not None
    sim.control.set_price(fut.conId, 6800.0)
    return fut


async def aapl(ib: Any) -> Any:
    [stock] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    assert stock is not None
    return stock


async def working_orders_of_two_clients(connect: Connect, sim: SimThread) -> list[dict[str, Any]]:
    """Clients 7 and 8 each leave resting limit orders far from the market; the sim's view."""
    a, b = await connect(7), await connect(8)
    es = await es_future(a, sim)
    stock = await aapl(b)
    a.placeOrder(es, shim.LimitOrder("BUY", 1, 6700.0))
    a.placeOrder(es, shim.LimitOrder("SELL", 2, 6900.0))
    b.placeOrder(stock, shim.LimitOrder("BUY", 10, 1.0))
    b.placeOrder(es, shim.LimitOrder("BUY", 3, 6650.0))
    await wait_until(
        lambda: len(sim.control.orders(open_only=True)) == 4, timeout=10, what="4 working orders"
    )
    working: list[dict[str, Any]] = sim.control.orders(open_only=True)
    assert {o["client_id"] for o in working} == {7, 8}
    return working


def cancelled_line(order: dict[str, Any]) -> re.Pattern[str]:
    return re.compile(
        rf"client {order['client_id']}\s+order {order['order_id']}\s+perm {order['perm_id']}\s"
    )


async def test_kill_cancels_every_clients_orders_verifies_and_latches_halted(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """`ibdesk kill` cancels both raw clients' orders, lists each, exits 0 verified, and
    journals HALTED; positions are left alone without --flatten."""
    working = await working_orders_of_two_clients(connect, sim)
    journal = tmp_path / "kill.sqlite"
    result = await run_kill_async(["--port", str(sim.port), "--journal", str(journal)], tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    assert f"as client {KILL_ID}" in out
    assert "Cancelled 4 working order(s):" in out
    for order in working:
        assert cancelled_line(order).search(out), f"{order} not listed in:\n{out}"
    stamp = r"\d\d:\d\d:\d\d [A-Z][A-Za-z0-9+-]*"  # a time of day and its zone
    assert re.search(rf"^0 working orders in DU1234567, verified at {stamp}\.$", out, re.M)
    assert "NOT verified" not in out and "Closing orders" not in out
    assert sim.control.orders(open_only=True) == []
    states = {o["perm_id"]: o["status"] for o in sim.control.orders()}
    assert all(states[o["perm_id"]] == "Cancelled" for o in working)
    assert [r["client_id"] for r in sim.control.received(msg_id=58)] == [KILL_ID]
    assert {(p["symbol"], p["qty"]) for p in sim.control.positions()} == {
        ("ES", 2.0),
        ("AAPL", -100.0),
    }
    saved = saved_state(journal)
    assert saved is not None and saved["state"] == "HALTED"
    assert "ibdesk kill" in saved["who"] and "emergency kill" in saved["why"]


async def test_kill_flatten_closes_every_position_and_verifies_flat(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """`ibdesk kill --flatten` cancels every order, sends a closing order per position,
    prints them, and exits 0 only once the broker reports no position."""
    working = await working_orders_of_two_clients(connect, sim)
    journal = tmp_path / "kill.sqlite"
    result = await run_kill_async(
        ["--flatten", "--port", str(sim.port), "--journal", str(journal)], tmp_path
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    for order in working:
        assert cancelled_line(order).search(out), f"{order} not listed in:\n{out}"
    closing = next(line for line in out.splitlines() if line.startswith("Closing orders: "))
    assert sorted(closing.removeprefix("Closing orders: ").split("; ")) == [
        "BUY 100 AAPL",
        "SELL 2 ESZ6",
    ]
    assert re.search(r"^0 working orders in DU1234567, 0 positions, verified at ", out, re.M)
    assert sim.control.positions() == []
    assert sim.control.orders(open_only=True) == []
    closers = [o for o in sim.control.orders() if o["client_id"] == KILL_ID]
    assert sorted((o["symbol"], o["action"], o["order_type"]) for o in closers) == [
        ("AAPL", "BUY", "MKT"),
        ("ES", "SELL", "MKT"),
    ]
    saved = saved_state(journal)
    assert saved is not None and saved["state"] == "HALTED"
    assert "flatten" in saved["why"]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kill_with_nothing_reachable_exits_1_but_still_latches_halted(tmp_path: Path) -> None:
    """With no TWS listening, `ibdesk kill` says NOT verified / could not connect, exits 1,
    and the halt is in the journal anyway (a running desk still halts)."""
    journal = tmp_path / "kill.sqlite"
    port = closed_port()
    result = run_kill(
        ["--port", str(port), "--journal", str(journal), "--timeout", "3"], tmp_path, timeout=60
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr[-3000:]
    assert "NOT verified" in out and "could not connect" in out
    assert f"127.0.0.1:{port}" in out
    assert "verified at" not in out.replace("NOT verified at", "")
    saved = saved_state(journal)
    assert saved is not None and saved["state"] == "HALTED"


async def test_kill_uses_a_spare_client_id_when_its_own_is_taken(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """A client squatting on the kill's id (102) does not stop it: TWS answers 326, the
    kill retries on a spare id, cancels everything and exits 0."""
    squatter = await connect(KILL_ID)
    working = await working_orders_of_two_clients(connect, sim)
    result = await run_kill_async(
        ["--port", str(sim.port), "--journal", str(tmp_path / "kill.sqlite")], tmp_path
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    for order in working:
        assert cancelled_line(order).search(out), f"{order} not listed in:\n{out}"
    assert "verified at" in out and "NOT verified" not in out
    assert sim.control.orders(open_only=True) == []
    senders = {r["client_id"] for r in sim.control.received(msg_id=58)}
    assert senders and KILL_ID not in senders  # the cancel went out on a spare id
    assert squatter.isConnected()
    assert KILL_ID in {c["client_id"] for c in sim.control.clients()}


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (["--bogus"], None, ["usage: ibdesk kill", "unrecognized arguments: --bogus"]),
        (["--port", "seven"], None, ["usage: ibdesk kill", "argument --port: invalid int value"]),
        (["--timeout"], None, ["argument --timeout: expected one argument"]),
        (
            [],
            '[connection]\nport = "seven"\nclinet_id = 3\n',
            [
                "ibdesk kill: invalid configuration in",
                "[connection] port: must be an integer from 1 to 65535, got 'seven'",
                "unknown key 'clinet_id' (did you mean 'client_id'?)",
            ],
        ),
        ([], "[connection\n", ["ibdesk kill: invalid configuration in"]),
    ],
    ids=["unknown-flag", "port-not-a-number", "missing-value", "bad-config", "not-toml"],
)
def test_bad_usage_or_config_exits_2_with_a_clear_message(
    tmp_path: Path, args: list[str], config: str | None, expected: list[str]
) -> None:
    """Bad flags or a bad config file exit 2 with a message naming the problem, and no
    connection is attempted."""
    if config is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config)
        args = [*args, "--config", str(path)]
    result = run_kill([*args, "--journal", str(tmp_path / "kill.sqlite")], tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "ibdesk kill: 127.0.0.1" not in result.stdout  # it never tried to connect
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    """An explicit --config that does not exist is a config error (exit 2), not defaults."""
    missing = tmp_path / "nope.toml"
    result = run_kill(["--config", str(missing)], tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(missing) in result.stderr and "no such file" in result.stderr


async def test_kill_flatten_after_an_id_rollback_uses_the_journals_floor(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """The kill's closing orders take their ids above the journal's floor for its client id,
    not the broker's nextValidId alone: after a gateway restart that rolled nextValidId
    back, a second flatten sends no id twice, closes the position, and is journaled."""
    journal = tmp_path / "kill.sqlite"
    first = await run_kill_async(
        ["--flatten", "--port", str(sim.port), "--journal", str(journal)], tmp_path
    )
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    used = {o["order_id"] for o in sim.control.orders() if o["client_id"] == KILL_ID}
    assert used
    buyer = await connect(7)
    es = await es_future(buyer, sim)
    buyer.placeOrder(es, shim.MarketOrder("BUY", 3))
    await wait_until(sim.control.positions, what="a new ES position")
    buyer.disconnect()
    sim.control.restart(down_seconds=0.2, roll_back_ids=50)
    second = await run_kill_async(
        ["--flatten", "--port", str(sim.port), "--journal", str(journal)], tmp_path
    )
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert sim.control.positions() == []
    ids = [o["order_id"] for o in sim.control.orders() if o["client_id"] == KILL_ID]
    assert len(ids) == len(set(ids)) == len(used) + 1
    with Journal(journal) as j:
        closing = [o for o in j.orders_since(0.0) if o.source.kind == "flatten"]
        assert sorted(o.order_id for o in closing) == sorted(ids)
        assert j.id_floor(KILL_ID) > max(ids)


async def test_an_absurd_next_valid_id_is_refused_not_persisted(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """A server announcing nextValidId at the top of TWS's 32-bit range: the kill still
    cancels (a global cancel needs no id) but sends no closing order with such an id, says
    why, exits 1, and leaves the journal's floor where it was."""
    journal = tmp_path / "kill.sqlite"
    sim.control.restart(down_seconds=0.2, roll_back_ids=-(2**31 - 20))
    result = await run_kill_async(
        ["--flatten", "--port", str(sim.port), "--journal", str(journal)], tmp_path
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr[-3000:]
    assert "32-bit" in out and "NOT closed" in out
    assert [o for o in sim.control.orders() if o["client_id"] == KILL_ID] == []
    with Journal(journal) as j:
        assert j.id_floor(KILL_ID) < 2**31 - 1_000_000


async def runaway(connect: Connect, sim: SimThread, stop: asyncio.Event, client_id: int = 7) -> int:
    """Another client placing a resting order every 20 ms until told to stop."""
    ib = await connect(client_id)
    es = await es_future(ib, sim)
    placed = 0
    while not stop.is_set():
        ib.placeOrder(es, shim.LimitOrder("BUY", 1, 6000.0 + (placed % 400) * 0.25))
        placed += 1
        await asyncio.sleep(0.02)
    return placed


async def test_a_client_still_placing_orders_keeps_the_kill_from_claiming_verified(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    """A runaway client keeps placing orders through the kill: the kill repeats its global
    cancel, names the client and what it placed after the cancel, and exits 1: it never
    claims "verified" while orders keep coming."""
    stop = asyncio.Event()
    loop_task = asyncio.ensure_future(runaway(connect, sim, stop))
    await wait_until(lambda: sim.control.orders(open_only=True), what="the runaway's orders")
    try:
        result = await run_kill_async(
            ["--port", str(sim.port), "--journal", str(tmp_path / "k.sqlite"), "--timeout", "3"],
            tmp_path,
        )
    finally:
        stop.set()
        await loop_task
    out = result.stdout
    assert result.returncode == 1, out
    assert "verified at" not in out.replace("NOT verified at", "")
    assert re.search(r"client 7 placed \d+ orders? after the global cancel", out, re.I), out
    cancels = [r for r in sim.control.received(msg_id=58) if r["client_id"] == KILL_ID]
    assert len(cancels) >= 2, "the global cancel is repeated while orders keep coming"


async def test_a_runaway_that_stops_is_named_and_then_verified(
    connect: Connect, sim: SimThread, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    loop_task = asyncio.ensure_future(runaway(connect, sim, stop))
    await wait_until(lambda: sim.control.orders(open_only=True), what="the runaway's orders")
    asyncio.get_running_loop().call_later(1.0, stop.set)
    try:
        result = await run_kill_async(
            ["--port", str(sim.port), "--journal", str(tmp_path / "k.sqlite"), "--timeout", "8"],
            tmp_path,
        )
    finally:
        stop.set()
        await loop_task
    out = result.stdout
    assert result.returncode == 0, out
    assert re.search(r"client 7 placed \d+ orders? after the global cancel", out, re.I), out
    assert sim.control.orders(open_only=True) == []
