"""REDUCING, reachable the way KILL is: the trading bar's button, the menu, its hotkey,
``ibdesk kill --reduce`` and the kill window; latched, journaled, and re-armed with a reason.

REDUCING means exits only: the desk's working orders that would add to a position are
cancelled at once, its exits keep working, a new entry is refused and a closing order goes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ibdesk.config import Settings, limits_off
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from tests.helpers import private_env, quick_sim, wait_until

from .conftest import MakeDesk
from .test_kill import ACCOUNT, CTRL_SHIFT, TICKET, actions, at_sim, lmt, ready_desk, state

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True, positions=(("ES", 2.0),))


def stop(es: Any, price: float, qty: float = 1) -> OrderIntent:
    return OrderIntent(es, Side.SELL, qty, OrderType.STOP, TICKET, stop_price=price)


async def entries_and_exits(desk: Any, es: Any) -> tuple[str, str]:
    """A long 2 ES with a protective stop for 1 working, and a buy limit (an entry)."""
    await wait_until(lambda: (ACCOUNT, es.con_id) in desk.positions.positions, what="the ES long")
    [exit_ref] = desk.place(stop(es, 6790.0)).refs
    [entry_ref] = desk.place(lmt(es, 6795.0)).refs
    await wait_until(
        lambda: state(desk, exit_ref) is state(desk, entry_ref) is OrderState.WORKING,
        what="both working",
    )
    return exit_ref, entry_ref


async def assert_reducing(
    desk: Any, sim: SimThread, es: Any, exit_ref: str, entry_ref: str
) -> None:
    await wait_until(lambda: desk.gate.state is TradingState.REDUCING, what="REDUCING")
    assert "REDUCING" in desk.window.trading_bar.state.text()
    await wait_until(
        lambda: at_sim(sim, entry_ref)["status"] == "Cancelled", what="the entry cancelled"
    )
    assert at_sim(sim, exit_ref)["status"] in ("Submitted", "PreSubmitted"), "the stop stays"
    denied = desk.place(lmt(es, 6794.0))
    assert (denied.accepted, denied.check) == (False, "reducing")
    closing = desk.place(lmt(es, 6810.0, qty=1, side=Side.SELL))
    assert closing.accepted, closing.reason


async def test_the_reduce_button_keeps_exits_and_cancels_entries(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    exit_ref, entry_ref = await entries_and_exits(desk, es)
    bar = desk.window.trading_bar
    QTest.mouseClick(bar.reduce_button, Qt.MouseButton.LeftButton)
    await assert_reducing(desk, sim, es, exit_ref, entry_ref)
    rows = actions(desk)
    assert ("reduce button", "trading state REDUCING", "exits only") in rows
    assert latch.read(desk.journal, ACCOUNT)["state"] == "REDUCING"
    with pytest.raises(ValueError, match="Type why"):
        desk.rearm("trader", " ")
    assert bar.rearm_button.isEnabled()
    desk.rearm("trader", "entries reviewed")
    assert desk.gate.state is TradingState.ACTIVE


async def test_the_reduce_hotkey_and_menu_reach_it_too(
    make_desk: MakeDesk, sim: SimThread, settings_for: Any
) -> None:
    base = settings_for(risk=limits_off())
    desk, es = await ready_desk(make_desk, sim, settings=base)
    exit_ref, entry_ref = await entries_and_exits(desk, es)
    view = desk.window.positions_panel
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_R, CTRL_SHIFT)
    await assert_reducing(desk, sim, es, exit_ref, entry_ref)
    desk.rearm("trader", "back")
    desk.window.reduce_action.trigger()
    await wait_until(lambda: desk.gate.state is TradingState.REDUCING, what="REDUCING again")
    assert isinstance(base, Settings) and base.risk.reduce_shortcut == "Ctrl+Shift+R"


async def test_halted_can_be_rearmed_to_reducing_with_a_reason(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    report = await desk.kill("kill button")
    assert report.verified
    with pytest.raises(ValueError):
        desk.reduce("reduce button")  # HALTED is stricter: it takes a re-arm
    dialog = desk.window.trading_bar.open_rearm()
    dialog.exits_only.setChecked(True)
    QTest.keyClicks(dialog.reason, "manage the open position only")
    dialog.rearm_button.click()
    assert desk.gate.state is TradingState.REDUCING
    assert desk.place(lmt(es, 6794.0)).check == "reducing"


def run_kill(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ibdesk", "kill", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=private_env(home),
        check=False,
    )


async def test_ibdesk_kill_reduce_latches_reducing_and_a_running_desk_adopts_it(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    exit_ref, entry_ref = await entries_and_exits(desk, es)
    done = await asyncio.to_thread(
        run_kill, ["--reduce", "--journal", str(desk.journal_path)], tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REDUCING" in done.stdout and ACCOUNT in done.stdout
    await assert_reducing(desk, sim, es, exit_ref, entry_ref)
    assert desk.switch.last_change.who == "ibdesk kill (cli)"
    with Journal(desk.journal_path) as journal:
        assert latch.read(journal, ACCOUNT)["state"] == "REDUCING"


async def test_the_kill_windows_reduce_button_latches_reducing_for_the_desk(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    from ibdesk.broker.emergency import StandbyKill
    from ibdesk.ui.kill_window import KillWindow

    desk, es = await ready_desk(make_desk, sim)
    exit_ref, entry_ref = await entries_and_exits(desk, es)
    standby = StandbyKill("127.0.0.1", sim.port, 77, desk.journal_path)
    window = KillWindow("sim", standby.kill, lambda: False, on_reduce=standby.reduce)
    try:
        QTest.mouseClick(window.reduce_button, Qt.MouseButton.LeftButton)
        assert "REDUCING latched for DU1234567" in window.result.text()
        await assert_reducing(desk, sim, es, exit_ref, entry_ref)
        assert desk.switch.last_change.who == "ibdesk kill (kill window)"
    finally:
        window.close()
        window.deleteLater()
