"""The chart's legend: the bar under the crosshair (or the newest) in one line of rich text,
wrapped onto more lines when the chart is narrow.

It was a word-wrapped ``QLabel``, and that cost more than the chart it describes. A label's
``setText`` always calls ``updateGeometry``, which invalidates every layout up to the main
window's, and the legend changes on every frame in which the forming bar does: 60 times a
second per chart in a busy market. Measured with four charts at 10,000 messages a second
(``benchmarks.chart``), the main thread used 57 % of a core, 46 % with the labels' sizes
pinned so that they could not ask for a new layout. This widget paints its text itself and
asks for a new layout only when the text needs another height at its width (a wrap more or
less); otherwise a new text is a repaint of the legend alone.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QPainter,
    QPaintEvent,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

#: The widest a legend asks to be, in average characters (as a word-wrapped QLabel does).
PREFERRED_CHARS = 80


class ChartLegend(QWidget):
    """Rich text (``setText``) painted across the widget's width, wrapped where it must be;
    its height follows its width (``heightForWidth``), as a word-wrapped label's does."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._html = ""
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        self._doc.setDefaultFont(self.font())
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def text(self) -> str:
        """The rich text shown."""
        return self._html

    def setText(self, html: str) -> None:
        """Show ``html``; a new layout only if it needs another height at this width."""
        if html == self._html:
            return
        self._html = html
        self._doc.setHtml(html)
        if not self.isVisible() or self.heightForWidth(self.width()) != self.height():
            self.updateGeometry()
        self.update()

    def clear(self) -> None:
        """Show nothing (the legend keeps its one line of height)."""
        self.setText("")

    # ---- size ---------------------------------------------------------------------------------

    def hasHeightForWidth(self) -> bool:
        """The height depends on the width: narrower, more lines."""
        return True

    def heightForWidth(self, width: int) -> int:
        """The height the text takes wrapped at ``width`` pixels."""
        self._doc.setTextWidth(max(width, 1))
        return math.ceil(self._doc.size().height())

    def sizeHint(self) -> QSize:
        """The text on one line, up to :data:`PREFERRED_CHARS` average characters wide."""
        self._doc.setTextWidth(-1)
        widest = self.fontMetrics().averageCharWidth() * PREFERRED_CHARS
        width = min(math.ceil(self._doc.idealWidth()), widest)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        """As narrow as the longest word, one line high: the legend never widens a chart."""
        self._doc.setTextWidth(0)
        narrowest = math.ceil(self._doc.idealWidth())
        self._doc.setTextWidth(-1)
        return QSize(narrowest, math.ceil(self._doc.size().height()))

    # ---- painting -----------------------------------------------------------------------------

    def paintEvent(self, _event: QPaintEvent) -> None:
        """The text, wrapped at the widget's width and centred in its height, in the
        widget's text colour where the text sets none."""
        if self._doc.textWidth() != self.width():  # else laid out already, by setText
            self._doc.setTextWidth(self.width())
        painter = QPainter(self)
        painter.translate(0, max(0.0, (self.height() - self._doc.size().height()) / 2))
        context = QAbstractTextDocumentLayout.PaintContext()
        palette = QPalette(self.palette())
        palette.setColor(QPalette.ColorRole.Text, palette.color(QPalette.ColorRole.WindowText))
        context.palette = palette
        self._doc.documentLayout().draw(painter, context)
        painter.end()

    def changeEvent(self, event: QEvent) -> None:
        """A new font changes the text's size; a new palette its colour."""
        if event.type() == QEvent.Type.FontChange:
            self._doc.setDefaultFont(self.font())
            self.updateGeometry()
        super().changeEvent(event)
