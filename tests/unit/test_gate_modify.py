"""Modifies and bracket legs are judged as the orders they would be (issue: safety holes).

With the real pre-trade checks: a modify is the order it would become, in the trading state in
force, and every leg of a bracket is checked, not only its entry. The ticket and the chart ask
the same judgement before they offer to send (``OrderGate.judge``, ``judge_modify``).
"""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.config import RiskSettings
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    ModifyIntent,
    OrderIntent,
    OrderState,
    OrderType,
    Side,
)
from ibdesk.domain.risk import TradingState
from ibdesk.state.orders import OrderStore
from ibdesk.trading.checks import build_checks
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ids import OrderIds
from tests.unit.test_gate import ES, TICKET, FakePort, MemoryJournal

MARKET = 6800.0
RISK = RiskSettings(max_order_qty={"ES": 5.0, "*": 10.0}, max_position={"*": 20.0})


class Book:
    """A gate with the real checks over a position the test sets."""

    def __init__(self, position: float = 0.0, **risk: Any) -> None:
        self.position = position
        self.market = MARKET
        self.port = FakePort()
        self.store = OrderStore()
        self.journal = MemoryJournal()
        settings = RiskSettings(**{**vars_of(RISK), **risk})
        self.gate = OrderGate(
            self.port,
            self.store,
            self.journal,
            OrderIds(self.port, self.journal),
            self.context,
            build_checks(settings),
        )

    def context(self) -> CheckContext:
        return CheckContext(
            0.0, lambda account, con_id: self.position, self.store.live(), lambda c: self.market
        )

    def working(self, intent: OrderIntent) -> str:
        """Place an order and let the broker acknowledge it."""
        decision = self.gate.submit(intent)
        assert decision.accepted, decision.reason
        ref = decision.refs[0]
        self.store.merge(ref, state=OrderState.WORKING)
        self.gate.recent.clear()  # the rate and duplicate guards are not under test here
        return ref


def vars_of(risk: RiskSettings) -> dict[str, Any]:
    return {name: getattr(risk, name) for name in risk.__dataclass_fields__}


def buy(qty: float = 1, price: float = 6795.0) -> OrderIntent:
    return OrderIntent(ES, Side.BUY, qty, OrderType.LIMIT, TICKET, limit_price=price)


def sell_stop(qty: float = 1, price: float = 6790.0) -> OrderIntent:
    return OrderIntent(ES, Side.SELL, qty, OrderType.STOP, TICKET, stop_price=price)


@pytest.mark.parametrize("qty", [50, 400])
def test_a_modify_of_quantity_past_the_limit_is_denied_like_a_new_order(qty: float) -> None:
    book = Book()
    ref = book.working(buy(1))
    assert book.gate.submit(buy(qty)).check == "max_order_qty"
    decision = book.gate.modify(ModifyIntent(ref, TICKET, qty=qty))
    assert (decision.accepted, decision.check) == (False, "max_order_qty")
    assert "over the limit of 5" in decision.reason
    assert book.port.modified == []


def test_a_modify_through_the_collar_is_denied() -> None:
    book = Book()
    ref = book.working(buy(1))
    decision = book.gate.modify(ModifyIntent(ref, TICKET, limit_price=MARKET + 300))
    assert (decision.accepted, decision.check) == (False, "price_collar")
    assert book.port.modified == []
    assert book.gate.modify(ModifyIntent(ref, TICKET, limit_price=MARKET - 10)).accepted


def test_a_modify_is_judged_without_counting_the_order_twice() -> None:
    # 4 working; raising it to 5 makes a position of 5 (not 4 + 5) against the limit of 5.
    book = Book(max_position={"*": 5.0})
    ref = book.working(buy(4))
    assert book.gate.modify(ModifyIntent(ref, TICKET, qty=5)).accepted
    denied = book.gate.modify(ModifyIntent(ref, TICKET, qty=6, limit_price=6794.0))
    assert denied.check in ("max_order_qty", "max_position")


def test_a_modify_is_refused_while_halted_but_a_cancel_goes() -> None:
    book = Book()
    ref = book.working(buy(2))
    book.gate.state = TradingState.HALTED
    decision = book.gate.modify(ModifyIntent(ref, TICKET, limit_price=6794.0))
    assert (decision.accepted, decision.check) == (False, "halted")
    assert book.gate.modify(ModifyIntent(ref, TICKET, qty=1)).check == "halted"
    assert book.gate.cancel(CancelIntent(ref, TICKET)).accepted
    assert book.port.modified == []


def test_reducing_lets_a_modify_through_only_when_the_result_reduces() -> None:
    book = Book(position=3.0)
    stop = book.working(sell_stop(3))
    entry = book.working(buy(1))
    book.gate.state = TradingState.REDUCING
    # Moving the protective stop keeps it an exit: allowed.
    assert book.gate.modify(ModifyIntent(stop, TICKET, stop_price=6792.0)).accepted
    # An entry made bigger adds to the position: refused.
    assert book.gate.modify(ModifyIntent(entry, TICKET, qty=2)).check == "reducing"
    # A stop made larger than the position would reverse it: refused.
    assert book.gate.modify(ModifyIntent(stop, TICKET, qty=5)).check == "reducing"
    assert len(book.port.modified) == 1


def test_a_smaller_quantity_at_the_same_prices_always_passes_the_checks() -> None:
    # The market ran away from a resting order (now outside the collar): the trader can
    # still make it smaller, which only ever lowers the risk.
    book = Book()
    ref = book.working(buy(3, price=6795.0))
    book.market = 7100.0
    denied = book.gate.modify(ModifyIntent(ref, TICKET, limit_price=6794.0))
    assert denied.check == "price_collar"
    assert book.gate.modify(ModifyIntent(ref, TICKET, qty=1)).accepted


def test_every_leg_of_a_bracket_is_checked() -> None:
    book = Book()
    take_far = BracketIntent(buy(1), take_profit=MARKET + 300, stop_loss=6790.0)
    denied = book.gate.submit(take_far)
    assert (denied.accepted, denied.check) == (False, "price_collar")
    assert "take-profit" in denied.reason.lower()
    stop_far = BracketIntent(buy(1), take_profit=6805.0, stop_loss=MARKET - 300)
    denied = book.gate.submit(stop_far)
    assert (denied.accepted, denied.check) == (False, "price_collar")
    assert "stop-loss" in denied.reason.lower()
    assert book.port.placed == [] and book.store.orders == {}
    assert book.gate.submit(BracketIntent(buy(1), 6805.0, 6790.0)).accepted


def test_a_bracket_counts_its_three_orders_against_the_open_order_limit() -> None:
    book = Book(max_open_orders=4)
    book.working(buy(1))
    book.working(buy(1, 6794.0))
    # 2 working + 3 new = 5 > 4
    denied = book.gate.submit(BracketIntent(buy(1, 6793.0), 6805.0, 6790.0))
    assert denied.check == "max_open_orders"


def test_judge_says_what_submit_would_decide_and_sends_nothing() -> None:
    book = Book()
    assert book.gate.judge(buy(50)).check == "max_order_qty"
    assert book.gate.judge(buy(1)).accepted
    ref = book.working(buy(1))
    assert book.gate.judge_modify(ModifyIntent(ref, TICKET, qty=50)).check == "max_order_qty"
    assert book.gate.judge_modify(ModifyIntent(ref, TICKET, qty=2)).accepted
    placed, actions = len(book.port.placed), list(book.journal.actions)
    book.gate.judge(buy(50))
    book.gate.judge_modify(ModifyIntent(ref, TICKET, qty=50))
    assert (len(book.port.placed), book.port.modified, book.journal.actions) == (
        placed,
        [],
        actions,
    )
