"""The trader's orders, position and fills drawn on a chart, live from the stores.

Working orders are horizontal lines in their role's colour (entry blue, take-profit green,
stop red) labelled with quantity, type and the money at stake, with a tag on the price axis.
The position's average price is an amber line whose label carries the open P&L at the last
price. Fills are triangles at their time and price (up for buys, down for sells).

The overlay listens to the stores only to note that something changed; it redraws on the
chart's frame, so a burst of order updates costs one pass.
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
from ibdesk.domain.order_lines import LineRole, OrderLine, order_lines, position_label
from ibdesk.domain.orders import Side
from ibdesk.ui import theme
from ibdesk.ui.charts.axes import PriceTag
from ibdesk.ui.charts.view import ChartView

if TYPE_CHECKING:
    from ibdesk.state.account import PositionStore
    from ibdesk.state.orders import OrderStore

ENTRY_COLOR = "#4f8fe0"
POSITION_COLOR = "#d29922"
#: Seconds a dragged line stays where it was dropped while the broker has not confirmed.
PENDING_FOR = 5.0


def role_color(role: LineRole) -> QColor:
    """Entry blue, take-profit the theme's gain colour, stop its loss colour."""
    t = theme.current()
    if role is LineRole.TAKE_PROFIT:
        return t.color("gain")
    if role is LineRole.STOP:
        return t.color("loss")
    return QColor(ENTRY_COLOR)


class OrderLineItem(pg.InfiniteLine):  # type: ignore[misc]
    """A working order's line; while the chart is armed it can be dragged, snapping to the
    instrument's tick.

    ``pending``: the price it was dropped at, shown until the broker echoes it (or
    :data:`PENDING_FOR` passes: then the broker's price wins, whatever it is).
    """

    def __init__(self, line: OrderLine, inst: Instrument, decimals: int) -> None:
        color = role_color(line.role)
        pen = pg.mkPen(color, width=1.5)
        hover = pg.mkPen(color, width=3)
        super().__init__(pos=line.price, angle=0, movable=False, pen=pen, hoverPen=hover)
        self.inst = inst
        self.decimals = decimals
        self.line = line
        self.pending: tuple[float, float] | None = None
        """ (price, until monotonic time) of a drag the broker has not echoed yet """
        fill = QColor(theme.current().base)
        fill.setAlpha(200)
        self.text = pg.InfLineLabel(
            self, text=line.label, position=0.02, anchors=[(0, 1), (0, 1)], color=color, fill=fill
        )
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
        self.lines: dict[str, OrderLineItem] = {}
        """ orderRef -> its line """
        self._orders_dirty = orders.dirty_set()
        self._dirty = True
        self._fills_seen = (-1, -1, -1)
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
        view.price_plot.addItem(self.position_line, ignoreBounds=True)
        view.price_plot.addItem(self.fills, ignoreBounds=True)
        positions.added += self._mark
        positions.updated += self._mark
        positions.removed += self._mark

    def close(self) -> None:
        """Stop following the stores."""
        self.orders.release(self._orders_dirty)
        self.positions.added -= self._mark
        self.positions.updated -= self._mark
        self.positions.removed -= self._mark

    def set_instrument(self, inst: Instrument | None, decimals: int) -> None:
        """Draw another instrument's orders and position."""
        self.inst, self.decimals = inst, decimals
        for ref in list(self.lines):
            self._remove(ref)
        self._dirty = True
        self._fills_seen = (-1, -1, -1)

    def set_armed(self, armed: bool) -> None:
        """Lines can be dragged only while the chart is armed."""
        self.armed = armed
        for item in self.lines.values():
            item.setMovable(armed)

    def _mark(self, *_: object) -> None:
        self._dirty = True

    # ---- the frame ----------------------------------------------------------------------------

    def frame(self, last_price: float) -> None:
        """Bring lines, position and fills up to the stores (cheap when nothing changed)."""
        if self._orders_dirty or self._dirty or any(i.pending for i in self.lines.values()):
            self._orders_dirty.clear()
            self._dirty = False
            self._sync_lines()
        self._sync_position(last_price)
        self._sync_fills()

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
        inst = self.inst
        if inst is None:
            return
        qty, avg = self._position()
        lines = order_lines(self.orders.orders.values(), inst.con_id, qty, avg)
        wanted = {ln.ref: ln for ln in lines}
        for ref in [r for r in self.lines if r not in wanted]:
            self._remove(ref)
        axis = self.view.price_axis
        for ref, line in wanted.items():
            item = self.lines.get(ref)
            if item is None:
                item = self.lines[ref] = OrderLineItem(line, inst, self.decimals)
                item.setMovable(self.armed)
                item.sigPositionChangeFinished.connect(self._dropped)
                self.view.price_plot.addItem(item, ignoreBounds=True)
            item.follow(line)
            color = role_color(line.role)
            text = f"{item.value():,.{self.decimals}f}"
            axis.set_tag(f"order:{ref}", PriceTag(item.value(), text, color, QColor("#ffffff")))

    def _remove(self, ref: str) -> None:
        item = self.lines.pop(ref)
        self.view.price_plot.removeItem(item)
        self.view.price_axis.set_tag(f"order:{ref}", None)

    def _dropped(self, item: OrderLineItem) -> None:
        price = item.value()
        if abs(price - item.line.price) < item.inst.min_tick / 2:
            item.snap_back()
            return
        item.pending = (price, time.monotonic() + PENDING_FOR)
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
        inst, series = self.inst, self.view.series
        if inst is None or series is None or not len(series):
            if self._fills_seen != (-1, -1, -1):
                self.fills.clear()
                self._fills_seen = (-1, -1, -1)
            return
        seen = (len(self.orders.fills), series.first_seq, len(series))
        if seen == self._fills_seen:
            return
        self._fills_seen = seen
        mine = [f for f in self.orders.fills.values() if f.instrument.con_id == inst.con_id]
        if not mine:
            self.fills.clear()
            return
        t = theme.current()
        xs = np.array([series.seq_at(f.time) for f in mine])
        ys = np.array([f.price for f in mine])
        buys = np.array([f.side is Side.BUY for f in mine])
        self.fills.setData(
            x=xs,
            y=ys,
            symbol=["t1" if b else "t" for b in buys],
            brush=[pg.mkBrush(t.gain if b else t.loss) for b in buys],
            pen=[pg.mkPen(t.text, width=0.8)] * len(mine),
        )
