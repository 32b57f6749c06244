"""Orders and fills, as the broker last described them (plus what ibdesk knows before it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ibdesk import events
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, attribution


class OrderStore:
    """Every order of the session by orderRef, and its fills by execution id.

    Events:
        added(ref): an order appeared (placed here, or reported by the broker).
        updated(ref): its state, quantities or prices changed.
        filled(fill): an execution arrived (or was recovered after a reconnect).
        completed(fill): a known execution was completed (its commission report arrived).

    Tables take a dirty set (:meth:`dirty_set`) instead of listening per update; a chart
    loads its instrument's orders from :meth:`of_instrument` (an index kept on every put).
    """

    def __init__(self) -> None:
        self.orders: dict[str, OrderSnapshot] = {}
        """ orderRef -> OrderSnapshot """
        self.fills: dict[str, FillSnapshot] = {}
        """ execId -> FillSnapshot """
        self.by_order_id: dict[int, str] = {}
        """ this client's orderId -> orderRef """
        self.own_client: Callable[[], int] | None = None
        """ the API client id in use (set by the broker side): order ids are per client, so
        another client's orders (seen as the Master API client) stay out of ``by_order_id`` """
        self.by_perm_id: dict[int, str] = {}
        """ permId -> orderRef """
        self.by_con_id: dict[int, dict[str, None]] = {}
        """ conId -> its orders' refs, in the order they arrived (a dict as an ordered set) """
        self._live: dict[str, None] = {}
        """ refs of the orders that may still trade, in the order they became live """
        self.added = events.new("orderAdded")
        self.updated = events.new("orderUpdated")
        self.filled = events.new("orderFilled")
        self.completed = events.new("fillCompleted")
        self._dirty_sets: list[set[str]] = []

    def get(self, ref: str) -> OrderSnapshot | None:
        """The order with this orderRef."""
        return self.orders.get(ref)

    def ref_for(self, order_id: int = 0, perm_id: int = 0) -> str | None:
        """The orderRef of an order known by its ids."""
        return (self.by_perm_id.get(perm_id) if perm_id else None) or (
            self.by_order_id.get(order_id) if order_id else None
        )

    def put(self, snap: OrderSnapshot) -> bool:
        """Store an order's latest snapshot; False when nothing changed."""
        before = self.orders.get(snap.ref)
        if before == snap:
            return False
        self.orders[snap.ref] = snap
        own = self.own_client
        if snap.order_id and snap.client_id >= 0 and (own is None or snap.client_id == own()):
            self.by_order_id.setdefault(snap.order_id, snap.ref)
        if snap.perm_id:
            self.by_perm_id[snap.perm_id] = snap.ref
        con_id = snap.instrument.con_id
        if before is not None and before.instrument.con_id != con_id:
            self.by_con_id.get(before.instrument.con_id, {}).pop(snap.ref, None)
        self.by_con_id.setdefault(con_id, {})[snap.ref] = None
        if snap.state.live:
            self._live.setdefault(snap.ref, None)
        else:
            self._live.pop(snap.ref, None)
        for dirty in self._dirty_sets:
            dirty.add(snap.ref)
        (self.updated if before is not None else self.added).emit(snap.ref)
        return True

    def placed_by(self, ref: str) -> str:
        """Who placed an order, in words; another client's orders name the client
        (``strategy sma_cross @ client 7``: an ``ibdesk run`` this desk watches)."""
        own = self.own_client
        return attribution(ref, own() if own is not None else None)

    def is_own(self, snap: OrderSnapshot) -> bool:
        """Whether this client placed it (only then can it modify or cancel it alone)."""
        own = self.own_client
        return own is None or snap.client_id == own()

    def merge(self, ref: str, **changes: Any) -> OrderSnapshot | None:
        """Change some fields of a known order; returns the new snapshot."""
        before = self.orders.get(ref)
        if before is None:
            return None
        after = dataclasses.replace(before, **changes)
        self.put(after)
        return after

    def add_fill(self, fill: FillSnapshot) -> bool:
        """Record an execution once; False if its execId is already known."""
        known = self.fills.get(fill.exec_id)
        if known is not None:
            if known != fill:  # a commission report completing it
                self.fills[fill.exec_id] = fill
                self.completed.emit(fill)
            return False
        self.fills[fill.exec_id] = fill
        self.filled.emit(fill)
        return True

    def live(self) -> list[OrderSnapshot]:
        """Orders that may still trade (UNKNOWN ones included), in the order they became
        live. From an index kept on every put: the Risk panel asks twice a second and the
        gate on every order, and a walk over every order of the day (asking each its state)
        cost 6 ms at 11,000 orders."""
        orders = self.orders
        return [orders[ref] for ref in self._live]

    def of_instrument(self, con_id: int) -> list[OrderSnapshot]:
        """Every order of one instrument (live or not), oldest first: what a chart of it
        loads, in O(its orders) rather than O(all orders)."""
        return [self.orders[ref] for ref in self.by_con_id.get(con_id, ())]

    def dirty_set(self) -> set[str]:
        """A set the store fills with the refs of changed orders; the caller drains it."""
        dirty: set[str] = set()
        self._dirty_sets.append(dirty)
        return dirty

    def release(self, dirty: set[str]) -> None:
        """Stop filling a set obtained from :meth:`dirty_set`."""
        self._dirty_sets = [d for d in self._dirty_sets if d is not dirty]
