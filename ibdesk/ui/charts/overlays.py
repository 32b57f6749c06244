"""The trader's orders, position and fills drawn on a chart, live from the stores.

Working orders are horizontal lines in their role's colour (entry blue, take-profit green,
stop red) labelled with quantity, type and the money at stake, with a tag on the price axis.
The position's average price is an amber line whose label carries the open P&L at the last
price. Fills are triangles at their time and price (up for buys, down for sells).

The overlay takes the refs of changed orders from the store's dirty set and, on the chart's
frame, updates only their lines (and their parents' and children's: a :class:`LineBook`),
so a burst of order updates costs one pass over what changed, never over every order. Past
:data:`MAX_EXACT_LINES` lines on a chart, each price gets one line with the summed quantity
(``ladder``): a chart cannot show 10,000 labels, and drawing them stalled the desk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.order_lines import LineBook, LineRole, OrderLine, position_label
from ibdesk.domain.orders import FillSnapshot, Side
from ibdesk.ui import theme
from ibdesk.ui.charts.axes import PriceTag
from ibdesk.ui.charts.ladder import OrderLadderItem
from ibdesk.ui.charts.view import ChartView

if TYPE_CHECKING:
    from ibdesk.state.account import PositionStore
    from ibdesk.state.orders import OrderStore

ENTRY_COLOR = "#4f8fe0"
POSITION_COLOR = "#d29922"
#: Seconds a dragged line stays where it was dropped while the broker has not confirmed.
PENDING_FOR = 5.0
#: Up to this many order lines a chart draws each order as its own line (labelled, tagged
#: on the price axis, draggable); beyond it, one line per price with the summed quantity.
#: 40 is IB's limit of 20 working orders per contract and side of an account, times two
#: sides: whatever one account can have working on a contract is drawn order by order. It
#: is also about what a chart's height can label (a label needs ~18 px); and at ~0.8 ms to
#: create a line, crossing the cap costs one frame of ~30 ms, once.
MAX_EXACT_LINES = 40
#: Where an order line's label sits along it (fractions of the plot's width), the pixels a
#: label needs in height, and the gap between two labels set side by side; past LABEL_END
#: a label goes back to the start (a chart that narrow cannot hold them all).
LABEL_START, LABEL_END, LABEL_PX, LABEL_GAP_PX = 0.02, 0.8, 24.0, 12.0


def role_color(role: LineRole | None) -> QColor:
    """Entry blue, take-profit the theme's gain colour, stop its loss colour; mixed roles
    (an aggregate line) the theme's text colour."""
    t = theme.current()
    if role is None:
        return QColor(t.text)
    if role is LineRole.TAKE_PROFIT:
        return t.color("gain")
    if role is LineRole.STOP:
        return t.color("loss")
    return QColor(ENTRY_COLOR)


def line_tip(line: OrderLine, placed_by: str = "") -> str:
    """A line's tooltip: its label, who placed the order (another client's strategy with
    its client id) and why (a strategy's signal)."""
    order = line.order
    tip = f"{line.label}\nfrom {placed_by or order.source}"
    return f"{tip}\nwhy: {order.why}" if order.why else tip


class OrderLineItem(pg.InfiniteLine):  # type: ignore[misc]
    """A working order's line; while the chart is armed it can be dragged, snapping to the
    instrument's tick.

    ``pending``: the price it was dropped at, shown until the broker echoes it (or
    :data:`PENDING_FOR` passes: then the broker's price wins, whatever it is).
    """

    def __init__(
        self,
        line: OrderLine,
        inst: Instrument,
        decimals: int,
        placed_by: Callable[[str], str] = str,
        own: bool = True,
    ) -> None:
        color = role_color(line.role)
        pen = pg.mkPen(color, width=1.5)
        hover = pg.mkPen(color, width=3)
        super().__init__(pos=line.price, angle=0, movable=False, pen=pen, hoverPen=hover)
        self.inst = inst
        self.decimals = decimals
        self.line = line
        self.placed_by = placed_by
        self.own = own
        """ placed by this client: another client's order is shown, never dragged """
        self.pending: tuple[float, float] | None = None
        """ (price, until monotonic time) of a drag the broker has not echoed yet """
        fill = QColor(theme.current().base)
        fill.setAlpha(200)
        self.text = pg.InfLineLabel(
            self,
            text=line.label,
            position=LABEL_START,
            anchors=[(0, 1), (0, 1)],
            color=color,
            fill=fill,
        )
        self.setToolTip(line_tip(line, placed_by(line.ref)))
        self.setZValue(20)

    def setPos(self, pos: object) -> None:
        """Move the line; a dragged line lands on the tick grid."""
        if getattr(self, "inst", None) is not None and not isinstance(pos, (int, float)):
            point = pg.Point(pos)
            point[1] = self.inst.round_to_tick(point[1])
            pos = point
        super().setPos(pos)
        if getattr(self, "moving", False):
            self.text.setFormat(f"{self.line.label}  →  {self.value():,.{self.decimals}f}")

    def follow(self, line: OrderLine) -> None:
        """The order as the store has it now (a line being dragged or awaiting the broker's
        word stays where the trader put it)."""
        self.line = line
        if self.moving:
            return
        if self.pending is not None:
            price, until = self.pending
            if abs(line.price - price) < self.inst.min_tick / 2 or time.monotonic() > until:
                self.pending = None
            else:
                return
        if self.value() != line.price:
            super().setPos(line.price)
        self.text.setFormat(line.label)
        self.setToolTip(line_tip(line, self.placed_by(line.ref)))
        color = role_color(line.role)
        self.setPen(pg.mkPen(color, width=1.5))
        self.setHoverPen(pg.mkPen(color, width=3))

    def snap_back(self) -> None:
        """The drag was refused or cancelled: back to the order's price."""
        self.pending = None
        super().setPos(self.line.price)
        self.text.setFormat(self.line.label)


class TradingOverlay:
    """Order lines, the position line and fill markers of one instrument on one chart.

    Args:
        view: the chart.
        orders, positions: the stores to follow.
        account: the account whose position is drawn (called each time: it can change).
        on_drop: called with a line and its new price when the trader drops a dragged line.

    ``lines`` holds the per-order lines (empty while ``aggregated``: then ``ladder`` draws
    one line per price).
    """

    def __init__(
        self,
        view: ChartView,
        orders: OrderStore,
        positions: PositionStore,
        account: Callable[[], str],
        on_drop: Callable[[OrderLineItem, float], None],
    ) -> None:
        self.view = view
        self.orders = orders
        self.positions = positions
        self.account = account
        self.on_drop = on_drop
        self.inst: Instrument | None = None
        self.decimals = 2
        self.armed = False
        self.book: LineBook | None = None
        self.lines: dict[str, OrderLineItem] = {}
        """ orderRef -> its line """
        self.aggregated = False
        self._orders_dirty = orders.dirty_set()
        self._reload = True
        self._pending: set[str] = set()
        """ refs of lines dropped by the trader, not yet echoed by the broker """
        self._fills: list[FillSnapshot] = []
        """ this instrument's fills, in arrival order """
        self._fills_drawn = 0
        self._fills_seen: tuple[int, int] = (-1, -1)
        """ (first seq, length) of the series the markers were placed on """
        self._staggered: tuple[object, ...] = ()
        """ what the line labels were last placed for (lines, prices in view, size) """
        dashed = pg.mkPen(POSITION_COLOR, width=1.5, style=Qt.PenStyle.DashLine)
        self.position_line = pg.InfiniteLine(angle=0, movable=False, pen=dashed)
        fill = QColor(theme.current().base)
        fill.setAlpha(200)
        self.position_text = pg.InfLineLabel(
            self.position_line,
            text="",
            position=0.55,
            anchors=[(0.5, 1), (0.5, 1)],
            color=POSITION_COLOR,
            fill=fill,
        )
        self.position_line.setVisible(False)
        self.position_line.setZValue(15)
        self.fills = pg.ScatterPlotItem(size=11, pxMode=True)
        self.fills.setZValue(25)
        self.ladder = OrderLadderItem(role_color)
        self.ladder.setVisible(False)
        view.price_plot.addItem(self.position_line, ignoreBounds=True)
        view.price_plot.addItem(self.fills, ignoreBounds=True)
        view.price_plot.addItem(self.ladder, ignoreBounds=True)
        orders.filled += self._on_fill

    def close(self) -> None:
        """Stop following the stores."""
        self.orders.release(self._orders_dirty)
        self.orders.filled -= self._on_fill

    def set_instrument(self, inst: Instrument | None, decimals: int) -> None:
        """Draw another instrument's orders and position."""
        self.inst, self.decimals = inst, decimals
        for ref in list(self.lines):
            self._remove(ref)
        self.book = LineBook(inst.con_id) if inst is not None else None
        self.aggregated = False
        self.ladder.setVisible(False)
        self.ladder.set_levels(self.book.levels if self.book is not None else None, decimals)
        self._reload = True
        self._fills = (
            [f for f in self.orders.fills.values() if f.instrument.con_id == inst.con_id]
            if inst is not None
            else []
        )
        self._fills_seen = (-1, -1)

    def set_armed(self, armed: bool) -> None:
        """Lines can be dragged only while the chart is armed."""
        self.armed = armed
        for item in self.lines.values():
            item.setMovable(armed and item.own)

    def _on_fill(self, fill: FillSnapshot) -> None:
        if self.inst is not None and fill.instrument.con_id == self.inst.con_id:
            self._fills.append(fill)

    # ---- the frame ----------------------------------------------------------------------------

    def frame(self, last_price: float) -> None:
        """Bring lines, position and fills up to the stores: O(what changed since the last
        frame), and cheap when nothing did."""
        self._sync_lines()
        self._sync_position(last_price)
        self._sync_fills()
        self._stagger_labels()

    def _stagger_labels(self) -> None:
        """Labels of lines closer than a label's height set side by side along them, so
        that each stays readable (a stop a tick from another order wrote over it). Worked
        out again only when the lines, the prices in view or the plot's size change."""
        vb = self.view.price_plot.getViewBox()
        (_, _), (low, high) = vb.viewRange()
        width, height = vb.width(), vb.height()
        items = sorted(self.lines.values(), key=lambda i: -i.value())
        key = (tuple((id(i), i.value()) for i in items), low, high, width, height)
        if key == self._staggered or width <= 0 or height <= 0 or high <= low:
            return
        self._staggered = key
        at, last_y, last_right = LABEL_START, -math.inf, 0.0
        for item in items:
            y = (high - item.value()) / (high - low) * height
            if y - last_y < LABEL_PX and last_right + LABEL_GAP_PX < width * LABEL_END:
                at = (last_right + LABEL_GAP_PX) / width  # beside the label above it
            else:
                at = LABEL_START
            item.text.setPosition(at)
            last_y, last_right = y, at * width + item.text.boundingRect().width()

    def _position(self) -> tuple[float, float]:
        inst = self.inst
        if inst is None:
            return 0.0, math.nan
        pos = self.positions.positions.get((self.account(), inst.con_id))
        if pos is None:  # another account of the login holds it
            pos = next(
                (p for (_, c), p in self.positions.positions.items() if c == inst.con_id), None
            )
        return (pos.qty, pos.avg_price) if pos is not None else (0.0, math.nan)

    def _sync_lines(self) -> None:
        book, dirty = self.book, self._orders_dirty
        if book is None:
            dirty.clear()
            return
        qty, avg = self._position()
        if self._reload:
            self._reload = False
            dirty.clear()
            changed = book.load(self.orders.of_instrument(book.con_id), qty, avg)
        else:
            changed = book.set_position(qty, avg)
            if dirty:
                refs = list(dirty)
                dirty.clear()
                changed |= book.apply((ref, self.orders.get(ref)) for ref in refs)
        if changed or self._pending:
            self._show(changed)

    def _show(self, changed: set[str]) -> None:
        """Per-order lines for what changed, or the per-price ladder past the cap."""
        assert self.book is not None
        if len(self.book.lines) > MAX_EXACT_LINES:
            if not self.aggregated:
                for ref in list(self.lines):
                    self._remove(ref)
                self.aggregated = True
                self.ladder.setVisible(True)
            self.ladder.refresh()
            return
        if self.aggregated:  # back under the cap: every order its own line again
            self.aggregated = False
            self.ladder.setVisible(False)
            changed = set(self.book.lines)
        for ref in changed | self._pending:
            line = self.book.lines.get(ref)
            if line is None:
                if ref in self.lines:
                    self._remove(ref)
            else:
                self._draw(line)

    def _draw(self, line: OrderLine) -> None:
        assert self.inst is not None
        ref = line.ref
        item = self.lines.get(ref)
        if item is None:
            item = self.lines[ref] = OrderLineItem(
                line,
                self.inst,
                self.decimals,
                self.orders.placed_by,
                own=self.orders.is_own(line.order),
            )
            item.setMovable(self.armed and item.own)
            item.sigPositionChangeFinished.connect(self._dropped)
            self.view.price_plot.addItem(item, ignoreBounds=True)
        item.follow(line)
        if item.pending is None:
            self._pending.discard(ref)
        color = role_color(line.role)
        text = f"{item.value():,.{self.decimals}f}"
        tag = PriceTag(item.value(), text, color, QColor("#ffffff"))
        self.view.price_axis.set_tag(f"order:{ref}", tag)

    def _remove(self, ref: str) -> None:
        item = self.lines.pop(ref)
        self._pending.discard(ref)
        self.view.price_plot.removeItem(item)
        self.view.price_axis.set_tag(f"order:{ref}", None)

    def _dropped(self, item: OrderLineItem) -> None:
        price = item.value()
        if abs(price - item.line.price) < item.inst.min_tick / 2:
            item.snap_back()
            return
        item.pending = (price, time.monotonic() + PENDING_FOR)
        self._pending.add(item.line.ref)
        self.on_drop(item, price)

    def _sync_position(self, last: float) -> None:
        inst = self.inst
        qty, avg = self._position()
        line = self.position_line
        if inst is None or not qty or math.isnan(avg):
            line.setVisible(False)
            self.view.price_axis.set_tag("position", None)
            return
        text, _ = position_label(inst, qty, avg, last)
        tag = PriceTag(avg, f"{avg:,.{self.decimals}f}", QColor(POSITION_COLOR), QColor("#000000"))
        self.view.price_axis.set_tag("position", tag)
        if line.value() != avg:
            line.setPos(avg)
        if self.position_text.format != text:
            self.position_text.setFormat(text)
        line.setVisible(True)

    def _sync_fills(self) -> None:
        """Markers for new fills only; all of them again when the bars under them moved
        (a new bar, a back-fill: once a bar, not once a fill)."""
        inst, series = self.inst, self.view.series
        if inst is None or series is None or not len(series):
            if self._fills_seen != (-1, -1):
                self.fills.clear()
                self._fills_seen = (-1, -1)
            return
        seen = (series.first_seq, len(series))
        if seen != self._fills_seen:
            self._fills_seen = seen
            self.fills.clear()
            self._fills_drawn = 0
        new = self._fills[self._fills_drawn :]
        if not new:
            return
        self._fills_drawn = len(self._fills)
        t = theme.current()
        buys = [f.side is Side.BUY for f in new]
        self.fills.addPoints(
            x=np.array([series.seq_at(f.time) for f in new]),
            y=np.array([f.price for f in new]),
            symbol=["t1" if b else "t" for b in buys],
            brush=[pg.mkBrush(t.gain if b else t.loss) for b in buys],
            pen=[pg.mkPen(t.text, width=0.8)] * len(new),
        )
