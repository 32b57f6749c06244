"""The gate's word on strategies: a paused strategy may only reduce its own position, a
stopped or halted one sends nothing, and none of it depends on the strategy's good will."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    ModifyIntent,
    OrderIntent,
    OrderType,
    Side,
    Source,
)
from ibdesk.domain.strategy import StrategyState
from ibdesk.state.orders import OrderStore
from ibdesk.trading.gate import OrderGate
from tests.unit.test_gate import ES, TICKET, FakePort, MemoryJournal, make_gate

TREND = Source("strategy", "trend")


@dataclass
class Standing:
    """The runner's answer to the gate: each strategy's state and own positions."""

    states: dict[str, StrategyState] = field(default_factory=dict)
    held: dict[tuple[str, int], float] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)

    def state_of(self, name: str) -> StrategyState | None:
        return self.states.get(name)

    def paused_why(self, name: str) -> str:
        return self.why.get(name, "") if self.states.get(name) is StrategyState.PAUSED else ""

    def position_of(self, name: str, con_id: int) -> float:
        return self.held.get((name, con_id), 0.0)


def order(
    side: Side,
    qty: float = 1,
    source: Source = TREND,
    order_type: OrderType = OrderType.LIMIT,
    **kw: float | None,
) -> OrderIntent:
    kw.setdefault("limit_price", 6795.0 if side is Side.BUY else 6805.0)
    return OrderIntent(ES, side, qty, order_type, source, **kw)  # type: ignore[arg-type]


@pytest.fixture
def standing() -> Standing:
    return Standing({"trend": StrategyState.RUNNING}, {("trend", ES.con_id): 2.0})


@pytest.fixture
def gate(standing: Standing) -> OrderGate:
    return make_gate(FakePort(), OrderStore(), MemoryJournal(), strategies=standing)


def test_a_running_strategy_trades(gate: OrderGate, standing: Standing) -> None:
    assert gate.submit(order(Side.BUY)).accepted


def test_a_paused_strategy_may_exit_but_not_add(gate: OrderGate, standing: Standing) -> None:
    standing.states["trend"] = StrategyState.PAUSED
    added = gate.submit(order(Side.BUY))
    assert not added.accepted and added.check == "strategy"
    assert "paused" in added.reason.lower()
    assert not gate.submit(order(Side.SELL, qty=3)).accepted  # more than it holds: a reversal
    bracket = BracketIntent(order(Side.SELL), take_profit=6700.0, stop_loss=6850.0)
    assert not gate.submit(bracket).accepted  # an entry, whatever its side
    assert gate.submit(order(Side.SELL, qty=2)).accepted  # its whole exit


def test_paused_for_the_restart_a_new_entry_is_refused_saying_why_and_its_exit_passes(
    gate: OrderGate, standing: Standing
) -> None:
    standing.states["trend"] = StrategyState.PAUSED
    standing.why["trend"] = "for the TWS restart at 23:45 ET"
    entry = gate.submit(order(Side.BUY))
    assert not entry.accepted and entry.check == "strategy"
    assert entry.reason == (
        "trend is paused (for the TWS restart at 23:45 ET): only orders that reduce its own "
        "position pass."
    )
    assert gate.submit(order(Side.SELL, qty=2)).accepted  # its exit


def test_a_paused_strategy_may_move_its_stop_but_not_grow_an_entry(
    gate: OrderGate, standing: Standing
) -> None:
    [stop] = gate.submit(
        order(Side.SELL, 2, order_type=OrderType.STOP, limit_price=None, stop_price=6780.0)
    ).refs
    [entry] = gate.submit(order(Side.BUY)).refs
    standing.states["trend"] = StrategyState.PAUSED
    assert gate.modify(ModifyIntent(stop, TREND, stop_price=6790.0)).accepted
    grown = gate.modify(ModifyIntent(entry, TREND, qty=3))
    assert not grown.accepted and grown.check == "strategy"
    assert gate.cancel(CancelIntent(entry, TREND)).accepted  # cancels always pass


def test_the_paused_strategys_own_position_counts_not_the_accounts(
    gate: OrderGate, standing: Standing
) -> None:
    # The account is long 2 (the strategy's), a manual trader holds nothing else: a strategy
    # that holds nothing may not "exit" a position that is someone else's.
    standing.states["trend"] = StrategyState.PAUSED
    standing.held.clear()
    assert not gate.submit(order(Side.SELL)).accepted


@pytest.mark.parametrize("state", [StrategyState.STOPPED, StrategyState.HALTED, None])
def test_a_stopped_halted_or_unknown_strategy_sends_nothing(
    gate: OrderGate, standing: Standing, state: StrategyState | None
) -> None:
    if state is None:
        standing.states.clear()
    else:
        standing.states["trend"] = state
    denied = gate.submit(order(Side.SELL, qty=1))  # even an exit
    assert not denied.accepted and denied.check == "strategy"


def test_manual_orders_are_not_the_runners_business(gate: OrderGate, standing: Standing) -> None:
    standing.states["trend"] = StrategyState.HALTED
    assert gate.submit(order(Side.BUY, source=TICKET)).accepted


def test_without_a_runner_no_strategy_order_passes() -> None:
    gate = make_gate(FakePort(), OrderStore(), MemoryJournal())
    denied = gate.submit(order(Side.BUY))
    assert not denied.accepted and denied.check == "strategy"
