"""The chart's axes: time labels for bar positions, and price tags on the price axis.

The x coordinate of a chart is the bar's seq, not its time, so nights and weekends take no
room. :class:`TimeAxisItem` turns seqs back into times and puts its ticks where the clock
passes a round step (a quarter hour, a day …) in the zone chosen in the View menu (the
exchange's, or local), and says which zone on its first clock label. It looks only at
about one bar per pixel of the axis, so labelling a million bars costs what a thousand do.

:class:`PriceAxisItem` draws tags on top of its ticks: the last price, and the crosshair's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from ibdesk.domain.times import label
from ibdesk.state.bars import BarSeries

#: Clock steps a time axis may label, in seconds (months and years are calendar steps).
STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200)
DAY = 86400
MONTH, YEAR = 31 * DAY, 366 * DAY
#: Pixels between time labels, about.
LABEL_SPACING = 100.0
#: Axis lengths (pixels) this close give the same ticks.
SIZE_SLACK = 4.0
#: What ``AxisItem.tickValues`` returns: (spacing, positions) per level of ticks.
Ticks = list[tuple[float, list[float]]]


class TimeAxisItem(pg.AxisItem):  # type: ignore[misc]
    """A bottom axis that labels bar positions (seqs) with their times."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("bottom", **kwargs)
        self.series: BarSeries | None = None
        self.tz: dt.tzinfo = dt.UTC
        self._asked: tuple[float, ...] = ()
        self._asked_size = 0.0
        self._ticks: Ticks = []

    def set_series(self, series: BarSeries | None, tz: dt.tzinfo) -> None:
        """Label ``series``'s bars in ``tz`` (daily bars are always dated, not timed)."""
        self.series = series
        self.tz = tz
        self._asked = ()
        self.picture = None
        self.update()

    def tickValues(self, low: float, high: float, size: float) -> Ticks:
        """Ticks where the clock passes a round step, about every 100 pixels (the axis and
        both grids ask in one frame: the answer is kept until the view or series moves).

        The axis measures its length a pixel or two longer than the view the grids measure
        (pyqtgraph counts its ends): a size within :data:`SIZE_SLACK` of the last one asked
        gets the same answer, or every move of the view worked the ticks out twice.
        """
        series = self.series
        if series is None or not len(series) or size <= 0 or high <= low:
            return []
        asked = (low, high, series.first_seq, len(series))
        if asked != self._asked or abs(size - self._asked_size) > SIZE_SLACK:
            self._asked, self._asked_size = asked, size
            self._ticks = self._compute_ticks(series, low, high, size)
        return self._ticks

    def _compute_ticks(self, series: BarSeries, low: float, high: float, size: float) -> Ticks:
        first, last = math.ceil(low), math.floor(high)
        stride = max(1, math.ceil((last - first + 1) / size))  # about one bar per pixel
        seqs = np.arange(first, last + 1, stride)
        if len(seqs) < 2:
            return []
        times = series.times_at(seqs)
        seconds_per_px = (times[-1] - times[0]) / size if times[-1] > times[0] else 1.0
        step = self._pick_step(seconds_per_px * LABEL_SPACING, series.timeframe.seconds)
        keys = self._keys(times, step)
        ticks = seqs[1:][keys[1:] != keys[:-1]]
        return [(float(step), ticks.tolist())]

    @staticmethod
    def _pick_step(wanted: float, bar_seconds: int) -> float:
        for step in (*STEPS, DAY, 7 * DAY, MONTH, 3 * MONTH, YEAR):
            if step >= max(wanted, bar_seconds):
                return float(step)
        return float(YEAR)

    def _keys(self, times: np.ndarray, step: float) -> np.ndarray:
        """Which step each time falls in, counted on the exchange's clock (so that days
        turn at midnight there)."""
        daily = self.series is not None and not self.series.timeframe.intraday
        tz = dt.UTC if daily else self.tz
        mid = dt.datetime.fromtimestamp(float(times[len(times) // 2]), dt.UTC)
        offset = (mid.astimezone(tz).utcoffset() or dt.timedelta()).total_seconds()
        local = times + offset
        if step >= MONTH:
            days = np.floor(local / DAY).astype("datetime64[D]")
            months = days.astype("datetime64[M]").astype(np.int64)
            return months // (12 if step >= YEAR else 3 if step >= 3 * MONTH else 1)
        if step == 7 * DAY:  # weeks turn on Monday; the epoch was a Thursday
            return np.floor((local / DAY + 3) / 7)
        return np.floor(local / step)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Clock time for intraday steps, the date where a day turns, months and years. The
        first clock time says its zone (``09:30 CT``): once is enough to read the rest."""
        series = self.series
        if series is None or not values:
            return []
        daily = not series.timeframe.intraday
        tz = dt.UTC if daily else self.tz
        out = []
        labelled = daily  # a date needs no zone
        for t in series.times_at(values):
            when = dt.datetime.fromtimestamp(float(t), tz)
            text = _stamp(when, spacing)
            if not labelled and ":" in text:
                text, labelled = f"{text} {label(when)}", True
            out.append(text)
        return out


def _stamp(when: dt.datetime, step: float) -> str:
    if step >= YEAR:
        return f"{when:%Y}"
    if step >= MONTH:
        return f"{when:%b %Y}" if when.month == 1 else f"{when:%b}"
    if step >= DAY or (when.hour == 0 and when.minute == 0 and step >= 3600):
        return f"{when:%a %d %b}" if step < 7 * DAY else f"{when:%d %b}"
    if step < 60:
        return f"{when:%H:%M:%S}"
    return f"{when:%H:%M}"


def spread(ys: list[float], height: float, top: float, bottom: float) -> list[float]:
    """Centres for labels ``height`` tall wanted at ``ys`` (ascending), moved as little as
    they must so that none overlaps the next, in the same order, inside [top, bottom].

    Labels that would overlap form a block centred on where its labels want to be; a block
    that meets the one before merges with it; an edge pushes a block back inside.
    """
    blocks: list[tuple[float, list[float]]] = []  # (first centre, wanted centres)
    for y in ys:
        wants = [y]
        while True:
            n = len(wants)
            first = sum(wants) / n - (n - 1) * height / 2
            first = min(max(first, top + height / 2), bottom - height / 2 - (n - 1) * height)
            if blocks and blocks[-1][0] + len(blocks[-1][1]) * height > first:
                wants = blocks.pop()[1] + wants
                continue
            blocks.append((first, wants))
            break
    return [first + i * height for first, wants in blocks for i in range(len(wants))]


@dataclass(frozen=True, slots=True)
class PriceTag:
    """A label on the price axis: ``text`` in ``fg`` on ``bg`` at ``price``."""

    price: float
    text: str
    bg: QColor
    fg: QColor


class PriceAxisItem(pg.AxisItem):  # type: ignore[misc]
    """A right axis with tags over its ticks (last price, crosshair)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("right", **kwargs)
        self.tags: dict[str, PriceTag] = {}

    def set_tag(self, name: str, tag: PriceTag | None) -> None:
        """Show, move or remove (None) one tag; repaints only if it changed."""
        if self.tags.get(name) == tag:
            return
        if tag is None:
            self.tags.pop(name, None)
        else:
            self.tags[name] = tag
        self.update()

    def paint(self, p: QPainter, *args: object) -> None:
        """The ticks (cached by pyqtgraph), then the tags. A tag whose price is off screen
        is pinned to the edge it is beyond, with an arrow: an order out of view is still an
        order, and the trader must see that it is there."""
        super().paint(p, *args)
        view = self.linkedView()
        if view is None or not self.tags:
            return
        height = p.fontMetrics().height() + 2
        placed: list[tuple[float, str, PriceTag]] = []
        above: list[PriceTag] = []
        below: list[PriceTag] = []
        for tag in self.tags.values():
            if not math.isfinite(tag.price):
                continue
            y = self.mapFromScene(view.mapViewToScene(QPointF(0, tag.price))).y()
            if y < height / 2:
                above.append(tag)
            elif y > self.height() - height / 2:
                below.append(tag)
            else:
                placed.append((y, tag.text, tag))
        # Pinned tags stack from the edge, the farthest price nearest the edge.
        for i, tag in enumerate(sorted(above, key=lambda t: -t.price)):
            placed.append((height / 2 + i * height, "\u25b2 " + tag.text, tag))
        for i, tag in enumerate(sorted(below, key=lambda t: t.price)):
            placed.append((self.height() - height / 2 - i * height, "\u25bc " + tag.text, tag))
        # Close prices must not hide one another (the last price over the position's
        # entry 0.25 away): spread apart, in price order. The crosshair's tag goes on top
        # where the mouse is, as it moves.
        cross = self.tags.get("cross")
        placed.sort(key=lambda item: item[0])
        ours = [item for item in placed if item[2] is not cross]
        ys = spread([y for y, _, _ in ours], height, 0.0, self.height())
        placed = [(y, text, tag) for y, (_, text, tag) in zip(ys, ours, strict=True)] + [
            item for item in placed if item[2] is cross
        ]
        for y, text, tag in placed:
            box = QRectF(0, y - height / 2, self.width(), height)
            p.fillRect(box, tag.bg)
            p.setPen(tag.fg)
            p.drawText(
                box.adjusted(4, 0, 0, 0),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                text,
            )


class GridItem(pg.GraphicsObject):  # type: ignore[misc]
    """Grid lines at the axes' major ticks, one cosmetic pixel wide.

    pyqtgraph's own grid (``showGrid``) costs about 10 ms per axis and frame here: more than
    the candles of a million bars. These lines cost a few dozen ``drawLine`` calls.
    """

    def __init__(self, time_axis: TimeAxisItem, price_axis: pg.AxisItem | None) -> None:
        super().__init__()
        self.time_axis = time_axis
        self.price_axis = price_axis
        self.color = QColor("#262a30")
        self._bounds = QRectF()
        self._pen: tuple[int, QPen] | None = None
        self._asked: tuple[float, float, float] | None = None
        self._levels: Ticks = []
        self.setZValue(-100)

    def boundingRect(self) -> QRectF:
        # The lines span the view, whatever it shows.
        return self._bounds

    def viewTransformChanged(self) -> None:
        """The bound is the view's rectangle, fresh here."""
        super().viewTransformChanged()
        self.prepareGeometryChange()
        self._bounds = self.viewRect() or QRectF()

    def paint(self, p: QPainter, *_: object) -> None:
        """Vertical lines at the time ticks, horizontal ones at the price ticks."""
        rect = self.viewRect()
        view = self.getViewBox()
        if rect is None or view is None:
            return
        p.setPen(self._grid_pen())
        x0, x1, y0, y1 = rect.left(), rect.right(), rect.top(), rect.bottom()
        for _spacing, xs in self.time_axis.tickValues(x0, x1, view.width())[:1]:
            for x in xs:
                p.drawLine(QPointF(x, y0), QPointF(x, y1))
        for _level, ys in self._price_levels(min(y0, y1), max(y0, y1), view.height())[:1]:
            for y in ys:
                p.drawLine(QPointF(x0, y), QPointF(x1, y))

    def _grid_pen(self) -> QPen:
        """A cosmetic pen of ``color``, made again only when the colour changes (the grid
        repaints with the candles, on every frame of a live chart)."""
        rgba = self.color.rgba()
        if self._pen is None or self._pen[0] != rgba:
            pen = QPen(self.color)
            pen.setCosmetic(True)
            self._pen = (rgba, pen)
        return self._pen[1]

    def _price_levels(self, low: float, high: float, size: float) -> Ticks:
        """The price axis's ticks, asked again only when the prices in view or the height
        change: pyqtgraph works them out afresh on each call, and doing so in every paint
        was three quarters of this item's cost on a live chart."""
        if self.price_axis is None:
            return []
        asked = (low, high, size)
        if asked != self._asked:
            self._asked, self._levels = asked, self.price_axis.tickValues(low, high, size)
        return self._levels
