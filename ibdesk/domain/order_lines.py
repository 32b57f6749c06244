"""What a chart draws for the trader's orders and position: the lines, their roles, their money.

A working order is a line at its price: an **entry** (opens or adds), a **take-profit** (a
limit that closes at a gain) or a **stop** (closes at a loss). A bracket's children say their
role through their parent; a lone order closing part of the position is a take-profit if it is
a limit and a stop otherwise. Each line's label gives the quantity, the type, and the money at
stake: the loss if a stop fills (from the entry it protects, or the position's average price),
the gain if a take-profit fills, and for an entry the loss at its own stop ("no stop" when
there is none, which is worth seeing).

A chart keeps a :class:`LineBook` per instrument: it takes changed orders and recomputes
only the lines they touch (the order's own, its parent's, its children's), so one change
among 10,000 working orders costs a handful of lines, not 10,000. The book also sums its
lines per price (:class:`PriceLevels`), which a chart draws instead when it has too many
lines to show one by one.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
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
    book = LineBook(con_id)
    book.load(orders, position_qty, position_avg)
    return list(book.lines.values())


class LineBook:
    """The lines of one instrument's live orders, kept current one order change at a time.

    A line depends on its order, its parent (an exit is measured from its entry), its stop
    (an entry's risk is measured to it) and the position (roles and money). :meth:`apply`
    recomputes the lines of the changed orders and of their parents and children only.
    A position change (:meth:`set_position`, after a fill) relabels every line of the
    instrument: that is O(its lines), once per fill, never per order change.

    An entry with several stop children (a bracket has one) measures its risk to the first
    by orderRef, so the answer does not depend on the order updates arrived in.
    """

    def __init__(self, con_id: int) -> None:
        self.con_id = con_id
        self.lines: dict[str, OrderLine] = {}
        """ orderRef -> the line of a live, priced order of the instrument """
        self.levels = PriceLevels()
        self.qty = 0.0
        self.avg = math.nan
        self._live: dict[str, OrderSnapshot] = {}
        """ orderRef -> live order of the instrument, priced or not (a market entry is a
        parent too) """
        self._children: dict[str, set[str]] = {}
        """ parent's orderRef -> refs of its live children """

    def load(self, orders: Iterable[OrderSnapshot], qty: float, avg: float) -> set[str]:
        """Start again from ``orders`` (any instrument, any state: the book keeps its own
        live ones) and a position; returns the refs whose lines changed."""
        before = set(self.lines)
        self.lines.clear()
        self.levels.clear()
        self._live.clear()
        self._children.clear()
        self.qty, self.avg = qty, avg
        for order in orders:
            self._put(order.ref, order, {})
        return self._relines(dict.fromkeys(self._live)) | before

    def set_position(self, qty: float, avg: float) -> set[str]:
        """The instrument's position (signed quantity, average price; NaN when flat);
        returns the refs whose lines changed (none when the position did not)."""
        if qty == self.qty and (avg == self.avg or (math.isnan(avg) and math.isnan(self.avg))):
            return set()
        self.qty, self.avg = qty, avg
        return self._relines(dict.fromkeys(self._live))

    def apply(self, changes: Iterable[tuple[str, OrderSnapshot | None]]) -> set[str]:
        """Take changed orders (a ref and its snapshot now; None when gone); returns the
        refs whose lines changed. An order of another instrument costs a lookup."""
        touched: dict[str, None] = {}
        for ref, snap in changes:
            self._put(ref, snap, touched)
        return self._relines(touched)

    def _put(self, ref: str, snap: OrderSnapshot | None, touched: dict[str, None]) -> None:
        """File an order's change; note in ``touched`` every line it may change."""
        old = self._live.get(ref)
        keep = snap is not None and snap.state.live and snap.instrument.con_id == self.con_id
        if old is None and not keep:
            return
        if old is not None and old.parent_ref:
            kids = self._children[old.parent_ref]
            kids.discard(ref)
            if not kids:
                del self._children[old.parent_ref]
            touched[old.parent_ref] = None
        if snap is not None and keep:
            self._live[ref] = snap
            if snap.parent_ref:
                self._children.setdefault(snap.parent_ref, set()).add(ref)
                touched[snap.parent_ref] = None
        else:
            del self._live[ref]
        touched[ref] = None
        touched.update(dict.fromkeys(self._children.get(ref, ())))

    def _relines(self, refs: Iterable[str]) -> set[str]:
        changed = set()
        for ref in refs:
            new, old = self._line(ref), self.lines.get(ref)
            if new == old:
                continue
            if old is not None:
                self.levels.remove(old)
            if new is None:
                del self.lines[ref]
            else:
                self.lines[ref] = new
                self.levels.add(new)
            changed.add(ref)
        return changed

    def _line(self, ref: str) -> OrderLine | None:
        order = self._live.get(ref)
        price = line_price(order) if order is not None else None
        if order is None or price is None or math.isnan(price):
            return None
        role = _role(order, self.qty)
        start: float | None
        end: float | None
        if role is LineRole.ENTRY:  # the risk: from here to its stop
            stop = self._stop_of(ref)
            start, end = price, (line_price(stop) if stop is not None else None)
        else:  # the money: from its entry (or the position's average) to here
            start, end = self._reference(order), price
        # An unknown end (None or NaN) leaves the money unknown: math.nan itself, so that an
        # unchanged line compares equal to itself and is not redrawn.
        stake = (
            _money(order, start, end)
            if start is not None and end is not None and not math.isnan(start - end)
            else math.nan
        )
        moves = "limit" if order.order_type is OrderType.LIMIT else "stop"
        return OrderLine(ref, role, price, moves, order, stake, _label(order, role, stake))

    def _stop_of(self, ref: str) -> OrderSnapshot | None:
        stops = [c for c in self._children.get(ref, ()) if _is_stop(self._live[c])]
        return self._live[min(stops)] if stops else None

    def _reference(self, order: OrderSnapshot) -> float | None:
        """The price an exit is measured from: its parent's entry, else the position's
        average."""
        parent = self._live.get(order.parent_ref) if order.parent_ref else None
        if parent is not None:
            return line_price(parent)
        if self.qty and not math.isnan(self.avg):
            return self.avg
        return None


@dataclass(frozen=True, slots=True)
class PriceLevel:
    """The lines at one price summed: how many orders, the quantity left on each side, and
    the role they share (None when they differ)."""

    price: float
    orders: int
    buy: float
    sell: float
    role: LineRole | None

    @property
    def label(self) -> str:
        """``Σ 12 orders · BUY 30 · SELL 4``: a sum, and it says so."""
        text = f"Σ {self.orders} order{'' if self.orders == 1 else 's'}"
        if self.buy > 1e-9:
            text += f" · BUY {_qty(self.buy)}"
        if self.sell > 1e-9:
            text += f" · SELL {_qty(self.sell)}"
        return text


class _Tally:
    """The running sums of one price."""

    __slots__ = ("buy", "orders", "roles", "sell")

    def __init__(self) -> None:
        self.orders = 0
        self.buy = 0.0
        self.sell = 0.0
        self.roles: Counter[LineRole] = Counter()


class PriceLevels:
    """Order lines summed per price, kept as lines come, change and go (O(log prices) each),
    the prices in order so that a chart finds those in view by bisection.

    ``version`` changes with every change (a chart repaints when it does).
    """

    def __init__(self) -> None:
        self.prices: list[float] = []
        """ every price with a line, ascending """
        self.version = 0
        self._at: dict[float, _Tally] = {}

    def __len__(self) -> int:
        return len(self.prices)

    def clear(self) -> None:
        """No lines."""
        self.prices.clear()
        self._at.clear()
        self.version += 1

    def add(self, line: OrderLine) -> None:
        """Count a line at its price."""
        tally = self._at.get(line.price)
        if tally is None:
            tally = self._at[line.price] = _Tally()
            bisect.insort(self.prices, line.price)
        self._count(tally, line, 1)

    def remove(self, line: OrderLine) -> None:
        """Uncount a line counted by :meth:`add` (the same line, as it was then)."""
        tally = self._at[line.price]
        self._count(tally, line, -1)
        if not tally.orders:  # the last one gone: drop the level, and any rounding left in it
            del self._at[line.price]
            del self.prices[bisect.bisect_left(self.prices, line.price)]

    def _count(self, tally: _Tally, line: OrderLine, sign: int) -> None:
        tally.orders += sign
        qty = sign * line.order.remaining
        if line.order.side is Side.BUY:
            tally.buy += qty
        else:
            tally.sell += qty
        tally.roles[line.role] += sign
        if not tally.roles[line.role]:
            del tally.roles[line.role]
        self.version += 1

    def level(self, price: float) -> PriceLevel:
        """The sums at one price that has lines."""
        tally = self._at[price]
        role = next(iter(tally.roles)) if len(tally.roles) == 1 else None
        return PriceLevel(price, tally.orders, tally.buy, tally.sell, role)

    def between(self, low: float, high: float) -> list[float]:
        """The prices with lines from ``low`` to ``high``, ascending."""
        lo = bisect.bisect_left(self.prices, low)
        return self.prices[lo : bisect.bisect_right(self.prices, high, lo)]

    def beyond(self, low: float, high: float) -> tuple[int, int]:
        """How many prices with lines lie below ``low``, and how many above ``high``."""
        below = bisect.bisect_left(self.prices, low)
        return below, len(self.prices) - bisect.bisect_right(self.prices, high)


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
