"""The account's P&L today as a small curve (under the account figures).

The figure is the ``reqPnL`` daily P&L the account feed keeps in the AccountStore. It is
sampled once a second rather than on every update: a curve of the day needs no more, and the
panel then holds no subscription to let go of.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from ibdesk import clock as clocks
from ibdesk.clock import Clock
from ibdesk.domain import times
from ibdesk.state.account import AccountStore
from ibdesk.state.pnl import PnlTrail
from ibdesk.ui import theme

SAMPLE_MS = 1000
HEIGHT = 72


class ClockAxis(pg.DateAxisItem):  # type: ignore[misc]
    """Local wall-clock labels: ``10:27:04`` when ticks are seconds apart, ``10:27``
    otherwise (pyqtgraph's own labels at a short span read ``04.000``). Ticks closer than the
    label's resolution (the first second after connecting) repeat no label. The zone is in
    the curve's caption: the account's P&L belongs to no exchange."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        shape = "%H:%M:%S" if spacing < 60 else "%H:%M"
        labels, previous = [], ""
        for v in values:
            text = times.moment(v).strftime(shape)
            labels.append("" if text == previous else text)
            previous = text
        return labels


class PnlCurve(pg.PlotWidget):  # type: ignore[misc]
    """Daily P&L since ibdesk connected: a line over a zero line, green above, red below.

    Args:
        accounts: the store with the figures.
        account: the account shown (asked at every sample: it changes on a reconnect).
    """

    def __init__(
        self,
        accounts: AccountStore,
        account: Callable[[], str],
        parent: QWidget | None = None,
        clock: Clock = clocks.system,
    ) -> None:
        super().__init__(parent, axisItems={"bottom": ClockAxis(orientation="bottom")})
        self.accounts = accounts
        self.account = account
        self.clock = clock
        self.trail = PnlTrail()
        self._shown = ""
        self.setFixedHeight(HEIGHT)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.hideAxis("left")
        self.showAxis("right")
        self.getAxis("right").setWidth(56)
        zone = times.label(times.moment(self.clock()))
        self.caption = pg.TextItem(f"P&L today · local time ({zone})", anchor=(0, 0))
        self.caption.setParentItem(self.getViewBox())  # pinned to the corner, not the data
        self.zero = pg.InfiniteLine(angle=0, pos=0.0, movable=False)
        self.addItem(self.zero, ignoreBounds=True)
        self.line = self.plot([], [], fillLevel=0.0)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.sample)
        self.timer.start(SAMPLE_MS)
        self.apply_theme()

    def apply_theme(self) -> None:
        """Colours from the current theme."""
        t = theme.current()
        self.setBackground(t.base)
        self.zero.setPen(pg.mkPen(t.dim, width=1, style=Qt.PenStyle.DotLine))
        self.caption.setColor(t.dim)
        for name in ("right", "bottom"):
            self.getAxis(name).setTextPen(pg.mkPen(t.dim))
            self.getAxis(name).setPen(pg.mkPen(t.dim))
        self._redraw()

    def sample(self) -> None:
        """Take the account's P&L now; redraw if the curve grew."""
        account = self.account()
        if account != self._shown:
            self._shown = account
            self.trail.clear()
        if account and self.trail.add(self.clock(), self.accounts.get(account).daily_pnl):
            self._redraw()

    def _redraw(self) -> None:
        times, values = self.trail.arrays()
        if not len(times):
            self.line.setData([], [])
            return
        t = theme.current()
        color = QColor(t.gain if values[-1] >= 0 else t.loss)
        fill = QColor(color)
        fill.setAlpha(40)
        self.line.setPen(pg.mkPen(color, width=1.5))
        self.line.setBrush(fill)
        self.line.setData(times, values)
