"""The OrderGate with a fake port and an in-memory journal: every path through the door."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any

import pytest

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    ModifyIntent,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Source,
    source_of,
)
from ibdesk.state.orders import OrderStore
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ids import BLOCK, OrderIds

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
TICKET = Source("ticket")


class FakePort:
    """Records what the gate asks of the broker."""

    def __init__(self) -> None:
        self.connected = True
        self.client_id = 1
        self.account = "DU1"
        self.next_id = 1
        self.placed: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.modified: list[tuple[str, float, float | None, float | None]] = []
        self.global_cancels = 0
        self.queued: set[int] = set()

    def next_valid_id(self) -> int:
        return self.next_id

    def reserve_ids(self, above: int) -> None:
        self.next_id = max(self.next_id, above)

    def place(
        self,
        intent: OrderIntent,
        ref: str,
        order_id: int,
        parent_id: int = 0,
        transmit: bool = True,
        oca_group: str = "",
        oca_type: int = 0,
    ) -> None:
        self.placed.append(
            {
                "intent": intent,
                "ref": ref,
                "id": order_id,
                "parent": parent_id,
                "transmit": transmit,
                "oca": oca_group,
                "oca_type": oca_type,
            }
        )
        self.queued.add(order_id)

    def modify(
        self, snap: OrderSnapshot, qty: float, limit: float | None, stop: float | None
    ) -> None:
        self.modified.append((snap.ref, qty, limit, stop))

    def cancel(self, snap: OrderSnapshot) -> None:
        self.cancelled.append(snap.ref)

    def cancel_all(self) -> None:
        self.global_cancels += 1

    def withdraw(self, order_ids: set[int] | None = None) -> set[int]:
        taken = set(self.queued) if order_ids is None else self.queued & order_ids
        self.queued -= taken
        return taken


class MemoryJournal:
    """The journal calls, kept in lists."""

    def __init__(self) -> None:
        self.intents: list[tuple[str, str, str]] = []
        self.states: list[OrderSnapshot] = []
        self.actions: list[str] = []
        self.floors: dict[int, int] = {}
        self.known_refs: set[str] = set()

    def intent(
        self, ref: str, kind: str, source: str, account: str, details: Any, parent_ref: str = ""
    ) -> None:
        self.intents.append((ref, kind, source))

    def order(self, snap: OrderSnapshot) -> None:
        self.states.append(snap)
        self.known_refs.add(snap.ref)

    def knows(self, ref: str) -> bool:
        return ref in self.known_refs

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def action(self, who: str, action: str, detail: str = "") -> None:
        self.actions.append(f"{who} {action} {detail}")

    def id_floor(self, client_id: int) -> int:
        return self.floors.get(client_id, 1)

    def raise_id_floor(self, client_id: int, next_id: int) -> int:
        self.floors[client_id] = max(self.floors.get(client_id, 1), next_id)
        return self.floors[client_id]


@pytest.fixture
def port() -> FakePort:
    return FakePort()


@pytest.fixture
def journal() -> MemoryJournal:
    return MemoryJournal()


@pytest.fixture
def store() -> OrderStore:
    return OrderStore()


def context(last: float = 6800.0) -> CheckContext:
    return CheckContext(0.0, lambda account, con_id: 0.0, (), lambda con_id: last)


def make_gate(port: FakePort, store: OrderStore, journal: MemoryJournal, **kw: Any) -> OrderGate:
    return OrderGate(
        port, store, journal, OrderIds(port, journal), kw.pop("context", context), **kw
    )


def limit(qty: float = 1, price: float = 6795.0, side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(ES, side, qty, OrderType.LIMIT, TICKET, limit_price=price)


def test_an_accepted_order_is_journaled_stored_and_placed(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    decision = make_gate(port, store, journal).submit(limit())
    assert decision.accepted
    [ref] = decision.refs
    assert ref.startswith("ticket#") and source_of(ref) == TICKET
    snap = store.get(ref)
    assert snap is not None and snap.state is OrderState.QUEUED and snap.order_id == 1
    assert journal.intents == [(ref, "order", "ticket")]
    assert port.placed[0]["ref"] == ref and port.placed[0]["transmit"]


def test_a_bracket_is_three_linked_orders_with_ibs_transmit_flags(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    decision = make_gate(port, store, journal).submit(
        BracketIntent(limit(2, 6795.0), take_profit=6805.0, stop_loss=6790.0)
    )
    assert decision.accepted and len(set(decision.refs)) == 3
    parent, take, stop = port.placed
    assert [p["transmit"] for p in port.placed] == [False, False, True]
    assert take["parent"] == stop["parent"] == parent["id"] and parent["parent"] == 0
    assert take["oca"] == stop["oca"] != "" and take["oca_type"] == 3
    assert take["intent"].side is stop["intent"].side is Side.SELL
    assert (take["intent"].order_type, take["intent"].limit_price) == (OrderType.LIMIT, 6805.0)
    assert (stop["intent"].order_type, stop["intent"].stop_price) == (OrderType.STOP, 6790.0)
    assert all(i["intent"].qty == 2 for i in port.placed)
    child = store.get(decision.refs[1])
    assert child is not None and child.parent_ref == decision.refs[0]


@pytest.mark.parametrize(
    ("take", "stop", "entry", "why"),
    [
        (6790.0, 6805.0, 6795.0, "above the stop-loss"),
        (6799.0, 6790.0, 6800.0, "either side of the entry"),
    ],
)
def test_a_bracket_on_the_wrong_side_is_refused(
    port: FakePort,
    store: OrderStore,
    journal: MemoryJournal,
    take: float,
    stop: float,
    entry: float,
    why: str,
) -> None:
    decision = make_gate(port, store, journal).submit(
        BracketIntent(limit(1, entry), take_profit=take, stop_loss=stop)
    )
    assert not decision.accepted and why in decision.reason and decision.check == "validate"
    assert port.placed == [] and store.orders == {}


def test_off_tick_prices_are_refused_with_neighbours_or_rounded(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    refused = make_gate(port, store, journal).submit(limit(price=6800.1))
    assert not refused.accepted and "6800 or 6800.25" in refused.reason
    rounding = make_gate(port, store, journal, round_off_tick=True)
    assert rounding.submit(limit(price=6800.1)).accepted
    assert port.placed[-1]["intent"].limit_price == 6800.0


@pytest.mark.parametrize(
    ("order_type", "limit_price", "stop_price", "reason"),
    [
        (OrderType.MARKET, 6800.0, None, "A MKT order takes no limit price."),
        (OrderType.MARKET, None, 6790.0, "A MKT order takes no stop price."),
        (OrderType.LIMIT, 6800.0, 6790.0, "A LMT order takes no stop price."),
        (OrderType.STOP, 6800.0, 6790.0, "A STP order takes no limit price."),
    ],
)
def test_a_price_the_order_type_does_not_use_is_refused_not_sent(
    port: FakePort,
    store: OrderStore,
    journal: MemoryJournal,
    order_type: OrderType,
    limit_price: float | None,
    stop_price: float | None,
    reason: str,
) -> None:
    intent = OrderIntent(ES, Side.BUY, 1, order_type, TICKET, limit_price, stop_price)
    decision = make_gate(port, store, journal).submit(intent)
    assert (decision.accepted, decision.check, decision.reason) == (False, "validate", reason)
    assert port.placed == []


@pytest.mark.parametrize("qty", [0, -1, math.nan, math.inf, 1.5])
def test_bad_quantities_are_refused(
    port: FakePort, store: OrderStore, journal: MemoryJournal, qty: float
) -> None:
    decision = make_gate(port, store, journal).submit(limit(qty))
    assert not decision.accepted and decision.reason and port.placed == []


def test_read_only_refuses_orders_but_not_cancels(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    ref = make_gate(port, store, journal).submit(limit()).refs[0]
    gate = make_gate(port, store, journal, read_only=True)
    assert gate.submit(limit()).check == "read-only"
    assert gate.modify(ModifyIntent(ref, TICKET, limit_price=6794.0)).check == "read-only"
    assert gate.cancel(CancelIntent(ref, TICKET)).accepted
    assert "read-only" in journal.actions[0]


def test_nothing_is_sent_while_disconnected(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    port.connected = False
    decision = make_gate(port, store, journal).submit(limit())
    assert decision.check == "connection" and port.placed == []


def test_a_risk_check_can_deny_with_its_reason(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    def max_two(intent: OrderIntent, ctx: CheckContext) -> str | None:
        return "ES max order quantity is 2" if intent.qty > 2 else None

    gate = make_gate(port, store, journal, checks=[("max_qty", max_two)])
    assert gate.submit(limit(2)).accepted
    denied = gate.submit(limit(3))
    assert (denied.check, denied.reason) == ("max_qty", "ES max order quantity is 2")
    assert journal.actions == ["ticket denied order max_qty: ES max order quantity is 2"]


def test_ids_never_go_back_even_when_the_broker_does(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    gate = make_gate(port, store, journal)
    first = [store.orders[gate.submit(limit()).refs[0]].order_id for _ in range(3)]
    port.next_id = 1  # a gateway restart rolled nextValidId back
    again = store.orders[gate.submit(limit()).refs[0]].order_id
    assert first == [1, 2, 3] and again == 4 and journal.floors[1] >= 5


def test_the_id_floor_is_persisted_ahead_in_blocks_before_any_id_is_used(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    """One journal commit per block of ids, not one per order; the floor is always above
    every id handed out, so a crash never lets an id be reused."""
    raised: list[int] = []
    real_raise = journal.raise_id_floor

    def counting(client_id: int, next_id: int) -> int:
        raised.append(next_id)
        return real_raise(client_id, next_id)

    journal.raise_id_floor = counting  # type: ignore[method-assign]
    gate = make_gate(port, store, journal)
    ids = []
    for _ in range(3 * BLOCK):
        snap = store.orders[gate.submit(limit()).refs[0]]
        ids.append(snap.order_id)
        assert journal.floors[1] > snap.order_id  # persisted before it was used
    assert ids == list(range(1, 3 * BLOCK + 1))
    assert len(raised) == 3


def test_modify_is_validated(port: FakePort, store: OrderStore, journal: MemoryJournal) -> None:
    gate = make_gate(port, store, journal)
    ref = gate.submit(limit(3)).refs[0]
    store.merge(ref, state=OrderState.PARTIAL, filled=2)
    assert "already filled" in gate.modify(ModifyIntent(ref, TICKET, qty=1)).reason
    assert "tick" in gate.modify(ModifyIntent(ref, TICKET, limit_price=6794.1)).reason
    assert "Nothing to change" in gate.modify(ModifyIntent(ref, TICKET, qty=3)).reason
    assert gate.modify(ModifyIntent(ref, TICKET, limit_price=6794.0)).accepted
    assert port.modified == [(ref, 3, 6794.0, None)]


def test_orders_of_other_clients_and_final_orders_cannot_be_touched(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    gate = make_gate(port, store, journal)
    ref = gate.submit(limit()).refs[0]
    store.merge(ref, state=OrderState.FILLED, filled=1)
    assert gate.cancel(CancelIntent(ref, TICKET)).reason == "Already filled: nothing to cancel."
    other = dataclasses.replace(
        store.orders[ref], ref="ext:77", client_id=5, state=OrderState.WORKING, filled=0
    )
    store.put(other)
    denied = gate.modify(ModifyIntent("ext:77", TICKET, qty=2))
    assert denied.check == "owner" and "API client 5" in denied.reason
    assert gate.cancel(CancelIntent("nope", TICKET)).check == "unknown"


def test_cancelling_a_queued_order_withdraws_it(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    gate = make_gate(port, store, journal)
    ref = gate.submit(limit()).refs[0]
    assert gate.cancel(CancelIntent(ref, TICKET)).accepted
    snap = store.orders[ref]
    assert snap.state is OrderState.CANCELLED and "before it was sent" in snap.reason
    assert port.cancelled == []  # nothing to cancel at the broker


def test_cancel_all_withdraws_the_queue_then_cancels_globally(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    gate = make_gate(port, store, journal)
    refs = [gate.submit(limit()).refs[0] for _ in range(3)]
    port.queued.discard(store.orders[refs[0]].order_id)  # the first one is on the wire
    store.merge(refs[0], state=OrderState.WORKING)
    assert gate.cancel_all(Source("kill")).accepted
    assert port.global_cancels == 1
    assert [store.orders[r].state for r in refs] == [
        OrderState.WORKING,
        OrderState.CANCELLED,
        OrderState.CANCELLED,
    ]


def test_order_refs_are_unique_by_construction(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    """A ref is made from the client id and the order id, which the id floor never reuses:
    5,000 refs of one source never clash (six random hex digits clash 53 % of the time)."""
    gate = make_gate(port, store, journal)
    refs = []
    for i in range(2_500):
        refs += gate.submit(limit(price=6795.0 - (i % 40) * 0.25)).refs
        gate.recent.clear()
        refs += gate.submit(BracketIntent(limit(), 6805.0, 6790.0)).refs[:1]
        gate.recent.clear()
    assert len(refs) == len(set(refs)) == 5_000
    snap = store.orders[refs[-1]]
    assert refs[-1] == f"ticket#{snap.client_id}.{snap.order_id}"


def test_a_ref_the_journal_already_holds_is_never_used_again(
    port: FakePort, store: OrderStore, journal: MemoryJournal
) -> None:
    """A journal restored from a backup lost its id floors but kept its orders: the ref the
    next id would make is already there, so the gate skips that id instead of overwriting
    the old order's record."""
    journal.known_refs.update({"ticket#1.1", "ticket#1.2"})
    decision = make_gate(port, store, journal).submit(limit())
    assert decision.refs == ("ticket#1.3",)
    assert port.placed[0]["id"] == 3 and journal.floors[1] >= 4


@pytest.mark.parametrize(
    ("announced", "floor", "words"),
    [(2**31 - 1, 1, "32-bit"), (2**31 - 20, 500, "32-bit"), (200_000_500, 500, "above the last")],
)
def test_an_absurd_next_valid_id_is_refused_and_never_persisted(
    port: FakePort,
    store: OrderStore,
    journal: MemoryJournal,
    announced: int,
    floor: int,
    words: str,
) -> None:
    journal.floors[1] = floor
    port.next_id = announced
    decision = make_gate(port, store, journal).submit(limit())
    assert (decision.accepted, decision.check) == (False, "order_id")
    assert words in decision.reason
    assert journal.floors[1] == floor and port.placed == [] and store.orders == {}
