"""The band across the window while trading is not ACTIVE: HALTED or REDUCING, who, when, why,
and what the broker confirmed.

Issue 14 found a kill shown by one small red label, its verification squeezed into a toolbar
column. A halted desk must be impossible to miss from across the room, so the band spans the
window under the kill bar, in the state's colour, and says everything in one place: the
state and what it means, who set it and when (labelled time), the reason, the last kill's or
flatten's verification (with Retry while it is not verified), and the way back (Re-arm…).
It disappears with the state; nothing of it outlives a re-arm.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from ibdesk.desk.api import SafetyOps
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.domain.times import time_of_day
from ibdesk.ui import theme

MEANING = {
    TradingState.HALTED: "new orders are refused and working orders were cancelled",
    TradingState.REDUCING: "exits only: orders that would add to a position are refused",
}
TOKENS = {TradingState.HALTED: "error", TradingState.REDUCING: "warn"}


class StateBand(QToolBar):
    """HALTED or REDUCING, full width; hidden while ACTIVE."""

    def __init__(
        self, ops: SafetyOps, open_rearm: Callable[[], object], parent: QWidget | None = None
    ) -> None:
        super().__init__("Trading state", parent)
        self.setObjectName("StateBand")
        self.setMovable(False)
        self.setFloatable(False)
        self.ops = ops
        body = QWidget(self)
        body.setObjectName("StateBandBody")
        row = QHBoxLayout(body)
        row.setContentsMargins(12, 2, 12, 2)
        self.text = QLabel(body)
        self.text.setObjectName("state_band_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry the cancel", body)
        self.retry_button.setToolTip("Send the global cancel again and verify again")
        self.retry_button.clicked.connect(lambda: self.ops.retry_kill("retry button"))
        self.retry_button.hide()
        self.rearm_button = QPushButton("Re-arm…", body)
        self.rearm_button.setToolTip("Back to trading, with a reason (journaled)")
        self.rearm_button.clicked.connect(open_rearm)
        row.addWidget(self.text, 1)
        row.addWidget(self.retry_button)
        row.addWidget(self.rearm_button)
        self.addWidget(body)
        body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.body = body
        self.change: StateChange | None = None
        self.report: KillReport | None = None
        self.hide()

    def show_state(self, change: StateChange) -> None:
        """Show (or hide, when ACTIVE) the band for a trading state."""
        self.change = change
        if change.state is TradingState.ACTIVE:
            self.report = None  # a re-arm ends what the last kill said
            self.retry_button.hide()
            self.text.clear()
            self.hide()
            return
        self._paint()
        self.show()

    def show_report(self, report: KillReport) -> None:
        """What the last kill or flatten verified (shown while the state lasts)."""
        self.report = report
        self.retry_button.setVisible(not report.verified)
        if self.change is not None and self.change.state is not TradingState.ACTIVE:
            self._paint()

    def _paint(self) -> None:
        change = self.change
        assert change is not None
        t = theme.current()
        colour = t.color(TOKENS[change.state])
        ink = "#ffffff" if colour.lightness() < 150 else "#111111"
        self.body.setStyleSheet(
            f"#StateBandBody {{ background: {colour.name()}; }}"
            f" #StateBandBody QLabel {{ color: {ink}; }}"
        )
        why = f": {html.escape(change.why)}" if change.why else ""
        lines = [
            f"<span style='font-size:17px; font-weight:bold'>{change.state.value}</span>"
            f" &nbsp;{MEANING[change.state]}; since {time_of_day(change.time)},"
            f" by {html.escape(change.who)}{why}.",
        ]
        if self.report is not None:
            lines.append(html.escape(self.report.summary()))
        self.text.setText("<br>".join(lines))
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        # A toolbar lays its widgets out without height-for-width: a wrapped label would be
        # given the height of its narrowest wrap (nearly twice what two lines need).
        width = self.text.width() if self.text.width() > 50 else self.width() - 250
        self.text.setFixedHeight(self.text.heightForWidth(max(width, 200)))

    def texts(self) -> str:
        """What the band says, as plain text (tests, screen readers)."""
        return self.text.text() if self.isVisible() else ""
