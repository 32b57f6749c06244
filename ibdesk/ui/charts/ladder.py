"""Many orders on one chart, drawn as one line per price with the summed quantity.

A chart with more order lines than it can show one by one (``MAX_EXACT_LINES`` in
``overlays``) draws :class:`PriceLevels` instead, through this one item: it paints only the
prices in view, at most one line per pixel row and labels that do not overlap, so its work
per paint is bounded by the view (its height, and the prices a tick grid fits in it), never
by the number of orders. Prices beyond the view are counted at its edges. Aggregate lines
are dashed and cannot be dragged: a drag would move many orders at once.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QTransform

from ibdesk.domain.order_lines import LineRole, PriceLevels
from ibdesk.ui import theme

#: Where labels start, as a share of the view's width (the exact lines' labels sit there too).
LABEL_AT = 0.02


class OrderLadderItem(pg.GraphicsObject):  # type: ignore[misc]
    """The per-price lines of a :class:`PriceLevels`, painted in the view's pixels.

    Args:
        color_of: the colour of a role (None: the orders at a price differ in role).

    ``painted`` holds (price, label) of the labels the last paint drew; ``edges`` how many
    prices with orders lay below and above the view.
    """

    def __init__(self, color_of: Callable[[LineRole | None], QColor]) -> None:
        super().__init__()
        self.color_of = color_of
        self.levels: PriceLevels | None = None
        self.decimals = 2
        self.painted: list[tuple[float, str]] = []
        self.edges = (0, 0)
        self._bounds = QRectF()
        self._version = -1
        self.setZValue(20)

    def set_levels(self, levels: PriceLevels | None, decimals: int) -> None:
        """Draw these sums (None: nothing)."""
        self.levels, self.decimals = levels, decimals
        self._version = -1
        self.update()

    def refresh(self) -> None:
        """Repaint if the sums changed since the last paint (once per frame at most)."""
        levels = self.levels
        if levels is not None and levels.version != self._version and self.isVisible():
            self.update()

    def boundingRect(self) -> QRectF:
        # The lines span the view, whatever it shows (as the grid's do).
        return self._bounds

    def viewTransformChanged(self) -> None:
        """The bound is the view's rectangle, fresh here."""
        super().viewTransformChanged()
        self.prepareGeometryChange()
        self._bounds = self.viewRect() or QRectF()

    def paint(self, p: QPainter, *_: object) -> None:
        """Lines and labels of the prices in view, in device pixels (text must not be
        stretched by the view's scale)."""
        rect, levels = self.viewRect(), self.levels
        self.painted = []
        if rect is None or levels is None:
            return
        self._version = levels.version
        low, high = sorted((rect.top(), rect.bottom()))
        self.edges = levels.beyond(low, high)
        to_px = p.transform()
        left = to_px.map(QPointF(rect.left(), low))
        right = to_px.map(QPointF(rect.right(), low))
        p.save()
        p.resetTransform()
        try:
            self._paint_levels(p, levels.between(low, high), to_px, left.x(), right.x())
            self._paint_edges(p, left.x(), right.x(), to_px.map(QPointF(0, high)).y(), left.y())
        finally:
            p.restore()

    def _paint_levels(
        self, p: QPainter, prices: list[float], to_px: QTransform, x0: float, x1: float
    ) -> None:
        levels = self.levels
        assert levels is not None
        height = p.fontMetrics().height() + 2
        fill = QColor(theme.current().base)
        fill.setAlpha(200)
        last_line, last_label = None, -1e9
        label_x = x0 + LABEL_AT * (x1 - x0)
        for price in reversed(prices):  # top of the chart first: pixel rows grow downwards
            y = to_px.map(QPointF(0, price)).y()
            row = round(y)
            level = levels.level(price)
            color = self.color_of(level.role)
            if row != last_line:  # one line per pixel row is all a screen can show
                pen = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.drawLine(QPointF(x0, y), QPointF(x1, y))
                last_line = row
            if y - last_label < height:
                continue  # this label would cover the one above it
            text = level.label
            width = p.fontMetrics().horizontalAdvance(text) + 8
            box = QRectF(label_x, y - height, width, height)
            p.fillRect(box, fill)
            p.setPen(color)
            p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
            self.painted.append((price, text))
            last_label = y

    def _paint_edges(self, p: QPainter, x0: float, x1: float, top: float, bottom: float) -> None:
        """How many prices with orders lie beyond the top and bottom edges ("▲ orders at 12
        more prices"): orders out of view are still orders."""
        below, above = self.edges
        p.setPen(QColor(theme.current().text))
        height = p.fontMetrics().height() + 2
        label_x = x0 + LABEL_AT * (x1 - x0)
        for count, y, arrow in ((above, top, "\u25b2"), (below, bottom - height, "\u25bc")):
            if count:
                text = f"{arrow} orders at {count:,} more price{'' if count == 1 else 's'}"
                p.drawText(QRectF(label_x, y, x1 - label_x, height), 0, text)
