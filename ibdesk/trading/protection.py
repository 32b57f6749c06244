"""Is a position protected? A futures position whose size is not covered by working stops
at the broker is "naked": one bad tick away from an unbounded loss if the app dies.

:func:`stop_cover` says it from a list of orders (the definition); :class:`StopCoverIndex`
says the same from an index kept on every order change, for the tables that ask on every
flush (walking 10,000 orders per flush froze the desk).
"""

from __future__ import annotations

from collections.abc import Iterable

from ibdesk import events
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.orders import OrderStore

#: Order types that close a position when the market runs against it.
PROTECTIVE_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAIL)
#: States in which a stop is at the broker; QUEUED and SENT stops are not there yet.
AT_BROKER = (OrderState.WORKING, OrderState.PARTIAL)


def stop_cover(pos: PositionSnapshot, orders: Iterable[OrderSnapshot]) -> float:
    """How much of the position working broker-side stops would close.

    A bracket's stop whose entry has not filled yet protects nothing that exists: it waits
    for its parent, so it does not count.
    """
    orders = list(orders)
    unfilled_parents = {o.ref for o in orders if o.state.live}
    closing = Side.SELL if pos.qty > 0 else Side.BUY
    return sum(
        o.remaining
        for o in orders
        if o.instrument.con_id == pos.instrument.con_id
        and o.parent_ref not in unfilled_parents
        and (not o.account or not pos.account or o.account == pos.account)
        and o.side is closing
        and o.order_type in PROTECTIVE_TYPES
        and o.state in AT_BROKER
    )


def is_naked(pos: PositionSnapshot, orders: Iterable[OrderSnapshot]) -> bool:
    """A futures position not fully covered by working stops."""
    if pos.instrument.sec_type is not SecType.FUTURE or not pos.qty:
        return False
    return stop_cover(pos, orders) < abs(pos.qty) - 1e-9


class StopCoverIndex:
    """Working stops at the broker per instrument, closing side and account, kept current
    on every order change: a position's cover is a lookup, not a walk over every order.

    It counts exactly what :func:`stop_cover` counts: protective orders in a state of
    :data:`AT_BROKER`, whose parent (if any) is no longer live. Every order update is
    judged afresh, whatever its new state, so a state added later is counted only if it is
    in ``AT_BROKER``. Work per order change: that order, and the children of it (a bracket
    entry's stop waits for it).

    Events:
        changed(con_id): the cover of that instrument's positions changed.
    """

    def __init__(self, store: OrderStore) -> None:
        self.store = store
        self._counted: dict[str, tuple[tuple[int, Side], str, float]] = {}
        """ orderRef -> ((conId, side), account, remaining) of each stop that counts """
        self._sums: dict[tuple[int, Side], dict[str, list[float]]] = {}
        """ (conId, side) -> account ('' for none) -> [remaining summed, stops counted] """
        self._children: dict[str, set[str]] = {}
        """ parent's orderRef -> refs of the protective orders that name it """
        self._filed: dict[str, str] = {}
        """ a protective child's orderRef -> the parent it is filed under """
        self.changed = events.new("stopCoverChanged")
        for ref in store.orders:
            self._on_order(ref)
        store.added += self._on_order
        store.updated += self._on_order

    def close(self) -> None:
        """Stop following the store."""
        self.store.added -= self._on_order
        self.store.updated -= self._on_order

    def cover(self, pos: PositionSnapshot) -> float:
        """How much of the position working broker-side stops would close."""
        closing = Side.SELL if pos.qty > 0 else Side.BUY
        sums = self._sums.get((pos.instrument.con_id, closing))
        if not sums:
            return 0.0
        if not pos.account:
            return sum(total for total, _ in sums.values())
        mine, unnamed = sums.get(pos.account), sums.get("")
        return (mine[0] if mine else 0.0) + (unnamed[0] if unnamed else 0.0)

    def naked(self, pos: PositionSnapshot) -> bool:
        """A futures position not fully covered by working stops."""
        if pos.instrument.sec_type is not SecType.FUTURE or not pos.qty:
            return False
        return self.cover(pos) < abs(pos.qty) - 1e-9

    def _on_order(self, ref: str) -> None:
        snap = self.store.get(ref)
        if snap is None:
            return
        self._file_child(snap)
        self._recount(snap)
        for child in list(self._children.get(ref, ())):  # its state frees or holds them
            child_snap = self.store.get(child)
            if child_snap is not None:
                self._recount(child_snap)

    def _file_child(self, snap: OrderSnapshot) -> None:
        """Keep protective children filed under their parent, whatever their state."""
        filed = self._filed.get(snap.ref)
        keep = bool(snap.parent_ref) and snap.order_type in PROTECTIVE_TYPES
        if filed is not None and (not keep or filed != snap.parent_ref):
            kids = self._children[filed]
            kids.discard(snap.ref)
            if not kids:
                del self._children[filed]
            del self._filed[snap.ref]
        if keep:
            self._children.setdefault(snap.parent_ref, set()).add(snap.ref)
            self._filed[snap.ref] = snap.parent_ref

    def _recount(self, snap: OrderSnapshot) -> None:
        parent = self.store.get(snap.parent_ref) if snap.parent_ref else None
        counts = (
            snap.order_type in PROTECTIVE_TYPES
            and snap.state in AT_BROKER
            and not (parent is not None and parent.state.live)
        )
        key = (snap.instrument.con_id, snap.side)
        new = (key, snap.account, snap.remaining) if counts else None
        old = self._counted.get(snap.ref)
        if old == new:
            return
        if old is not None:
            self._add(*old, sign=-1)
            del self._counted[snap.ref]
        if new is not None:
            self._add(*new, sign=1)
            self._counted[snap.ref] = new
        for con_id in {k[0][0] for k in (old, new) if k is not None}:
            self.changed.emit(con_id)

    def _add(self, key: tuple[int, Side], account: str, qty: float, sign: int) -> None:
        by_account = self._sums.setdefault(key, {})
        entry = by_account.setdefault(account, [0.0, 0])
        entry[0] += sign * qty
        entry[1] += sign
        if not entry[1]:  # the last one gone: drop the entry, and any rounding left in it
            del by_account[account]
            if not by_account:
                del self._sums[key]
