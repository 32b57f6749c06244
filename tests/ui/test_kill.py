"""The kill switch end to end: real widgets, a real desk, the simulated TWS.

Every test drives what a trader drives (the KILL button, the shortcuts, the positions panel's
"Flatten this position", the Re-arm dialog) or what the desk reacts to by itself (a daily P&L
breach, a halt written to the journal by another process), and checks the outcome where it
counts: at the simulator (open orders, positions, the messages it read from each client), in
the trading bar, and in the journal. A second raw API client (client id 9) holds orders and
positions of its own, which only a global cancel can reach.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ibdesk.broker import ib as shim
from ibdesk.config import RiskSettings, limits_off
from ibdesk.domain.orders import (
    BracketIntent,
    OrderIntent,
    OrderState,
    OrderType,
    Side,
    Source,
)
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading import latch
from ibdesk.ui.models.table import KEY_ROLE
from tests.desk.kit import (
    actions,
    asked_after,
    at_sim,
    connected,
    es_contract,
    es_last,
    lmt,
    my_orders,
    orders_placed_by,
    other_orders,
    placed_by,
    raw_client,
    ready_desk,
    report_of,
    sim_positions,
    state,
    watched,
)
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

ACCOUNT = "DU1234567"
TICKET = Source("ticket")
PLACE_ORDER, GLOBAL_CANCEL, START_API = 3, 58, 71
REQ_ALL_OPEN_ORDERS, REQ_POSITIONS = 16, 61
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
STAMP = r"\d\d:\d\d:\d\d [A-Z][A-Za-z0-9+-]*"  # a time of day and its zone: 15:31:07 CEST
VERIFIED = re.compile(rf"0 working orders in {ACCOUNT}, verified at {STAMP}\.")
VERIFIED_FLAT = re.compile(rf"0 working orders in {ACCOUNT}, 0 positions, verified at {STAMP}\.")


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


# ---- helpers ----------------------------------------------------------------------------------


def bar_text(desk: Any) -> str:
    """What the state band across the window says (the verification is there)."""
    return desk.window.state_band.texts()


def bar_state(desk: Any) -> str:
    return desk.window.trading_bar.state.text()


async def assert_killed(
    desk: Any, sim: SimThread, started: float, since: float, who: str, mine: list[str], theirs: Any
) -> None:
    """The outcome every KILL must have: every order of every client cancelled at the broker,
    the verification shown in the trading bar, the kill journaled with who did it."""
    await wait_until(
        lambda: sim.control.orders(open_only=True) == [],
        timeout=10,
        what="no open order left at the broker",
    )
    await wait_until(lambda: report_of(desk, started), timeout=15, what="the kill verified")
    report = report_of(desk, started)
    assert report.verified and report.account == ACCOUNT, report.summary()
    await wait_until(lambda: VERIFIED.search(bar_text(desk)), what="the verification shown")
    assert desk.window.state_band.retry_button.isHidden()
    assert "HALTED" in bar_state(desk)
    await wait_until(
        lambda: all(state(desk, r) is OrderState.CANCELLED for r in mine),
        timeout=10,
        what="the desk's orders cancelled",
    )
    await wait_until(
        lambda: all(t.orderStatus.status == "Cancelled" for t in theirs),
        timeout=10,
        what="the other client's orders cancelled",
    )
    # The global cancel went out on the desk's own connection, and the verification asked
    # the broker for every open order after it.
    assert asked_after(sim, since, GLOBAL_CANCEL, REQ_ALL_OPEN_ORDERS)
    rows = actions(desk)
    assert (who, "trading state HALTED", "kill switch") in rows
    assert (who, "kill", "kill switch") in rows
    assert any(w == "kill switch" and a == "kill verified" for w, a, _ in rows), rows


# ---- KILL from the button and the shortcuts ---------------------------------------------------


async def test_kill_button_cancels_every_order_of_every_client_and_shows_the_proof(
    make_desk: MakeDesk, sim: SimThread, qtbot: Any
) -> None:
    """KILL by button: HALTED at once, every client's orders cancelled, verified, journaled."""
    desk, es = await ready_desk(make_desk, sim)
    mine = await my_orders(desk, sim, es, 3)
    async with raw_client(sim) as other:
        theirs = await other_orders(other, es, (6810.0, 6811.0))
        assert len(sim.control.orders(open_only=True)) == 5
        assert desk.gate.state is TradingState.ACTIVE
        started, since = time.time(), time.perf_counter()
        qtbot.mouseClick(desk.window.trading_bar.kill_button, Qt.MouseButton.LeftButton)
        assert desk.gate.state is TradingState.HALTED  # before the loop turns once
        assert desk.switch.last_change.who == "kill button"
        await assert_killed(desk, sim, started, since, "kill button", mine, theirs)
    assert desk.place(lmt(es, 6790.0)).check == "halted"


async def test_kill_shortcut_works_from_a_focused_table(
    make_desk: MakeDesk, sim: SimThread, qtbot: Any
) -> None:
    """Ctrl+Shift+K typed into the watchlist table (not the bar) kills like the button."""
    desk, es = await ready_desk(make_desk, sim)
    mine = await my_orders(desk, sim, es, 2)
    async with raw_client(sim) as other:
        theirs = await other_orders(other, es, (6810.0,))
        view = desk.window.watchlist_panel.view
        view.setFocus()
        started, since = time.time(), time.perf_counter()
        qtbot.keyClick(view, Qt.Key.Key_K, CTRL_SHIFT)
        assert desk.gate.state is TradingState.HALTED
        await assert_killed(desk, sim, started, since, "kill shortcut or menu", mine, theirs)


class TestFlattenShortcut:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(start_paused=True, positions=(("MES", 2.0),))

    async def test_flatten_shortcut_kills_and_closes_positions(
        self, make_desk: MakeDesk, sim: SimThread, qtbot: Any
    ) -> None:
        """Ctrl+Shift+F typed into the positions table: orders cancelled, verified flat."""
        desk, es = await ready_desk(make_desk, sim, price=None)
        mine = await my_orders(desk, sim, es, 1)
        await wait_until(lambda: desk.positions.positions, timeout=10, what="the MES position")
        assert sim_positions(sim)
        view = desk.window.positions_panel.view
        view.setFocus()
        started, since = time.time(), time.perf_counter()
        qtbot.keyClick(view, Qt.Key.Key_F, CTRL_SHIFT)
        assert desk.gate.state is TradingState.HALTED
        await wait_until(lambda: report_of(desk, started), timeout=20, what="the flatten report")
        report = report_of(desk, started)
        assert report.flatten and report.verified, report.summary()
        assert sim_positions(sim) == {} and sim.control.orders(open_only=True) == []
        assert asked_after(sim, since, PLACE_ORDER, REQ_POSITIONS)  # flat, as the broker says
        assert state(desk, mine[0]) is OrderState.CANCELLED
        await wait_until(lambda: VERIFIED_FLAT.search(bar_text(desk)), what="flat shown")
        assert ("flatten shortcut or menu", "kill", "flatten all") in actions(desk)


# ---- nothing gets out after a kill ------------------------------------------------------------


async def test_a_thousand_orders_after_a_kill_put_nothing_on_the_wire(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """1,000 attempts from every source after a kill: all denied "halted", no placeOrder
    reaches the simulator, and a cancel is still accepted and sent."""
    desk, es = await ready_desk(make_desk, sim)
    await my_orders(desk, sim, es, 1)
    started = time.time()
    await desk.kill("test")
    assert report_of(desk, started).verified
    since = time.perf_counter()
    sources = [TICKET, Source("hotkey"), Source("chart"), Source("strategy", "trend")]
    decisions = []
    for i in range(1000):
        source = sources[i % len(sources)]
        if i % 3 == 0:
            intent: Any = OrderIntent(es, Side.SELL, 1, OrderType.MARKET, source)
        elif i % 3 == 1:
            intent = lmt(es, 6790.0 - (i % 40) * 0.25, source=source)
        else:
            intent = BracketIntent(lmt(es, 6795.0, source=source), 6805.0, 6785.0)
        decisions.append(desk.place(intent))
        if i % 50 == 49:
            await asyncio.sleep(0)  # let the loop beat, as a real burst of clicks would
    assert all(not d.accepted and d.check == "halted" for d in decisions)
    assert desk.router.pacer.queued == 0
    denials = [r for r in actions(desk) if r[1] in ("denied order", "denied bracket")]
    assert len(denials) == 1000 and all(r[2].startswith("halted: ") for r in denials)
    # A cancel still goes: the other client's new order is reached by a global cancel.
    async with raw_client(sim) as other:
        [theirs] = await other_orders(other, es, (6812.0,))
        cancel = desk.cancel_all()
        assert cancel.accepted
        await wait_until(
            lambda: theirs.orderStatus.status == "Cancelled", timeout=10, what="cancelled"
        )
    # The cancel was read after every attempt (one socket, in order), so nothing is in flight.
    assert sim.control.received(since=since, msg_id=GLOBAL_CANCEL, client_id=1)
    assert placed_by(sim, 1, since) == []


# ---- FLATTEN ----------------------------------------------------------------------------------


class TestFlattenAll:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(
            start_paused=True,
            positions=(("MES", 2.0), ("CL", -1.0), ("GC", -2.0)),
        )

    async def test_flatten_with_five_positions_ends_verified_flat(
        self, make_desk: MakeDesk, sim: SimThread, qtbot: Any
    ) -> None:
        """FLATTEN ALL with longs, shorts, another client's position and a partial fill of a
        desk order still working: cancels, closes, and the broker confirms flat."""
        desk, es = await ready_desk(make_desk, sim, price=None)
        nq = await desk.resolver.resolve("NQ")
        nq_last = sim.control.quote(nq.con_id)["last"]
        [partial] = desk.place(lmt(nq, nq_last - 50, qty=3)).refs
        await wait_until(lambda: at_sim(sim, partial), timeout=10, what="NQ order at the broker")
        sim.control.fill_order(at_sim(sim, partial)["perm_id"], qty=1)
        await wait_until(
            lambda: state(desk, partial) is OrderState.PARTIAL, timeout=10, what="partial"
        )
        async with raw_client(sim) as other:
            bought = other.placeOrder(es_contract(es), shim.MarketOrder("BUY", 1))
            await wait_until(lambda: bought.orderStatus.status == "Filled", what="their fill")
            [theirs] = await other_orders(other, es, (es_last(sim, es) + 20,))
            expected = sim_positions(sim)
            assert len(expected) == 5 and any(q > 0 for q in expected.values())
            assert any(q < 0 for q in expected.values())
            await wait_until(
                lambda: (
                    {p.instrument.local_symbol: p.qty for p in desk.positions.positions.values()}
                    == expected
                ),
                timeout=15,
                what="the desk's positions in step with the broker",
            )
            started, since = time.time(), time.perf_counter()
            qtbot.mouseClick(desk.window.trading_bar.flatten_button, Qt.MouseButton.LeftButton)
            assert desk.gate.state is TradingState.HALTED
            await wait_until(lambda: report_of(desk, started), timeout=30, what="flatten report")
            report = report_of(desk, started)
            assert report.verified and report.flatten, report.summary()
            assert len(report.closing) == 5
            assert sim_positions(sim) == {}
            assert asked_after(sim, since, PLACE_ORDER, REQ_POSITIONS)
            assert sim.control.orders(open_only=True) == []
            await wait_until(lambda: theirs.orderStatus.status == "Cancelled", what="theirs")
        await wait_until(lambda: VERIFIED_FLAT.search(bar_text(desk)), what="flat shown")
        assert state(desk, partial) is OrderState.CANCELLED
        assert desk.orders.get(partial).filled == 1
        rows = actions(desk)
        assert ("flatten button", "kill", "flatten all") in rows
        assert any(w == "kill switch" and a == "flatten verified" for w, a, _ in rows)

    async def test_flatten_this_position_closes_only_that_one(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        """The positions panel's "Flatten this position": that position's own order is
        cancelled and it is closed; every other position and order stays, and so does the
        trading state."""
        desk, es = await ready_desk(make_desk, sim, price=None)
        mes = await desk.resolver.resolve("MES")
        cl = await desk.resolver.resolve("CL")
        mes_last = sim.control.quote(mes.con_id)["last"]
        cl_last = sim.control.quote(cl.con_id)["last"]
        [mes_order] = desk.place(lmt(mes, mes_last - 20)).refs
        [es_order] = desk.place(lmt(es, es_last(sim, es) - 20)).refs
        [cl_order] = desk.place(lmt(cl, round(cl_last - 1, 2))).refs
        refs = (mes_order, es_order, cl_order)
        await wait_until(
            lambda: {state(desk, r) for r in refs} == {OrderState.WORKING},
            timeout=10,
            what="orders working",
        )
        before = sim_positions(sim)
        panel = desk.window.positions_panel
        key = (ACCOUNT, cl.con_id)
        proxy = panel.view.model()
        await wait_until(
            lambda: any(proxy.index(r, 0).data(KEY_ROLE) == key for r in range(proxy.rowCount())),
            timeout=15,
            what="the CL row",
        )
        row = next(r for r in range(proxy.rowCount()) if proxy.index(r, 0).data(KEY_ROLE) == key)
        panel.view.selectRow(row)
        assert panel.selected_keys() == [key]
        change_before = desk.switch.last_change
        started, since = time.time(), time.perf_counter()
        panel.flatten_action.trigger()
        await wait_until(lambda: report_of(desk, started), timeout=20, what="the flatten report")
        report = report_of(desk, started)
        assert report.verified and report.flatten and len(report.closing) == 1, report.summary()
        after = sim_positions(sim)
        assert after == {k: v for k, v in before.items() if k != cl.local_symbol}
        assert cl.local_symbol in before and cl.local_symbol not in after
        assert asked_after(sim, since, PLACE_ORDER, REQ_POSITIONS)
        assert state(desk, cl_order) is OrderState.CANCELLED
        # Picking the row linked CL into the ticket, which may ask a what-if: not an order.
        assert orders_placed_by(sim, 1, since) == [desk.orders.get(report.closing[0]).order_id]
        assert desk.gate.state is TradingState.ACTIVE
        assert desk.switch.last_change == change_before
        assert state(desk, es_order) is OrderState.WORKING
        assert state(desk, mes_order) is OrderState.WORKING  # other instruments' orders stay
        assert {o["order_ref"] for o in sim.control.orders(open_only=True)} == {es_order, mes_order}
        assert desk.place(lmt(es, es_last(sim, es) - 21)).accepted


# ---- the latched state ------------------------------------------------------------------------


async def test_rearm_needs_a_typed_reason(make_desk: MakeDesk, sim: SimThread, qtbot: Any) -> None:
    """Re-arm refuses an empty reason; the dialog's button is disabled until one is typed;
    re-arming makes the desk ACTIVE and journals who and why."""
    desk, es = await ready_desk(make_desk, sim)
    await desk.kill("kill button")
    for blank in ("", "   "):
        with pytest.raises(ValueError, match=r"reason|why"):
            desk.rearm("test", blank)
    assert desk.gate.state is TradingState.HALTED
    bar = desk.window.trading_bar
    assert bar.rearm_button.isEnabled()
    qtbot.mouseClick(bar.rearm_button, Qt.MouseButton.LeftButton)
    dialog = bar.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.rearm_button.isEnabled()
    qtbot.keyClicks(dialog.reason, "   ")
    assert not dialog.rearm_button.isEnabled()
    dialog.reason.clear()
    qtbot.keyClicks(dialog.reason, "runaway strategy disabled")
    assert dialog.rearm_button.isEnabled()
    assert desk.gate.state is TradingState.HALTED  # typing alone changes nothing
    qtbot.mouseClick(dialog.rearm_button, Qt.MouseButton.LeftButton)
    assert desk.gate.state is TradingState.ACTIVE
    assert not dialog.isVisible()
    assert "ACTIVE" in bar_state(desk) and not bar.rearm_button.isEnabled()
    assert ("re-arm dialog", "trading state ACTIVE", "runaway strategy disabled") in actions(desk)
    assert latch.read(desk.journal, ACCOUNT)["who"] == "re-arm dialog"
    [ref] = desk.place(lmt(es, 6790.0)).refs
    await wait_until(lambda: state(desk, ref) is OrderState.WORKING, timeout=10, what="working")


async def test_halted_survives_a_restart(make_desk: MakeDesk, sim: SimThread) -> None:
    """A halted desk closed and started again on the same journal is still HALTED (before
    it even connects), shows it, and denies orders."""
    desk, es = await ready_desk(make_desk, sim, state_name="a.ini")
    started = time.time()
    await desk.kill("kill button")
    assert report_of(desk, started).verified
    await desk.close()
    again = await make_desk(start=False, state_name="b.ini", risk=limits_off())
    assert again.gate.state is TradingState.HALTED
    assert again.switch.last_change.who == "kill button"
    assert "HALTED" in bar_state(again)
    assert again.window.trading_bar.rearm_button.isEnabled()
    again.start()
    await wait_until(lambda: connected(again), timeout=15, what="connected again")
    since = time.perf_counter()
    decision = again.place(lmt(es, 6790.0))
    assert not decision.accepted and decision.check == "halted"
    assert again.cancel_all().accepted  # a round trip after the attempt, on the same socket
    await wait_until(
        lambda: sim.control.received(since=since, msg_id=GLOBAL_CANCEL, client_id=1),
        timeout=10,
        what="the cancel at the broker",
    )
    assert placed_by(sim, 1, since) == []


# ---- the daily loss limit ---------------------------------------------------------------------


class TestDailyLossLimit:
    """ES 2 long from the start of the day: each ES tick is 2 x 50 x 0.25 = $25 of daily P&L
    (the simulator measures it from the session's start marks), so 60 ticks down is -$1,500
    against a limit of $1,000."""

    LIMIT = 1000.0

    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(
            start_paused=True,
            pnl_interval=0.25,
            positions=(("ES", 2.0),),
        )

    def risk(self, flatten: bool) -> RiskSettings:
        return limits_off(RiskSettings(daily_loss_limit=self.LIMIT, flatten_on_daily_loss=flatten))

    async def breach(self, desk: Any, sim: SimThread, es: Any) -> float:
        """Drive the P&L through the limit with a price jump; returns when it was done."""
        await wait_until(
            lambda: desk.safety.daily_pnl == pytest.approx(0.0, abs=1.0),
            timeout=15,
            what="the day's P&L at zero",
        )
        await wait_until(
            lambda: (ACCOUNT, es.con_id) in desk.positions.positions, what="the ES position"
        )
        assert desk.gate.state is TradingState.ACTIVE
        started = time.time()
        sim.control.jump_price(es.con_id, -60)
        await wait_until(
            lambda: desk.gate.state is TradingState.HALTED, timeout=10, what="halted by the limit"
        )
        assert desk.switch.last_change.who == "daily loss limit"
        assert desk.safety.daily_pnl <= -self.LIMIT
        return started

    async def pnl_ticks(self, desk: Any, count: int) -> None:
        """Wait for ``count`` more reqPnL messages to reach the desk."""
        seen: list[Any] = []
        pnl_event = desk.session.ib.pnlEvent
        pnl_event += seen.append
        try:
            await wait_until(lambda: len(seen) >= count, timeout=15, what=f"{count} P&L ticks")
        finally:
            pnl_event -= seen.append

    async def move(self, desk: Any, sim: SimThread, es: Any, ticks: int) -> float:
        """Move ES and wait until the desk has seen the day's P&L change with it."""
        before = desk.safety.daily_pnl
        sim.control.jump_price(es.con_id, ticks)
        await wait_until(
            lambda: abs(desk.safety.daily_pnl - before) > 1.0,
            timeout=15,
            what="the P&L moved",
        )
        return float(desk.safety.daily_pnl)

    async def test_breach_halts_flattens_and_stays_locked_until_rearmed(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        """A price jump through the daily loss limit halts and flattens (verified); the lock
        survives a restart; a typed re-arm waives it: a new order is accepted and later P&L
        changes, still past the limit, do not trip it again."""
        desk, es = await ready_desk(
            make_desk, sim, price=None, state_name="a.ini", risk=self.risk(True)
        )
        started = await self.breach(desk, sim, es)
        await wait_until(lambda: report_of(desk, started), timeout=20, what="the flatten report")
        report = report_of(desk, started)
        assert report.flatten and report.verified, report.summary()
        assert sim_positions(sim) == {}
        assert ("daily loss limit", "kill", desk.switch.last_change.why) in actions(desk)
        locked_until = latch.read(desk.journal, ACCOUNT)["locked_until"]
        assert locked_until > time.time()
        await desk.close()

        again = await make_desk(state_name="b.ini", risk=self.risk(True))
        assert again.gate.state is TradingState.HALTED  # before it even connects
        assert again.switch.last_change.who == "daily loss limit"
        await wait_until(lambda: connected(again), timeout=15, what="connected again")
        await wait_until(
            lambda: again.safety.daily_pnl <= -self.LIMIT, timeout=10, what="the day's loss"
        )
        await self.pnl_ticks(again, 2)
        assert again.gate.state is TradingState.HALTED
        denied = again.place(lmt(es, es_last(sim, es) - 20))
        assert denied.check == "halted"
        with pytest.raises(ValueError):
            again.rearm("trader", " ")
        again.rearm("trader", "loss understood, trading small")
        assert again.gate.state is TradingState.ACTIVE
        assert ("trader", "trading state ACTIVE", "loss understood, trading small") in actions(
            again
        )
        # The waiver: the daily_loss check lets new risk through for the rest of the session.
        [bought] = again.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET)).refs
        [resting] = again.place(lmt(es, es_last(sim, es) - 20)).refs
        await wait_until(
            lambda: (
                state(again, bought) is OrderState.FILLED
                and state(again, resting) is OrderState.WORKING
            ),
            timeout=10,
            what="the new orders through",
        )
        kills = len([r for r in actions(again) if r[1] == "kill"])
        for _ in range(2):  # the P&L keeps changing, still past the limit
            assert await self.move(again, sim, es, -4) <= -self.LIMIT
        await self.pnl_ticks(again, 2)
        assert again.gate.state is TradingState.ACTIVE
        assert len([r for r in actions(again) if r[1] == "kill"]) == kills
        assert state(again, resting) is OrderState.WORKING
        assert sim_positions(sim) == {es.local_symbol: 1.0}

    async def test_breach_without_flatten_only_halts(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        """Without flatten configured, a breach halts and cancels but keeps the position,
        and further losses do not kill again."""
        desk, es = await ready_desk(make_desk, sim, price=None, risk=self.risk(False))
        [ref] = desk.place(lmt(es, es_last(sim, es) - 40)).refs
        await wait_until(lambda: state(desk, ref) is OrderState.WORKING, what="working")
        started = await self.breach(desk, sim, es)
        await wait_until(lambda: report_of(desk, started), timeout=20, what="the kill report")
        report = report_of(desk, started)
        assert report.verified and not report.flatten, report.summary()
        assert sim.control.orders(open_only=True) == []
        assert sim_positions(sim) == {es.local_symbol: 2.0}
        for _ in range(2):
            await self.move(desk, sim, es, -4)
        kills = [r for r in actions(desk) if r[1] == "kill"]
        assert [r[0] for r in kills] == ["daily loss limit"]
        assert desk.gate.state is TradingState.HALTED
        assert sim_positions(sim) == {es.local_symbol: 2.0}


# ---- read-only, halts from elsewhere, the Risk panel, a denial --------------------------------


async def test_read_only_denies_orders_but_kill_still_cancels(
    make_desk: MakeDesk, sim: SimThread, qtbot: Any
) -> None:
    """Read-only mode: every order denied; KILL still sends the global cancel and verifies."""
    desk, es = await ready_desk(make_desk, sim, read_only=True)
    since = time.perf_counter()
    decision = desk.place(lmt(es, 6790.0))
    assert not decision.accepted and decision.check == "read-only"
    async with raw_client(sim) as other:
        theirs = await other_orders(other, es, (6810.0, 6811.0))
        started = time.time()
        qtbot.mouseClick(desk.window.trading_bar.kill_button, Qt.MouseButton.LeftButton)
        assert desk.gate.state is TradingState.HALTED
        await assert_killed(desk, sim, started, since, "kill button", [], theirs)
    assert placed_by(sim, 1) == []


async def test_a_halt_written_by_another_process_is_adopted(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """``record_halt`` from another process on the same journal: within about a second the
    running desk is HALTED, says so in a banner, and cancels every order."""
    desk, es = await ready_desk(make_desk, sim)
    mine = await my_orders(desk, sim, es, 1)
    code = (
        "import sys; from pathlib import Path; from ibdesk.broker.emergency import record_halt; "
        "sys.exit(1 if record_halt(Path(sys.argv[1]), 'risk desk', 'limit review') else 0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(desk.journal_path)])
    try:
        await wait_until(lambda: proc.poll() is not None, timeout=60, what="the other process")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert latch.read(desk.journal, ACCOUNT)["who"] == "risk desk"
    # The desk reads the journal once a second (ADOPT_EVERY); allow for a busy machine.
    await wait_until(
        lambda: desk.gate.state is TradingState.HALTED, timeout=2.5, what="the halt adopted"
    )
    assert desk.switch.last_change.who == "risk desk"
    await wait_until(
        lambda: any("HALTED by risk desk" in t for t in desk.window.banners.texts()),
        what="the banner",
    )
    await wait_until(
        lambda: state(desk, mine[0]) is OrderState.CANCELLED, timeout=10, what="cancelled"
    )
    assert sim.control.orders(open_only=True) == []
    assert desk.place(lmt(es, 6790.0)).check == "halted"


class TestRiskPanel:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(start_paused=True, positions=(("ES", 3.0),))

    async def test_risk_panel_shows_each_limit_in_use(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        """The Risk panel shows use against limits: "ES position 3 / 5", open orders and
        orders per minute count the order just placed."""
        risk = RiskSettings(max_position={"ES": 5.0, "*": 20.0})
        desk, _ = await ready_desk(make_desk, sim, price=None, risk=risk)
        es = await watched(desk, sim, "ES")
        model = desk.window.risk_model

        def shown() -> dict[str, str]:
            return {
                model.index(r, 0).data(): model.index(r, 1).data() for r in range(model.rowCount())
            }

        await wait_until(
            lambda: shown().get("ES position") == "3 / 5", timeout=10, what="ES position 3 / 5"
        )
        assert shown()["Open orders"] == "0 / 100"
        assert shown()["Trading state"] == "ACTIVE"
        decision = desk.place(lmt(es, es_last(sim, es) - 10))
        assert decision.accepted, decision.reason
        await wait_until(
            lambda: (
                shown().get("Orders per minute, ticket") == "1 / 60 per minute"
                and shown().get("Open orders") == "1 / 100"
            ),
            timeout=10,
            what="the order counted",
        )
        report = await desk.kill("kill button")
        assert report.verified, report.summary()
        await wait_until(
            lambda: shown()["Trading state"] == "HALTED" and shown()["Open orders"] == "0 / 100",
            what="HALTED and no open order shown",
        )
