"""Is a position protected? A futures position whose size is not covered by working stops
at the broker is "naked": one bad tick away from an unbounded loss if the app dies."""

from __future__ import annotations

from collections.abc import Iterable

from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side

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
