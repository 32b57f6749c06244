"""The kill window: KILL, FLATTEN ALL and REDUCE in a small always-on-top window of its own
process.

It stays clickable when the main window is frozen or gone. It knows nothing of the broker: it
is handed the two operations and a way to tell whether its connection is up
(``ibdesk kill --window`` wires them to ibdesk.broker.emergency.StandbyKill).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ibdesk.domain.risk import KillReport
from ibdesk.ui import theme
from ibdesk.ui.brand import brand

KILL_STYLE = (
    "QPushButton { background: #b3261e; color: white; font-weight: bold; font-size: 18px; "
    "border-radius: 4px; } QPushButton:pressed { background: #8c1d18; } "
    "QPushButton:disabled { background: #6d2a26; color: #ddd; }"
)


class KillWindow(QWidget):
    """Two buttons, where they go, and what the last kill verified."""

    def __init__(
        self,
        target: str,
        on_kill: Callable[[bool], Awaitable[KillReport]],
        connected: Callable[[], bool],
        parent: QWidget | None = None,
        on_reduce: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("ibdesk kill")
        brand(self)
        self.target = target
        self.on_kill = on_kill
        self.is_connected = connected
        self.running: asyncio.Task[KillReport] | None = None
        self.kill_button = QPushButton("KILL", self)
        self.kill_button.setStyleSheet(KILL_STYLE)
        self.kill_button.setMinimumSize(140, 56)
        self.kill_button.setToolTip("Cancel every order in the account, from every client")
        self.kill_button.clicked.connect(lambda: self.start(flatten=False))
        self.flatten_button = QPushButton("FLATTEN ALL", self)
        self.flatten_button.setMinimumHeight(56)
        self.flatten_button.setToolTip("Kill, then close every position with market orders")
        self.flatten_button.clicked.connect(lambda: self.start(flatten=True))
        self.reduce_button = QPushButton("REDUCE", self)
        self.reduce_button.setMinimumHeight(56)
        self.reduce_button.setToolTip(
            "Exits only: the desk cancels its orders that would add to a position"
        )
        self.reduce_button.setEnabled(on_reduce is not None)
        self.on_reduce = on_reduce
        self.reduce_button.clicked.connect(self.reduce)
        self.link = QLabel(self)
        self.result = QLabel("No kill sent from this window yet.", self)
        self.result.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.kill_button, 2)
        buttons.addWidget(self.flatten_button, 1)
        buttons.addWidget(self.reduce_button, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.link)
        layout.addWidget(self.result)
        self.resize(360, 150)
        self._poll = QTimer(self)
        self._poll.setInterval(500)
        self._poll.timeout.connect(self.show_link)
        self._poll.start()
        self.show_link()

    def show_link(self) -> None:
        """Where a click goes, and whether the standing connection is up."""
        up = self.is_connected()
        color = theme.current().ok if up else theme.current().warn
        state = "connected" if up else "not connected: a click connects first"
        self.link.setText(f"{self.target} · <span style='color:{color}'>{state}</span>")

    def start(self, flatten: bool) -> asyncio.Task[KillReport] | None:
        """Run a kill (or flatten) unless one is already running."""
        if self.running is not None and not self.running.done():
            self.result.setText("A kill is already running; its result shows here.")
            return None
        self.kill_button.setEnabled(False)
        self.flatten_button.setEnabled(False)
        self.result.setText("Flattening…" if flatten else "Killing…")
        self.running = asyncio.ensure_future(self.on_kill(flatten))
        self.running.add_done_callback(self._done)
        return self.running

    def reduce(self) -> None:
        """Latch REDUCING for the desk to adopt (a journal write: nothing to wait for)."""
        if self.on_reduce is not None:
            self.result.setText(self.on_reduce())

    def _done(self, task: asyncio.Task[KillReport]) -> None:
        self.kill_button.setEnabled(True)
        self.flatten_button.setEnabled(True)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.result.setText(
                f"<span style='color:{theme.current().error}'>Kill failed: {error}</span>"
            )
            return
        report = task.result()
        self.show_report(report)

    def show_report(self, report: KillReport) -> None:
        """The verification line, in green or red."""
        color = theme.current().ok if report.verified else theme.current().error
        detail = f" Cancelled {len(report.cancelled)} order(s)." if report.cancelled else ""
        self.result.setText(f"<span style='color:{color}'>{report.summary()}</span>{detail}")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop polling."""
        self._poll.stop()
        super().closeEvent(event)
