"""No silent deaths: unhandled exceptions become a log record and a (non-modal) dialog."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("ibdesk.errors")


class ErrorReporter:
    """Installed as ``sys.excepthook`` and as the asyncio loop's exception handler."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent
        self.count = 0
        self.dialog: QMessageBox | None = None
        self._previous: Callable[..., Any] = sys.excepthook

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Route uncaught exceptions (Qt slots, callbacks, tasks) here."""
        sys.excepthook = self.excepthook
        if loop is not None:
            loop.set_exception_handler(self.loop_handler)

    def uninstall(self) -> None:
        """Restore the previous hook."""
        sys.excepthook = self._previous

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        """Log it and tell the user."""
        if issubclass(kind, KeyboardInterrupt):
            self._previous(kind, exc, tb)
            return
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("unhandled exception:\n%s", text)
        self.show(f"{kind.__name__}: {exc}", text)

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's hook: exceptions in callbacks and never-awaited tasks."""
        exc = context.get("exception")
        if exc is not None:
            self.excepthook(type(exc), exc, exc.__traceback__)
        else:
            log.error("asyncio: %s", context.get("message"))
            self.show(str(context.get("message")), str(context))

    def show(self, summary: str, details: str) -> None:
        """One dialog at a time; later errors add to its count instead of stacking."""
        self.count += 1
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.setText(f"{self.count} errors; the latest:\n{summary}")
            self.dialog.setDetailedText(details)
            return
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "ibdesk: unexpected error",
            f"{summary}\n\nibdesk keeps running; the details are in the log.",
            QMessageBox.StandardButton.Ok,
            self.parent,
        )
        box.setDetailedText(details)
        box.open()  # never exec(): a nested event loop would stall the kill switch
        self.dialog = box
