"""What a chart draws for the trader's orders and position: the lines, their roles, their money.

A working order is a line at its price: an **entry** (opens or adds), a **take-profit** (a
limit that closes at a gain) or a **stop** (closes at a loss). A bracket's children say their
role through their parent; a lone order closing part of the position is a take-profit if it is
a limit and a stop otherwise. Each line's label gives the quantity, the type, and the money at
stake: the loss if a stop fills (from the entry it protects, or the position's average price),
the gain if a take-profit fills, and for an entry the loss at its own stop ("no stop" when
there is none, which is worth seeing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import OrderSnapshot, OrderType, Side


class LineRole(StrEnum):
    """Why a line is on the chart (each has its own colour)."""

    ENTRY = "entry"
    TAKE_PROFIT = "take-profit"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One working order as a chart line.

    ``moves`` says which price a drag changes: ``limit`` or ``stop`` (a stop-limit's drag
    moves its limit along with its trigger).
    """

    ref: str
    role: LineRole
    price: float
    moves: str
    order: OrderSnapshot
    at_stake: float
    """ dollars: lost at a stop (positive), gained at a take-profit; NaN when unknown """
    label: str


def line_price(order: OrderSnapshot) -> float | None:
    """Where the order's line is drawn: the trigger of a stop, the limit of a limit; None for
    orders without a fixed price (market, trailing)."""
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return order.stop_price
    if order.order_type is OrderType.LIMIT:
        return order.limit_price
    return None


def order_lines(
    orders: Iterable[OrderSnapshot], con_id: int, position_qty: float, position_avg: float
) -> list[OrderLine]:
    """The lines of the live orders of one instrument, given its position (signed quantity
    and average price in points; NaN when flat)."""
    live = [o for o in orders if o.instrument.con_id == con_id and o.state.live]
    by_ref = {o.ref: o for o in live}
    stops_of = {o.parent_ref: o for o in live if o.parent_ref and _is_stop(o)}
    lines: list[OrderLine] = []
    for order in live:
        price = line_price(order)
        if price is None or math.isnan(price):
            continue
        role = _role(order, position_qty)
        base = _reference(order, by_ref, position_qty, position_avg)
        if role is LineRole.ENTRY:
            stop = stops_of.get(order.ref)
            stop_price = line_price(stop) if stop is not None else None
            stake = _money(order, price, stop_price) if stop_price is not None else math.nan
        else:
            stake = _money(order, base, price) if base is not None else math.nan
        moves = "limit" if order.order_type is OrderType.LIMIT else "stop"
        lines.append(
            OrderLine(order.ref, role, price, moves, order, stake, _label(order, role, stake))
        )
    return lines


def position_label(inst: Instrument, qty: float, avg: float, last: float) -> tuple[str, float]:
    """The position line's label and its open P&L in dollars (NaN without a price)."""
    pnl = (last - avg) * qty * inst.multiplier
    side = "LONG" if qty > 0 else "SHORT"
    money = "" if math.isnan(pnl) else f" · {'+' if pnl >= 0 else '-'}${abs(pnl):,.2f}"
    return f"{side} {_qty(abs(qty))} @ {avg:,.{_decimals(inst)}f}{money}", pnl


def _is_stop(order: OrderSnapshot) -> bool:
    return order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAIL)


def _role(order: OrderSnapshot, position_qty: float) -> LineRole:
    closes = (
        order.parent_ref != ""
        or (order.side is Side.SELL and position_qty > 0)
        or (order.side is Side.BUY and position_qty < 0)
    )
    if not closes:
        return LineRole.ENTRY
    return LineRole.STOP if _is_stop(order) else LineRole.TAKE_PROFIT


def _reference(
    order: OrderSnapshot, by_ref: dict[str, OrderSnapshot], position_qty: float, avg: float
) -> float | None:
    """The price an exit is measured from: its parent's entry, else the position's average."""
    parent = by_ref.get(order.parent_ref) if order.parent_ref else None
    if parent is not None:
        return line_price(parent)
    if position_qty and not math.isnan(avg):
        return avg
    return None


def _money(order: OrderSnapshot, entry: float, exit_: float) -> float:
    """Dollars between two prices for the order's remaining quantity."""
    return abs(exit_ - entry) * order.remaining * order.instrument.multiplier


def _label(order: OrderSnapshot, role: LineRole, stake: float) -> str:
    head = f"{order.side.value} {_qty(order.remaining)} {order.order_type.value}"
    if role is LineRole.TAKE_PROFIT:
        return head + ("" if math.isnan(stake) else f" · target +${stake:,.2f}")
    if math.isnan(stake):
        return head + (" · no stop" if role is LineRole.ENTRY else "")
    return head + f" · risk ${stake:,.2f}"


def _qty(qty: float) -> str:
    return f"{int(qty):,}" if float(qty).is_integer() else f"{qty:,.4f}".rstrip("0")


def _decimals(inst: Instrument) -> int:
    tick = f"{inst.min_tick:.10f}".rstrip("0").partition(".")[2]
    return min(max(2, len(tick)), 10)
