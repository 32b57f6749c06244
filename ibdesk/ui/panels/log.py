"""The log panel: ibdesk's log records, newest last, from any thread."""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

MAX_LINES = 5000


class _Bridge(QObject):
    record = Signal(str)


class PanelHandler(logging.Handler):
    """A logging handler that hands formatted records to the panel through a Qt signal
    (queued across threads, so records from the simulator thread are safe)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.bridge = _Bridge()
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # the panel is gone (shutdown)
            self.bridge.record.emit(self.format(record))


class LogPanel(QWidget):
    """Shows what the PanelHandler receives."""

    def __init__(self, handler: PanelHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFont("monospace", 9))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        handler.bridge.record.connect(self.text.appendPlainText)
