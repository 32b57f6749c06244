"""The asyncio loop on Qt's event loop: qasync's, with its last turn kept inside the loop.

qasync's ``run_until_complete`` stops the loop, tells asyncio that no loop is running, and
only then processes Qt's pending events one last time. A task woken in that turn (a health
check whose sleep ended, a pacer's wake-up) dies with "no running event loop", and the error
surfaces later from the garbage collector, far from its cause. Here that turn still counts as
inside the loop, so such a task takes its step and parks on its next await as usual.
"""

from __future__ import annotations

import asyncio
from typing import Any

import qasync
from PySide6.QtCore import QCoreApplication


class DeskEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """``qasync.QEventLoop`` whose final event-processing turn runs as part of the loop."""

    def __init__(self, app: QCoreApplication | None = None) -> None:
        super().__init__(app)
        self._finishing = False

    def run_until_complete(self, future: Any) -> Any:
        self._finishing = True
        try:
            return super().run_until_complete(future)
        finally:
            self._finishing = False
            asyncio.events._set_running_loop(None)

    def _after_run_forever(self) -> None:
        # Called as run_forever ends, after it cleared the running loop; qasync's last
        # processEvents comes next. asyncio documents _set_running_loop for loop authors.
        super()._after_run_forever()
        if self._finishing:
            asyncio.events._set_running_loop(self)
