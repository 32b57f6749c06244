"""The order store's indexes: orders per instrument, and the live ones, kept on every put so
that a chart's load and the gate's and Risk panel's view of working orders never walk every
order of the day."""

from __future__ import annotations

import dataclasses

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.orders import OrderStore
from tests.work import lines_executed

ES = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
NQ = Instrument(2, "NQ", SecType.FUTURE, "CME", "USD", "NQZ6", 20, 0.25, "20261218")


def order(ref: str, state: OrderState = OrderState.WORKING, inst: Instrument = ES) -> OrderSnapshot:
    return OrderSnapshot(ref, inst, Side.BUY, 1, OrderType.LIMIT, state, "", 6800.0)


def test_the_store_keeps_each_instruments_orders_in_arrival_order() -> None:
    store = OrderStore()
    for ref, inst in (("a", ES), ("b", NQ), ("c", ES)):
        store.put(order(ref, OrderState.QUEUED, inst))
    store.merge("a", state=OrderState.FILLED)
    assert [o.ref for o in store.of_instrument(ES.con_id)] == ["a", "c"]
    assert store.of_instrument(ES.con_id)[0].state is OrderState.FILLED
    assert [o.ref for o in store.of_instrument(NQ.con_id)] == ["b"]
    assert store.of_instrument(99) == []
    store.put(dataclasses.replace(order("b", inst=ES)))  # corrected by the broker: moves
    assert [o.ref for o in store.of_instrument(ES.con_id)] == ["a", "c", "b"]
    assert store.of_instrument(NQ.con_id) == []


def test_live_orders_follow_every_state_change() -> None:
    store = OrderStore()
    for i, state in enumerate(OrderState):
        store.put(order(f"o{i}", state))
    assert {o.ref for o in store.live()} == {o.ref for o in store.orders.values() if o.state.live}
    assert all(o is store.orders[o.ref] for o in store.live())  # the latest snapshots
    store.merge("o0", state=OrderState.CANCELLED)  # QUEUED -> gone
    store.merge("o4", state=OrderState.UNKNOWN)  # FILLED -> UNKNOWN: reconciliation will say
    assert {o.ref for o in store.live()} == {o.ref for o in store.orders.values() if o.state.live}


def test_the_live_orders_cost_what_is_live_not_what_the_day_has_seen() -> None:
    def work(finished: int) -> int:
        store = OrderStore()
        for i in range(finished):
            store.put(order(f"done{i}", OrderState.FILLED))
        for i in range(5):
            store.put(order(f"live{i}"))
        return lines_executed(store.live)

    assert work(10_000) <= work(0) + 5


def test_another_clients_order_id_never_names_one_of_ours() -> None:
    """Order ids are per API client: the runner's order 5 (seen as the Master API client)
    is not the desk's order 5, which the pacer's sends and TWS's errors name by its id."""
    store = OrderStore()
    store.own_client = lambda: 1
    theirs = dataclasses.replace(order("strategy:x#7.5"), order_id=5, client_id=7, perm_id=70)
    ours = dataclasses.replace(order("ticket#1.5", OrderState.QUEUED), order_id=5, client_id=1)
    store.put(theirs)
    store.put(ours)
    assert store.by_order_id[5] == "ticket#1.5"
    assert store.ref_for(perm_id=70) == "strategy:x#7.5"
