"""Strategies in the running desk, against the simulator over a real socket, through the real
runner and the one gate: trading, PAUSE, STOP, errors, slowness, the breaker, the kill."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.domain.risk import TradingState
from ibdesk.domain.strategy import StrategyState
from ibdesk.simtws import SimThread
from ibdesk.strategies.loader import StrategyError
from tests.conftest import ExpectedFaults
from tests.desk.kit import TICKET, at_sim, es_contract, es_last, raw_client, ready_desk
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk

PROBE = """
from ibdesk.strategies import Strategy

class {name}(Strategy):
    instruments = ("ES",)
    params = {{"qty": 1}}
    {extra}
"""


def strategy_file(tmp_path: Path, name: str, extra: str = "", body: str = "") -> Path:
    """A strategy file defining ``name`` (a Strategy on ES) with ``extra`` class lines."""
    path = tmp_path / f"{name.lower()}.py"
    text = PROBE.format(name=name, extra=textwrap.indent(textwrap.dedent(extra), "    ").strip())
    path.write_text(text + textwrap.indent(textwrap.dedent(body), "    "))
    return path


async def loaded(desk: Any, tmp_path: Path, name: str, extra: str = "") -> Any:
    """Load and start a probe strategy; its instance (what its own code would call)."""
    desk.strategies.load(strategy_file(tmp_path, name, extra))
    await desk.strategies.start(name)
    return desk.strategies.entries[name].instance


def sim_refs(sim: SimThread, prefix: str) -> list[dict[str, Any]]:
    return [o for o in sim.control.orders() if o["order_ref"].startswith(prefix)]


async def test_a_strategy_trades_a_bracket_end_to_end(make_desk: MakeDesk, sim: SimThread) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    handle = probe.bracket("ES", Side.BUY, 2, None, 6810.0, 6790.0, why="test signal 1.5")
    assert handle.accepted, handle.reason
    entry, take, stop = handle.refs
    assert all(r.startswith("strategy:Probe#") for r in handle.refs)
    await wait_until(lambda: at_sim(sim, stop) is not None, what="the bracket at the simulator")
    await wait_until(lambda: probe.position("ES") == 2.0, what="its own position from its fill")
    assert desk.orders.get(entry).why == "test signal 1.5"
    assert {o.ref for o in probe.orders()} == {take, stop}
    status = desk.strategies.status("Probe")
    assert status.state is StrategyState.RUNNING and status.position == 2.0
    assert status.last_why == "test signal 1.5" and status.working == 2


def tmp_path_of(desk: Any) -> Path:
    return Path(desk.journal_path).parent


async def test_pause_refuses_new_risk_and_lets_exits_through(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    handle = probe.bracket("ES", Side.BUY, 2, None, 6830.0, 6770.0, why="in")
    _, _, stop = handle.refs
    await wait_until(lambda: probe.position("ES") == 2.0, what="long 2")
    await wait_until(lambda: desk.orders.get(stop).state is OrderState.WORKING, what="stop working")
    desk.strategies.pause("Probe")
    denied = probe.buy("ES", 1, limit=6790.0, why="more")
    assert not denied.accepted and denied.decision.check == "strategy"
    moved = probe.modify(stop, stop=6780.0)
    assert moved.accepted, moved.reason
    await wait_until(lambda: at_sim(sim, stop)["aux_price"] == 6780.0, what="stop moved at sim")
    # Closing the position is an exit: only its size counts, not its stops on the way.
    desk.strategies.stop("Probe", flatten=True)
    await wait_until(lambda: probe.position("ES") == 0.0, what="flattened")
    assert desk.strategies.state_of("Probe") is StrategyState.STOPPED


async def test_stop_cancels_its_orders_and_leaves_its_position_shown(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    probe.buy("ES", 1, why="market in")
    [resting] = probe.buy("ES", 1, limit=6700.0, why="resting").refs
    await wait_until(lambda: probe.position("ES") == 1.0, what="filled 1")
    await wait_until(lambda: at_sim(sim, resting) is not None, what="resting at sim")
    desk.strategies.stop("Probe")
    await wait_until(lambda: desk.orders.get(resting).state is OrderState.CANCELLED, what="gone")
    status = desk.strategies.status("Probe")
    assert status.state is StrategyState.STOPPED and status.left_position
    assert not probe.buy("ES", 1, limit=6700.0).accepted  # a stopped strategy sends nothing


async def test_an_exception_halts_that_strategy_only(
    make_desk: MakeDesk, sim: SimThread, expected_faults: ExpectedFaults
) -> None:
    expected_faults.allow_errors("ibdesk.strategies", 2)
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    desk.strategies.load(
        strategy_file(
            root,
            "Broken",
            body="""
            def on_quote(self, quote):
                raise ZeroDivisionError("bad signal")
        """,
        )
    )
    neighbour = await loaded(desk, root, "Steady")
    [resting] = neighbour.buy("ES", 1, limit=6700.0).refs
    await desk.strategies.start("Broken")
    await wait_until(
        lambda: desk.strategies.state_of("Broken") is StrategyState.HALTED, what="Broken halted"
    )
    status = desk.strategies.status("Broken")
    assert "ZeroDivisionError: bad signal" in status.reason and status.errors == 1
    assert desk.strategies.state_of("Steady") is StrategyState.RUNNING
    assert desk.orders.get(resting).state.live


async def test_a_slow_callback_is_named(
    make_desk: MakeDesk, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    desk.strategies.load(
        strategy_file(
            root,
            "Sluggish",
            extra="timer = 0.05",
            body="""
    def on_timer(self):
        import time
        time.sleep(0.08)
""",
        )
    )
    await desk.strategies.start("Sluggish")
    await wait_until(lambda: desk.strategies.status("Sluggish").slow, what="named slow")
    assert desk.strategies.status("Sluggish").callback_ms >= 80
    assert any("Sluggish: on_timer took" in r.getMessage() for r in caplog.records)


async def test_the_breaker_halts_a_spammer_and_not_its_neighbour(
    make_desk: MakeDesk, sim: SimThread, expected_faults: ExpectedFaults
) -> None:
    expected_faults.allow_errors("ibdesk.strategies")
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    spammer = await loaded(desk, root, "Spammer")
    neighbour = await loaded(desk, root, "Calm")
    for i in range(1000):
        spammer.buy("ES", 1, limit=6700.0 - i * 0.25)
    assert desk.strategies.state_of("Spammer") is StrategyState.HALTED
    assert "runaway breaker" in desk.strategies.status("Spammer").reason
    assert neighbour.buy("ES", 1, limit=6650.0).accepted
    await wait_until(lambda: not desk.strategies.status("Spammer").working, what="its cancelled")
    sent = [o for o in sim.control.received() if "Spammer" in str(o)]
    assert len(sim_refs(sim, "strategy:Spammer#")) <= 5, sent[:3]


async def test_the_kill_stops_every_strategy_and_nothing_is_sent_after(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    first = await loaded(desk, root, "First")
    second = await loaded(desk, root, "Second")
    report = await desk.kill("test")
    assert report.verified, report.summary()
    assert {desk.strategies.state_of(n) for n in ("First", "Second")} == {StrategyState.STOPPED}
    before = len(sim.control.orders())
    attempts = [s.buy("ES", 1, limit=6700.0 - i) for i in range(500) for s in (first, second)]
    assert not any(h.accepted for h in attempts)
    assert len(sim.control.orders()) == before
    desk.rearm("test", "checked", TradingState.ACTIVE)
    assert desk.strategies.state_of("First") is StrategyState.STOPPED  # nothing restarts


async def test_strategy_positions_and_the_traders_add_up_to_the_account(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    a = await loaded(desk, root, "Alpha")
    b = await loaded(desk, root, "Beta")
    a.buy("ES", 3)
    b.sell("ES", 1)
    desk.place(OrderIntent(es, Side.BUY, 2, OrderType.MARKET, TICKET))
    await wait_until(
        lambda: (
            desk.positions.positions.get((desk.session.account, es.con_id)) is not None
            and desk.positions.positions[(desk.session.account, es.con_id)].qty == 4.0
        ),
        what="the account long 4",
    )
    await wait_until(lambda: a.position("ES") == 3 and b.position("ES") == -1, what="theirs")
    ledger = desk.strategies.ledger
    assert ledger.manual[es.con_id] == 2.0
    assert ledger.unattributed(es.con_id, 4.0) == 0.0


async def test_a_strategy_that_cannot_load_says_why(make_desk: MakeDesk, tmp_path: Path) -> None:
    desk = await make_desk(start=False)
    bad = tmp_path / "bad.py"
    bad.write_text("from ibdesk.strategies import Strategy\nclass X(Strategy):\n    pass\n")
    with pytest.raises(StrategyError, match="names no instruments"):
        desk.strategies.load(bad)
    typo = tmp_path / "typo.py"
    typo.write_text("import nothing_of_that_name\n")
    with pytest.raises(StrategyError, match=r"typo\.py:1 failed to load: ModuleNotFoundError"):
        desk.strategies.load(typo)
    broken = tmp_path / "broken.py"
    broken.write_text("from ibdesk.strategies import Strategy\n\nclass X(Strategy:\n")
    with pytest.raises(StrategyError, match=r"broken\.py:3: "):
        desk.strategies.load(broken)
    desk.strategies.load(strategy_file(tmp_path, "Probe"))
    with pytest.raises(StrategyError, match="qty must be int"):
        desk.strategies.set_params("Probe", {"qty": "lots"})
    assert desk.strategies.set_params("Probe", {"qty": "3"})["qty"] == 3


async def test_a_manual_order_on_a_strategys_instrument_asks_first(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """As TWS asks for a fat finger: the trader's order on an instrument a running strategy
    trades gets a confirmation reason naming the strategy; other instruments do not."""
    desk, es = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    probe.buy("ES", 2)
    await wait_until(lambda: probe.position("ES") == 2.0, what="the strategy long 2")
    manual = OrderIntent(es, Side.SELL, 1, OrderType.LIMIT, TICKET, limit_price=6810.0)
    [reason] = [r for r in desk.confirm_reasons(manual) if "Probe" in r]
    assert "Probe" in reason and "running" in reason and "long 2" in reason
    nq = await desk.resolver.resolve("NQ")
    other = OrderIntent(nq, Side.SELL, 1, OrderType.LIMIT, TICKET, limit_price=21000.0)
    assert not [r for r in desk.confirm_reasons(other) if "Probe" in r]
    desk.strategies.stop("Probe")
    assert [r for r in desk.confirm_reasons(manual) if "Probe" in r] == []


async def test_stale_data_and_a_lost_connection_pause_until_they_are_back(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """A market-data farm down (2103) pauses running strategies until it is back (2104); a
    dropped connection pauses them until the reconnect's reconciliation is done. Said in
    the status; a strategy the trader paused stays paused."""
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    await loaded(desk, root, "Auto")
    await loaded(desk, root, "Manual")
    desk.strategies.pause("Manual")

    def state(name: str) -> StrategyState | None:
        return desk.strategies.state_of(name)

    sim.control.inject_error(2103)
    await wait_until(lambda: state("Auto") is StrategyState.PAUSED, what="paused: data down")
    assert "market data" in desk.strategies.status("Auto").reason
    sim.control.inject_error(2104)
    await wait_until(lambda: state("Auto") is StrategyState.RUNNING, what="running: data back")
    # The reconnect can be quicker than a poll: follow the status as it changes.
    seen: list[tuple[StrategyState, str]] = []
    desk.strategies.changed += lambda name: (
        name == "Auto" and seen.append((state("Auto"), desk.strategies.status("Auto").reason))
    )
    sim.control.drop_clients()
    await wait_until(
        lambda: seen and seen[-1][0] is StrategyState.RUNNING, timeout=10, what="reconciled"
    )
    assert [s for s, _ in seen] == [StrategyState.PAUSED, StrategyState.RUNNING]
    assert "connection lost" in seen[0][1] and "reconciled" in seen[1][1]
    assert state("Manual") is StrategyState.PAUSED


async def test_a_strategys_position_survives_a_restart_of_the_desk(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Its fills come back from the journal and the broker after a restart, so its book is
    whole again before it is even loaded."""
    desk, es = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    probe.buy("ES", 2)
    await wait_until(lambda: probe.position("ES") == 2.0, what="long 2")
    await desk.close()
    again, _ = await ready_desk(make_desk, sim)
    await wait_until(
        lambda: again.strategies.position_of("Probe", es.con_id) == 2.0,
        what="its position rebuilt from its fills",
    )


async def test_held_for_the_restart_exits_pass_entries_are_refused_saying_why(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """The desk's hold for TWS's restart: a running strategy pauses (its exit passes, its
    entry is refused at the gate with the reason), one started meanwhile starts paused, and
    the reconnect's reconciliation does not end it: only the release does."""
    desk, _ = await ready_desk(make_desk, sim)
    root = tmp_path_of(desk)
    probe = await loaded(desk, root, "Held")
    assert probe.buy("ES", 1, limit=6850.0, why="in").accepted  # marketable: fills
    await wait_until(lambda: probe.position("ES") == 1.0, what="long 1")
    desk.strategies.hold("restart", "for the TWS restart at 23:45 ET")
    assert desk.strategies.state_of("Held") is StrategyState.PAUSED
    denied = probe.buy("ES", 1, limit=6790.0, why="more")
    assert not denied.accepted and denied.decision.check == "strategy"
    assert "(for the TWS restart at 23:45 ET)" in denied.reason
    late = await loaded(desk, root, "Late")
    assert desk.strategies.state_of("Late") is StrategyState.PAUSED
    assert not late.buy("ES", 1, limit=6790.0, why="first").accepted
    reconciles: list[dict[str, int]] = []
    desk.router.on_reconciled.append(reconciles.append)
    sim.control.drop_clients()
    await wait_until(lambda: reconciles, timeout=10, what="reconnected and reconciled")
    assert desk.strategies.state_of("Held") is StrategyState.PAUSED
    assert desk.strategies.status("Held").reason == "for the TWS restart at 23:45 ET"
    exit_ = probe.sell("ES", 1, limit=6750.0, why="out")  # its own exit still passes
    assert exit_.accepted, exit_.reason
    desk.strategies.release("restart", "the TWS restart is over")
    assert desk.strategies.state_of("Held") is StrategyState.RUNNING
    assert desk.strategies.state_of("Late") is StrategyState.RUNNING
    assert desk.strategies.status("Held").reason == "the TWS restart is over"


@pytest.mark.parametrize("sim_config", [quick_sim(master_client_id=1)])
async def test_another_clients_orders_under_a_strategys_name_are_not_that_strategys(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """The same file run by ``ibdesk run`` as another client makes orders under the same
    name; the desk (the Master API client) sees them, but they are not its strategy's own:
    no ``on_order`` for them, and their rejects do not count in its breaker."""
    desk, es = await ready_desk(make_desk, sim)
    body = """
    def on_start(self):
        self.seen = []

    def on_order(self, order):
        self.seen.append(order.ref)
    """
    desk.strategies.load(strategy_file(tmp_path_of(desk), "Probe", body=body))
    await desk.strategies.start("Probe")
    probe = desk.strategies.entries["Probe"].instance
    mine = probe.buy("ES", 1, limit=es_last(sim, es) - 20, why="mine")
    async with raw_client(sim, 7) as other:
        order = shim.LimitOrder("BUY", 1, es_last(sim, es) - 30, orderRef="strategy:Probe#7.1")
        theirs = other.placeOrder(es_contract(es), order)
        await wait_until(lambda: theirs.orderStatus.status == "Submitted", what="theirs working")
        ref = "strategy:Probe#7.1"
        await wait_until(lambda: desk.orders.get(ref) is not None, what="the desk sees theirs")
        await wait_until(lambda: mine.refs[0] in probe.seen, what="its own order's update")
        assert ref not in probe.seen
        assert {o.ref for o in probe.orders()} == {mine.refs[0]}
        status = desk.strategies.status("Probe")
        assert status.working == 1


async def test_a_strategys_pnl_counts_the_commission_ib_reports_after_the_fill(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    probe = await loaded(desk, tmp_path_of(desk), "Probe")
    [ref] = probe.buy("ES", 1, why="in").refs
    await wait_until(
        lambda: any(f.ref == ref and f.commission > 0 for f in desk.orders.fills.values()),
        what="the fill and its commission report",
    )
    [fill] = [f for f in desk.orders.fills.values() if f.ref == ref]
    holding = desk.strategies.ledger.holdings["Probe"][fill.instrument.con_id]
    assert holding.commission == pytest.approx(fill.commission)
