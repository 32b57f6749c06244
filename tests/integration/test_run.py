"""``ibdesk run`` as a user runs it on a server: a subprocess against the simulated TWS."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import Connect, private_env, quick_sim, wait_until

pytestmark = pytest.mark.sim

RESTING = """
from ibdesk.strategies import Strategy

class Rest(Strategy):
    '''Puts one buy far under the market at the start, then one more per timer tick.'''
    instruments = ("ES",)
    params = {"offset": 50.0}
    timer = {timer}

    def on_start(self):
        self.place()

    def on_timer(self):
        self.place()

    def place(self):
        quote = self.quote("ES")
        price = (quote.bid if quote else 6800.0) - self.p["offset"] - len(self.orders())
        self.buy("ES", 1, limit=round(price * 4) / 4, why="resting bid")
"""


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim()


def strategy(tmp_path: Path, timer: str = "None") -> Path:
    path = tmp_path / "rest.py"
    path.write_text(textwrap.dedent(RESTING).replace("{timer}", timer))
    return path


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def no_runner_left() -> Iterator[None]:
    """A failed test must not leave its runner (and its watchdog) behind: SIGKILL both."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def start_run(args: list[str], home: Path) -> subprocess.Popen[str]:
    """``ibdesk run`` with ``args``; without a ``--config`` it expects no TWS restart (the
    default, 23:45 ET, would pause the strategies of a test that runs at 23:40 ET)."""
    if "--config" not in args:
        quiet = home / "no-restart.toml"
        quiet.write_text('[restart]\ndaily_at = ""\n')
        args = [*args, "--config", str(quiet)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibdesk", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_env(home),
    )
    _STARTED.append(proc)
    return proc


def theirs(sim: SimThread, client_id: int = 7) -> list[dict[str, object]]:
    return [o for o in sim.control.orders() if str(o["order_ref"]).startswith("strategy:Rest#")]


async def finished(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str, str]:
    out, err = await asyncio.to_thread(proc.communicate, timeout=timeout)
    return proc.returncode, out, err


async def test_run_trades_and_stops_cleanly_after_exit_after(
    tmp_path: Path, sim: SimThread
) -> None:
    proc = start_run(
        [str(strategy(tmp_path)), "--port", str(sim.port), "--client-id", "7",
         "--param", "offset=60", "--exit-after", "2"],
        tmp_path,
    )  # fmt: skip
    code, out, err = await finished(proc)
    assert code == 0, err[-2000:]
    assert "strategy Rest: Running" in out and "order sent from strategy:Rest" in out
    [order] = theirs(sim)
    assert order["status"] == "Cancelled"  # stopping cancels its orders
    assert "Stopped" in out


async def test_sigterm_stops_the_strategies_and_cancels_their_orders(
    tmp_path: Path, sim: SimThread
) -> None:
    proc = start_run(
        [str(strategy(tmp_path)), "--port", str(sim.port), "--client-id", "7"], tmp_path
    )
    await wait_until(lambda: theirs(sim), timeout=20, what="its order at the simulator")
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finished(proc)
    assert code == 0, err[-2000:]
    assert all(o["status"] == "Cancelled" for o in theirs(sim))


async def test_ibdesk_kill_halts_it_and_nothing_is_sent_after(
    tmp_path: Path, sim: SimThread
) -> None:
    proc = start_run(
        [str(strategy(tmp_path, timer="0.2")), "--port", str(sim.port), "--client-id", "7"],
        tmp_path,
    )
    await wait_until(lambda: len(theirs(sim)) >= 3, timeout=20, what="its orders flowing")
    kill = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ibdesk", "kill", "--port", str(sim.port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=private_env(tmp_path),
        check=False,
    )
    assert kill.returncode == 0, kill.stderr[-2000:]
    code, out, err = await finished(proc)
    assert code == 4, (out[-2000:], err[-2000:])
    assert "trading HALTED" in out
    sent = len(theirs(sim))
    await asyncio.sleep(0.6)  # three timer periods: a runner still alive would have sent
    assert len(theirs(sim)) == sent
    assert all(o["status"] == "Cancelled" for o in theirs(sim))
    # The halt is latched: started again, it refuses to trade.
    again = start_run(
        [str(strategy(tmp_path, timer="0.2")), "--port", str(sim.port), "--client-id", "7",
         "--exit-after", "3"],
        tmp_path,
    )  # fmt: skip
    code, out, err = await finished(again)
    assert code in (2, 4), (out[-2000:], err[-2000:])
    assert "HALTED" in out + err
    assert len(theirs(sim)) == sent
    # On a server with no window, the re-arm is a command, and it wants a reason.
    rearm = ["ibdesk", "rearm"]
    code, out, err = await command(tmp_path, *rearm)
    assert code == 2 and "why" in err, (out, err)
    code, out, err = await command(tmp_path, *rearm, "--why", "checked the book with IB")
    assert code == 0 and "ACTIVE" in out, (out, err)
    again = start_run(
        [str(strategy(tmp_path, timer="0.2")), "--port", str(sim.port), "--client-id", "7",
         "--exit-after", "2"],
        tmp_path,
    )  # fmt: skip
    code, out, err = await finished(again)
    assert code == 0, (out[-2000:], err[-2000:])
    assert len(theirs(sim)) > sent


async def command(home: Path, *args: str) -> tuple[int, str, str]:
    """``python -m`` the command in ``args`` with the private home; (exit code, out, err)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=private_env(home),
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_a_broken_strategy_file_says_where(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from ibdesk.strategies import Strategy\n\nclass X(Strategy:\n")
    done = subprocess.run(
        [sys.executable, "-m", "ibdesk", "run", str(broken), "--port", "9"],
        capture_output=True,
        text=True,
        timeout=60,
        env=private_env(tmp_path),
        check=False,
    )
    assert done.returncode == 2
    assert "broken.py:3" in done.stderr


def test_no_tws_exits_3_with_where_it_tried(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[connection]\nconnect_timeout = 1.0\n")
    done = subprocess.run(
        [sys.executable, "-m", "ibdesk", "run", str(strategy(tmp_path)), "--config", str(cfg),
         "--port", "9"],
        capture_output=True,
        text=True,
        timeout=60,
        env=private_env(tmp_path),
        check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr[-2000:]
    assert "no connection to 127.0.0.1:9" in done.stderr


async def test_a_global_cancel_from_another_client_halts_it(
    tmp_path: Path, sim: SimThread, connect: Connect
) -> None:
    """A desktop's KILL on another machine reaches this runner only as its orders vanishing
    in one global cancel: it treats that as a kill, latched, and says so."""
    proc = start_run(
        [str(strategy(tmp_path, timer="0.3")), "--port", str(sim.port), "--client-id", "7"],
        tmp_path,
    )
    await wait_until(lambda: len(theirs(sim)) >= 2, timeout=20, what="its orders working")
    other = await connect(client_id=3)
    other.reqGlobalCancel()
    code, out, err = await finished(proc)
    assert code == 4, (out[-2000:], err[-2000:])
    assert "cancelled by another client" in out
    sent = len(theirs(sim))
    await asyncio.sleep(0.9)
    assert len(theirs(sim)) == sent


async def still_running_unhalted(proc: subprocess.Popen[str]) -> None:
    """The runner did not take an unasked cancel for a kill: alive after the 0.5 s it
    waits before judging one, then stopped by SIGTERM, never HALTED."""
    await asyncio.sleep(1.0)
    assert proc.poll() is None, proc.communicate(timeout=10)
    proc.send_signal(signal.SIGTERM)
    code, out, err = await finished(proc)
    assert code == 0, (out[-2000:], err[-2000:])
    assert "HALTED" not in out


BRACKETED = """
from ibdesk.strategies import Side, Strategy

class Once(Strategy):
    '''Buys one ES at the market at the start, bracketed two points either side.'''
    instruments = ("ES",)

    def on_start(self):
        last = self.quote("ES").last
        self.bracket("ES", Side.BUY, 1, take_profit=last + 2, stop_loss=last - 2, why="once")
"""


async def test_a_bracket_exit_cancelling_its_sibling_is_not_a_global_cancel(
    tmp_path: Path, sim: SimThread
) -> None:
    """The take-profit fills and the broker cancels the stop (one-cancels-other): the stop
    was the strategy's last live order, cancelled unasked, but nobody cancelled globally."""
    path = tmp_path / "once.py"
    path.write_text(textwrap.dedent(BRACKETED))
    sim.control.pause_market()
    last = float(sim.control.quote("ES")["last"])
    proc = start_run([str(path), "--port", str(sim.port), "--client-id", "7"], tmp_path)

    def legs() -> list[dict[str, object]]:
        return [o for o in sim.control.orders() if str(o["order_ref"]).startswith("strategy:")]

    await wait_until(
        lambda: sum(o["status"] == "Submitted" for o in legs()) == 2,
        timeout=20,
        what="the entry filled and both exits working",
    )
    sim.control.set_price("ES", last + 3)  # through the take-profit
    await wait_until(
        lambda: {o["status"] for o in legs()} == {"Filled", "Cancelled"},
        timeout=10,
        what="the take-profit filled and the stop cancelled",
    )
    await still_running_unhalted(proc)


IDLE = """
from ibdesk.strategies import Strategy

class Idle(Strategy):
    '''Watches ES and never trades.'''
    instruments = ("ES",)
"""


@pytest.mark.parametrize("sim_config", [quick_sim(master_client_id=7)])
async def test_another_client_cancelling_its_own_strategy_order_is_not_a_kill(
    tmp_path: Path, sim: SimThread, connect: Connect
) -> None:
    """The runner as TWS's Master API client sees every client's orders: another client
    (a desktop) cancelling one of its own strategy's orders is that client's business,
    not a global cancel of this runner's orders."""
    path = tmp_path / "idle.py"
    path.write_text(textwrap.dedent(IDLE))
    proc = start_run([str(path), "--port", str(sim.port), "--client-id", "7"], tmp_path)
    await wait_until(
        lambda: any(c["client_id"] == 7 and c["market_lines"] for c in sim.control.clients()),
        timeout=20,
        what="the runner's strategy watching ES",
    )
    other = await connect(client_id=3)
    contract = shim.Future(conId=sim.control.instrument("ES").con_id, exchange="CME")
    order = shim.LimitOrder("BUY", 1, 6000.0, orderRef="strategy:Other#3.1")
    trade = other.placeOrder(contract, order)
    await wait_until(lambda: trade.orderStatus.status == "Submitted", what="its order working")
    other.cancelOrder(order)
    await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="its order cancelled")
    await still_running_unhalted(proc)
