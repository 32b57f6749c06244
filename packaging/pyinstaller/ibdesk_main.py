"""The frozen ibdesk's entry point: the same command line as the pip-installed ``ibdesk``
(``ibdesk``, ``ibdesk --demo``, ``ibdesk kill``, ``ibdesk journal``, and the hidden
``ibdesk watchdog`` the desk starts as its own child through ``ibdesk_command``).

``IBDESK_FIRST_PAINT_FILE``: when set, the epoch time of the main window's first paint is
written to that file (benchmarks/bundle.py compares the bundle's with a pip install's, both
measured by this same script). Nothing else here differs from ``ibdesk.cli:main``.
"""

from __future__ import annotations

import os
import sys


def _mark_first_paint(path: str) -> None:
    """Create the QApplication first and watch for the main window's first paint (the app
    reuses this QApplication)."""
    import time

    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and type(watched).__name__ == "MainWindow":
                with open(path, "w") as out:
                    out.write(repr(time.time()))
                app.removeEventFilter(self)
            return False

    marker = FirstPaint(app)
    app.installEventFilter(marker)


if __name__ == "__main__":
    if os.environ.get("IBDESK_FIRST_PAINT_FILE") and sys.argv[1:2] not in (
        ["kill"],
        ["journal"],
        ["watchdog"],
    ):
        _mark_first_paint(os.environ["IBDESK_FIRST_PAINT_FILE"])
    from ibdesk.cli import main

    sys.exit(main())
