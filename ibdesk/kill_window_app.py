"""Running the kill window: its own QApplication, qasync loop and standing connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ibdesk import display
from ibdesk.broker.emergency import StandbyKill
from ibdesk.config import APP_NAME
from ibdesk.ui import theme
from ibdesk.ui.event_loop import DeskEventLoop
from ibdesk.ui.kill_window import KillWindow


def run_kill_window(
    host: str, port: int, client_id: int, journal: Path, exit_after: float | None = None
) -> int:
    """Show the kill window until it is closed (or ``exit_after`` seconds, for smoke tests).

    Returns 2 with the reason on stderr when no window can open here (no display, a missing
    X library): checked before Qt starts, because Qt would abort the process instead.
    """
    cannot_show = display.problem(os.environ)
    if cannot_show is not None and QApplication.instance() is None:
        print(cannot_show, file=sys.stderr)
        print("`ibdesk kill` (without --window) kills from this terminal.", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)  # the X11 window class: the desktop entry's icon
    theme.apply(app, "dark")
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    standby = StandbyKill(host, port, client_id, journal)
    window = KillWindow(
        f"{host}:{port} as client {client_id}",
        standby.kill,
        lambda: standby.connected,
        on_reduce=standby.reduce,
    )
    closed = loop.create_future()
    app.lastWindowClosed.connect(lambda: closed.done() or closed.set_result(None))

    async def main() -> None:
        keeper = asyncio.ensure_future(standby.keep_connected())
        window.show()
        if exit_after is not None:
            loop.call_later(exit_after, window.close)
        await closed
        keeper.cancel()
        standby.stop()

    with loop, contextlib.suppress(asyncio.CancelledError):
        loop.run_until_complete(main())
    return 0
