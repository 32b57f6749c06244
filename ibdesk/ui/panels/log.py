"""The log panel: ibdesk's log records, newest last, from any thread, at a bounded cost.

One ``QPlainTextEdit.appendPlainText`` of a 1 MiB line took 30 s holding the GIL, and a
flood of 30,000 records (one append each) stalled the desk for 7 s (issue 12). So the
handler only formats (clamped to ``MAX_LINE_CHARS`` and ``MAX_RECORD_LINES``) and queues;
the panel takes at most ``PER_FLUSH`` lines per flush on a timer, in one append, keeps the
newest ``BACKLOG`` when it falls behind, and says how many it skipped. Measured: 200 clamped
lines in one append cost 2-4 ms, whatever was logged.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from ibdesk.logs import ALL, FORMAT, NONE, BoundedFormatter, LibraryFilter

MAX_LINES = 5000
""" lines the panel keeps (older ones scroll away) """
MAX_LINE_CHARS = 1000
""" characters of one record shown (the log file keeps more) """
MAX_RECORD_LINES = 12
""" lines of one record shown (a traceback's head and its last lines) """
PER_FLUSH = 200
""" records appended per flush """
BACKLOG = 1000
""" records waiting at most; older ones are skipped when the panel falls behind """
FLUSH_MS = 100


class PanelHandler(logging.Handler):
    """A logging handler that formats records (clamped) and queues them for the panel; safe
    from any thread, and cheap: no Qt call per record.

    The panel is for the trader: ibdesk's own records only, unless ``library`` (the debug
    switch, ``[log] library``) lets the client library's records in too (see ibdesk.logs).
    """

    def __init__(self, library: bool = False) -> None:
        super().__init__(level=logging.INFO)
        # Filtered before formatting: the library's dumps cost no formatting here either.
        self.addFilter(LibraryFilter(ALL if library else NONE))
        self.setFormatter(
            BoundedFormatter(
                FORMAT, "%H:%M:%S", max_chars=MAX_LINE_CHARS, max_lines=MAX_RECORD_LINES
            )
        )
        self._queue: deque[str] = deque()
        self._skipped = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue one record's text (the oldest waiting one goes if the queue is full)."""
        try:
            text = self.format(record)
        except Exception:  # the logging convention: a bad record must not raise here
            self.handleError(record)
            return
        with self._guard:
            if len(self._queue) >= BACKLOG:
                self._queue.popleft()
                self._skipped += 1
            self._queue.append(text)

    def take(self, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` queued texts, oldest first, and how many were skipped since the
        last call."""
        with self._guard:
            count = min(limit, len(self._queue))
            texts = [self._queue.popleft() for _ in range(count)]
            skipped, self._skipped = self._skipped, 0
        return texts, skipped

    def waiting(self) -> int:
        """How many texts are queued."""
        return len(self._queue)


class LogPanel(QWidget):
    """Shows what the PanelHandler queues, a bounded batch per flush."""

    def __init__(self, handler: PanelHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handler = handler
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFont("monospace", 9))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        self.timer = QTimer(self)
        self.timer.setInterval(FLUSH_MS)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def backlog(self) -> int:
        """Records waiting to be shown."""
        return self.handler.waiting()

    def flush(self) -> None:
        """Append the next batch in one call, after a note of what was skipped."""
        texts, skipped = self.handler.take(PER_FLUSH)
        if skipped:
            texts.insert(
                0,
                f"... {skipped:,} log records skipped here to keep the desk responsive "
                "(the log file has them)",
            )
        if texts:
            self.text.appendPlainText("\n".join(texts))
