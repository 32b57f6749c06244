"""One chart's plots: candles over volume, on a shared axis of bar positions.

The view follows the newest bar until the trader scrolls back (and again from End, or when
they scroll back to the edge); the price axis fits the bars in view. It repaints only from
:meth:`ChartView.frame`, which the chart area calls on its frame timer: a flood of ticks
costs one repaint per frame. Keys: Left/Right pan, Up/Down (or +/-) zoom, Home the oldest
bar, End the newest. The wheel zooms time; dragging pans.
"""

from __future__ import annotations

import datetime as dt
import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from ibdesk.state.bars import BarSeries
from ibdesk.ui import theme
from ibdesk.ui.charts.axes import GridItem, PriceAxisItem, PriceTag, TimeAxisItem
from ibdesk.ui.charts.candles import CandleItem, VisibleBars, VolumeItem

#: Bars in view when a chart opens, and the fewest a zoom can show.
START_PIXELS_PER_BAR = 7.0
MIN_BARS = 10
#: Empty space right of the newest bar, as a share of the view.
RIGHT_MARGIN = 0.06
AXIS_WIDTH = 78
PAN_STEP = 0.2
ZOOM_STEP = 1.25


class ChartView(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """Price and volume plots of one :class:`BarSeries`.

    Signals:
        hovered(seq): the crosshair moved over bar position ``seq`` (NaN: it left).
    """

    hovered = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # pyqtgraph caches the background as a picture of the whole view, copied back on
        # every repaint by a pool of threads; the background is one colour, and filling it
        # costs less than the copy (four live charts at 10,000 messages a second: about 5 %
        # less CPU for the whole process).
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.series: BarSeries | None = None
        self.visible = VisibleBars()
        self.following = True
        self.decimals = 2
        self.tick = 0.0
        self._moving = False
        self._last_len = 0
        self._last_seq = 0
        self.ci.layout.setSpacing(0)
        self.ci.setContentsMargins(0, 0, 0, 0)
        self.price_axis = PriceAxisItem()
        self.time_axis = TimeAxisItem()
        self.price_plot = self.addPlot(row=0, col=0, axisItems={"right": self.price_axis})
        self.volume_plot = self.addPlot(row=1, col=0, axisItems={"bottom": self.time_axis})
        self.ci.layout.setRowStretchFactor(0, 5)
        self.ci.layout.setRowStretchFactor(1, 1)
        for plot in (self.price_plot, self.volume_plot):
            plot.hideAxis("left")
            plot.showAxis("right")
            plot.getAxis("right").setWidth(AXIS_WIDTH)
            for name in ("left", "right", "top", "bottom"):
                # An SI prefix rewrites the axis label's HTML on every range change.
                plot.getAxis(name).enableAutoSIPrefix(False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.showGrid(x=False, y=False)
            vb = plot.getViewBox()
            vb.setMouseEnabled(x=True, y=False)
            vb.enableAutoRange(x=False, y=False)
            vb.setDefaultPadding(0.0)
        self.price_plot.hideAxis("bottom")
        self.volume_plot.setXLink(self.price_plot)
        self.volume_plot.getAxis("right").setStyle(showValues=False)
        self.candles = CandleItem(self.visible)
        self.volume = VolumeItem(self.visible)
        self.price_grid = GridItem(self.time_axis, self.price_axis)
        self.volume_grid = GridItem(self.time_axis, None)
        self.price_plot.addItem(self.price_grid, ignoreBounds=True)
        self.volume_plot.addItem(self.volume_grid, ignoreBounds=True)
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        dash = pg.mkPen(theme.current().dim, width=1, style=Qt.PenStyle.DashLine)
        self.cross_x = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        self.cross_y = pg.InfiniteLine(angle=0, movable=False, pen=dash)
        self.cross_x_volume = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        for line, plot in (
            (self.cross_x, self.price_plot),
            (self.cross_y, self.price_plot),
            (self.cross_x_volume, self.volume_plot),
        ):
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
        self.price_box.sigXRangeChanged.connect(self._on_x_range)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.apply_theme()

    @property
    def price_box(self) -> pg.ViewBox:
        """The price plot's view box (order lines and clicks live there)."""
        return self.price_plot.getViewBox()

    # ---- what is shown ------------------------------------------------------------------------

    def set_series(
        self, series: BarSeries | None, tz: dt.tzinfo, decimals: int, tick: float = 0.0
    ) -> None:
        """Show a series (None: nothing); the view jumps to its newest bars. ``tick``: the
        instrument's price increment (the crosshair's price snaps to it)."""
        self.series = series
        self.decimals = decimals
        self.tick = tick
        self.visible.set_series(series)
        self.time_axis.set_series(series, tz)
        self.following = True
        self._last_len = 0
        self.frame()

    def apply_theme(self) -> None:
        """Colours from the current theme."""
        t = theme.current()
        self.setBackground(t.base)
        grid = QColor(t.base).lighter(140) if t.name == "dark" else QColor(t.base).darker(108)
        self.price_grid.color = self.volume_grid.color = grid
        for item in (self.candles, self.volume):
            item.set_colors(t.color("gain"), t.color("loss"))
        for plot in (self.price_plot, self.volume_plot):
            for name in ("right", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(t.dim))
                axis.setTextPen(pg.mkPen(t.text))

    # ---- the frame ----------------------------------------------------------------------------

    def frame(self) -> None:
        """Once per frame: follow the newest bar, fit the prices, repaint what changed."""
        series = self.series
        if series is not None and len(series):
            grew = series.last_seq - self._last_seq if self._last_len else 0
            if not self._last_len:
                self.show_latest(keep_zoom=False)
            elif self.following and grew:
                self._shift(grew)
            self._last_len, self._last_seq = len(series), series.last_seq
        self.candles.refresh()
        self._fit_prices()
        self.volume.refresh()

    def _fit_prices(self) -> None:
        lo, hi = self.visible.price_range()
        if not math.isfinite(lo):
            return
        pad = max((hi - lo) * 0.06, 10.0**-self.decimals)
        current = self.price_box.viewRange()[1]
        want = (lo - pad, hi + pad)
        if abs(current[0] - want[0]) > 1e-9 or abs(current[1] - want[1]) > 1e-9:
            self.price_box.setYRange(*want, padding=0)
        top = self.visible.volume_max()
        if top > 0 and abs(self.volume_plot.getViewBox().viewRange()[1][1] - top * 1.1) > 1e-9:
            self.volume_plot.getViewBox().setYRange(0, top * 1.1, padding=0)

    # ---- moving around ------------------------------------------------------------------------

    def show_latest(self, keep_zoom: bool = True) -> None:
        """Jump to the newest bar and follow it; at the trader's zoom, or (first load, or
        ``keep_zoom`` False) as many bars as fit at a readable width."""
        series = self.series
        if series is None or not len(series):
            return
        x0, x1 = self.price_box.viewRange()[0]
        bars = x1 - x0
        if not keep_zoom or bars < MIN_BARS:
            bars = max(MIN_BARS, max(self.price_box.width(), 200.0) / START_PIXELS_PER_BAR)
        self.following = True
        self._set_x(series.last_seq + 0.5 - bars * (1 - RIGHT_MARGIN), bars)

    def _shift(self, bars: float) -> None:
        x0, x1 = self.price_box.viewRange()[0]
        self._set_x(x0 + bars, x1 - x0)

    def _set_x(self, x0: float, width: float) -> None:
        self._moving = True
        try:
            self.price_box.setXRange(x0, x0 + width, padding=0)
        finally:
            self._moving = False

    def pan(self, fraction: float) -> None:
        """Move the view by a share of its width (negative: back in time)."""
        x0, x1 = self.price_box.viewRange()[0]
        self.price_box.setXRange(x0 + fraction * (x1 - x0), x1 + fraction * (x1 - x0), padding=0)

    def zoom(self, factor: float) -> None:
        """Show ``factor`` times as many bars (below 1: zoom in), keeping the newest bar in
        place when following."""
        x0, x1 = self.price_box.viewRange()[0]
        width = min(max((x1 - x0) * factor, MIN_BARS), self._max_width())
        anchor = x1 if self.following else (x0 + x1) / 2
        share = 1.0 if self.following else 0.5
        self._set_x(anchor - width * share, width)
        self._on_x_range()

    def _max_width(self) -> float:
        series = self.series
        return max(MIN_BARS * 2.0, (len(series) if series else 0) * 1.1)

    def _on_x_range(self, *_: object) -> None:
        """A range change by the trader: keep following only if the newest bar is in view."""
        series = self.series
        if self._moving or series is None or not len(series):
            return
        self.following = self.price_box.viewRange()[0][1] >= series.last_seq + 0.5

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left/Right pan, Up/Down or +/- zoom, Home oldest, End newest."""
        key = event.key()
        actions = {
            Qt.Key.Key_Left: lambda: self.pan(-PAN_STEP),
            Qt.Key.Key_Right: lambda: self.pan(PAN_STEP),
            Qt.Key.Key_Up: lambda: self.zoom(1 / ZOOM_STEP),
            Qt.Key.Key_Plus: lambda: self.zoom(1 / ZOOM_STEP),
            Qt.Key.Key_Equal: lambda: self.zoom(1 / ZOOM_STEP),
            Qt.Key.Key_Down: lambda: self.zoom(ZOOM_STEP),
            Qt.Key.Key_Minus: lambda: self.zoom(ZOOM_STEP),
            Qt.Key.Key_Home: self._show_oldest,
            Qt.Key.Key_End: self.show_latest,
        }
        action = actions.get(Qt.Key(key))
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def _show_oldest(self) -> None:
        series = self.series
        if series is None or not len(series):
            return
        x0, x1 = self.price_box.viewRange()[0]
        start = series.first_seq - 0.5
        self.price_box.setXRange(start, start + x1 - x0, padding=0)

    # ---- the crosshair ------------------------------------------------------------------------

    def _on_mouse_moved(self, pos: QPointF) -> None:
        inside = self.price_box.sceneBoundingRect().contains(pos)
        inside_volume = self.volume_plot.getViewBox().sceneBoundingRect().contains(pos)
        for line in (self.cross_x, self.cross_y, self.cross_x_volume):
            line.setVisible(inside or inside_volume)
        if not (inside or inside_volume):
            self.price_axis.set_tag("cross", None)
            self.hovered.emit(math.nan)
            return
        box = self.price_box if inside else self.volume_plot.getViewBox()
        at = box.mapSceneToView(pos)
        seq = float(round(at.x()))
        self.cross_x.setPos(seq)
        self.cross_x_volume.setPos(seq)
        self.cross_y.setVisible(inside)
        if inside:
            # A price the instrument can trade at: the one a click there would order at.
            price = round(at.y() / self.tick) * self.tick if self.tick > 0 else at.y()
            self.cross_y.setPos(price)
            t = theme.current()
            tag = PriceTag(price, f"{price:,.{self.decimals}f}", QColor(t.dim), QColor(t.base))
            self.price_axis.set_tag("cross", tag)
        else:
            self.price_axis.set_tag("cross", None)
        self.hovered.emit(seq)

    def leaveEvent(self, event: QEvent) -> None:
        """The crosshair goes with the mouse."""
        for line in (self.cross_x, self.cross_y, self.cross_x_volume):
            line.setVisible(False)
        self.price_axis.set_tag("cross", None)
        self.hovered.emit(math.nan)
        super().leaveEvent(event)
