"""Candles and volume that paint only what is on screen, about one candle per pixel.

:class:`VisibleBars` works out, once per frame, which buckets of bars the view shows
(:meth:`BarSeries.buckets`: O(pixels) however long the series). The completed buckets become a
few ``QPainterPath`` objects kept until the view or an older bar changes; the forming bucket is
merged again and drawn on its own, so a live tick costs one bucket, not a rebuild.
:class:`CandleItem` and :class:`VolumeItem` share one :class:`VisibleBars`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from ibdesk.state.bars import BarSeries
from ibdesk.state.lod import Buckets

#: Candle body width as a share of its slot.
BODY = 0.7
#: Bodies narrower than this many pixels are not drawn: the wick is the candle.
MIN_BODY_PX = 2.5


class VisibleBars:
    """The buckets in view: ``done`` (complete, cached as paths by the items) and
    ``forming`` (the bucket holding the newest bar, merged again on every change).

    ``version`` changes whenever ``done`` does, so the items know when to rebuild paths.
    """

    def __init__(self) -> None:
        self.series: BarSeries | None = None
        self.k = 1
        self.done = Buckets.empty(1)
        self.forming = Buckets.empty(1)
        self.version = 0
        """ changes when ``done`` does (the items rebuild their paths) """
        self.stamp = 0
        """ changes on any change (the items repaint) """
        self._view: tuple[int, int, int, int] | None = None
        self._seen_revision = -1
        self._dirty_from: int | None = None

    def set_series(self, series: BarSeries | None) -> None:
        """Show another series (or none)."""
        self.series = series
        self._view = None
        self._seen_revision = -1
        self.done = self.forming = Buckets.empty(1)
        self.version += 1
        self.stamp += 1

    def changed_from(self, index: int) -> None:
        """The series changed from bar ``index`` on (from the store's event)."""
        series = self.series
        if series is None:
            return
        seq = series.first_seq + index
        self._dirty_from = seq if self._dirty_from is None else min(self._dirty_from, seq)

    def ensure(self, x0: float, x1: float, pixels: float) -> bool:
        """Buckets for the view ``[x0, x1]`` (seqs) across ``pixels``; True if anything
        changed. O(buckets in view); only the forming bucket when just the newest bar did."""
        series = self.series
        if series is None or not len(series) or pixels <= 0:
            if not (len(self.done) or len(self.forming)):
                return False
            self.done = self.forming = Buckets.empty(1)
            self._view = None
            self.version += 1
            self.stamp += 1
            return True
        per_pixel = (x1 - x0) / pixels
        k = 1 if per_pixel <= 1 else 1 << math.ceil(math.log2(per_pixel))
        forming_start = (series.last_seq // k) * k
        # The same buckets in view, and the same bucket forming (a new bar may open another).
        view = (k, math.floor(x0 / k), math.floor(x1 / k), forming_start)
        dirty = self._dirty_from if series.revision != self._seen_revision else None
        if series.revision != self._seen_revision and dirty is None:
            dirty = series.first_seq  # changed without telling us: assume everything did
        self._seen_revision, self._dirty_from = series.revision, None
        if view == self._view and (dirty is None or dirty >= forming_start):
            if dirty is None:
                return False
            self.forming = self._forming(series, k, x1)  # a tick: one bucket again
            self.stamp += 1
            return True
        self._view, self.k = view, k
        everything = series.buckets(k, x0, x1)
        split = int(np.searchsorted(everything.start, forming_start))
        self.done = Buckets(k, everything.start[:split], everything.rows[:, :split])
        self.forming = Buckets(k, everything.start[split:], everything.rows[:, split:])
        self.version += 1
        self.stamp += 1
        return True

    @staticmethod
    def _forming(series: BarSeries, k: int, x1: float) -> Buckets:
        start = (series.last_seq // k) * k
        if start > x1:
            return Buckets.empty(k)
        return series.buckets(k, start, series.last_seq)

    def price_range(self) -> tuple[float, float]:
        """Lowest low and highest high in view (NaNs when there is nothing)."""
        lows = [b.low for b in (self.done, self.forming) if len(b)]
        highs = [b.high for b in (self.done, self.forming) if len(b)]
        if not lows:
            return math.nan, math.nan
        return float(min(x.min() for x in lows)), float(max(x.max() for x in highs))

    def volume_max(self) -> float:
        """Largest bucket volume in view (0 when there is nothing)."""
        vols = [float(b.volume.max()) for b in (self.done, self.forming) if len(b)]
        return max(vols, default=0.0)


@dataclass(eq=False)
class _Layer:
    """Things drawn in one colour: vertical lines (a path) and filled rectangles."""

    color: QColor
    lines: QPainterPath | None = None
    rects: list[QRectF] | None = None
    outline: bool = True
    """ rectangles get a one-pixel outline, so that a flat one still shows """

    def __post_init__(self) -> None:
        # Made once with the layer, not in every paint: the cached layers are painted again
        # on every frame of a live chart.
        self.pen = QPen(self.color)
        self.pen.setCosmetic(True)
        self.pen.setWidth(1)

    def draw(self, p: QPainter) -> None:
        if self.lines is not None:
            p.strokePath(self.lines, self.pen)
        if self.rects:
            p.setPen(self.pen if self.outline else _NO_PEN)
            p.setBrush(self.color)
            p.drawRects(self.rects)


_NO_PEN = QPen(Qt.PenStyle.NoPen)


class _BucketItem(pg.GraphicsObject):  # type: ignore[misc]
    """Paints a :class:`VisibleBars` in its view's coordinates; subclasses say how."""

    def __init__(self, bars: VisibleBars) -> None:
        super().__init__()
        self.bars = bars
        self.up = QColor("#3fb950")
        self.down = QColor("#f05a5a")
        self._layers: list[_Layer] = []
        self._paths_for: tuple[int, bool] | None = None
        self._painted = -1
        self._painted_version = -1
        self._bounds = QRectF()
        self._pixels_per_bar = 1.0

    def set_colors(self, up: QColor, down: QColor) -> None:
        """Candle colours (the theme's gain and loss)."""
        self.up, self.down = up, down
        self._paths_for = None
        self.update()

    def boundingRect(self) -> QRectF:
        # What is painted is always inside the view, so the view's rectangle is the honest
        # bound; computing the series' extent would be O(history) on every change.
        return self._bounds

    def viewTransformChanged(self) -> None:
        """Follow the view: the bound above changes with it (the view's rectangle is fresh
        here, unlike in ``viewRangeChanged``)."""
        super().viewTransformChanged()
        self.prepareGeometryChange()
        self._bounds = self.viewRect() or QRectF()

    def refresh(self) -> None:
        """Bring the buckets up to the view; schedule a repaint if they changed (here or for
        the other item sharing them): of the forming bucket's column alone when nothing else
        did since the last paint, as on a tick.

        Every item over the column still paints, clipped to it, so nothing is left stale;
        what is saved is filling and copying the rest of the plot (four live charts at 10,000
        messages a second: about 3 % less CPU on the main thread).
        """
        self._ensure()
        if self.bars.stamp == self._painted:
            return
        column = self._forming_column()
        if self.bars.version == self._painted_version and column is not None:
            self.update(column)
        else:
            self.update()

    def _forming_column(self) -> QRectF | None:
        """The view's full height over the forming bucket's slot, a few pixels wider."""
        forming, rect = self.bars.forming, self._bounds
        if not len(forming) or rect.isEmpty():
            return None
        margin = 3 / self._pixels_per_bar
        left = float(forming.start[0]) - 0.5 - margin
        right = float(forming.start[-1]) + forming.k - 0.5 + margin
        return QRectF(left, rect.top(), right - left, rect.height())

    def _ensure(self) -> bool:
        view = self.getViewBox()
        rect = self.viewRect()
        if view is None or rect is None:
            return False
        if rect.width() > 0:
            self._pixels_per_bar = view.width() / rect.width()
        return self.bars.ensure(rect.left(), rect.right(), view.width())

    def paint(self, p: QPainter, *_: object) -> None:
        """Draw the cached layers of the completed buckets, then the forming bucket."""
        self._ensure()
        self._painted, self._painted_version = self.bars.stamp, self.bars.version
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        wide = self.bars.k * self._pixels_per_bar * BODY >= MIN_BODY_PX
        if self._paths_for != (self.bars.version, wide):
            self._layers = self._build(self.bars.done, wide)
            self._paths_for = (self.bars.version, wide)
        for layer in (*self._layers, *self._build(self.bars.forming, wide)):
            layer.draw(p)

    def _build(self, b: Buckets, wide: bool) -> list[_Layer]:
        raise NotImplementedError


def _lines(x: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> QPainterPath:
    """Vertical segments from ``y0`` to ``y1`` at ``x`` as one path."""
    n = len(x)
    xs = np.repeat(x, 2)
    ys = np.empty(2 * n)
    ys[0::2], ys[1::2] = y0, y1
    path: QPainterPath = pg.arrayToQPath(xs, ys, connect="pairs", finiteCheck=False)
    return path


def _rects(x: np.ndarray, half: float, y0: np.ndarray, y1: np.ndarray) -> list[QRectF]:
    """Rectangles ``[x - half, x + half] x [y0, y1]``: ``drawRects`` fills a few hundred of
    them several times faster than ``fillPath`` fills the same outlines as one path."""
    return [
        QRectF(left, bottom, 2 * half, top - bottom)
        for left, bottom, top in zip((x - half).tolist(), y0.tolist(), y1.tolist(), strict=True)
    ]


def _centres(b: Buckets) -> np.ndarray:
    """x of each bucket's middle: bar ``seq`` is drawn centred on x = seq."""
    return np.asarray(b.start + (b.k - 1) / 2, dtype=np.float64)


class CandleItem(_BucketItem):
    """OHLC candles: a wick from low to high, a filled body from open to close (a doji's
    body is its one-pixel outline)."""

    def _build(self, b: Buckets, wide: bool) -> list[_Layer]:
        if not len(b):
            return []
        x, up = _centres(b), b.close >= b.open
        layers: list[_Layer] = []
        for mask, color in ((up, self.up), (~up, self.down)):
            if not mask.any():
                continue
            layer = _Layer(color, lines=_lines(x[mask], b.low[mask], b.high[mask]))
            if wide:
                top = np.maximum(b.open[mask], b.close[mask])
                bottom = np.minimum(b.open[mask], b.close[mask])
                layer.rects = _rects(x[mask], b.k * BODY / 2, bottom, top)
            layers.append(layer)
        return layers


class VolumeItem(_BucketItem):
    """Volume bars from zero, in the colour of their candle, dimmed."""

    def set_colors(self, up: QColor, down: QColor) -> None:
        """Dimmed candle colours: volume is context, not the subject."""
        up, down = QColor(up), QColor(down)
        up.setAlpha(110)
        down.setAlpha(110)
        super().set_colors(up, down)

    def _build(self, b: Buckets, wide: bool) -> list[_Layer]:
        if not len(b):
            return []
        x, up = _centres(b), b.close >= b.open
        layers: list[_Layer] = []
        for mask, color in ((up, self.up), (~up, self.down)):
            if not mask.any():
                continue
            zero = np.zeros(int(mask.sum()))
            if wide:
                rects = _rects(x[mask], b.k * BODY / 2, zero, b.volume[mask])
                layers.append(_Layer(color, rects=rects, outline=False))
            else:
                layers.append(_Layer(color, lines=_lines(x[mask], zero, b.volume[mask])))
        return layers
