"""Running the desktop app: QApplication, the qasync loop, and a fast first paint.

Only Qt is imported before the window is on screen: the window frame is shown and painted
first, then the broker stack (the client library, eventkit, numpy: a few hundred milliseconds
of imports) is loaded and the panels are filled. The trader sees the window at once.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QApplication

from ibdesk import files, memory
from ibdesk.config import APP_NAME, Settings
from ibdesk.ui import theme
from ibdesk.ui.main_window import MainWindow

if TYPE_CHECKING:
    from ibdesk.windowed import WindowedDesk

log = logging.getLogger("ibdesk.desktop")


@dataclass(frozen=True)
class StrategyLaunch:
    """Strategies to load at launch (``--strategy``, files checked by the command line), the
    parameters to give them (``--param``: name -> key -> typed value), and whether to start
    them all (``--start``). Without ``start``, those the config's ``[strategies] autostart``
    names start; the others wait, loaded and stopped, for the trader."""

    files: tuple[Path, ...] = ()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    start: bool = False


def default_state_path(demo: bool = False) -> Path:
    """Where the window layout and the watchlist are kept between runs (the demo's apart)."""
    import platformdirs  # not before the first paint of a window given its state path

    folder = platformdirs.user_state_path(APP_NAME)
    return (folder / "demo" if demo else folder) / "window.ini"


def run_desktop(
    settings: Settings,
    *,
    state_path: Path | None = None,
    journal_path: Path | None = None,
    connect_now: bool = True,
    screenshot: Path | None = None,
    exit_after: float | None = None,
    theme_override: str | None = None,
    on_ready: Callable[[WindowedDesk], None] | None = None,
    strategies: StrategyLaunch | None = None,
) -> int:
    """Show the window, run the qasync loop until it closes; returns the exit code.

    ``screenshot`` with ``exit_after``: render the window after that many seconds, save it as a
    PNG, and exit (for docs and smoke tests). The theme is ``theme_override`` (``--theme``),
    else the one last chosen in the View menu, else the config's.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    # Closing the window ends main() below, which disconnects before the loop stops.
    app.setQuitOnLastWindowClosed(False)
    path = state_path or default_state_path()
    files.private_folder(path.parent)
    files.tighten_if_present(path)  # written by an older ibdesk, readable by others
    window = MainWindow(path)
    theme.apply(app, theme_override or window.saved_theme() or settings.ui.theme)
    window.show()
    app.processEvents()  # the first paint, before the heavy imports below
    # Before the broker stack allocates its buffers (a desk runs all day: see ibdesk/memory.py).
    memory.keep_large_blocks_mapped()

    import asyncio

    from ibdesk.ui.errors import ErrorReporter
    from ibdesk.ui.event_loop import DeskEventLoop
    from ibdesk.windowed import WindowedDesk

    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    desk = WindowedDesk(settings, window, journal_path)
    reporter = ErrorReporter(window)
    reporter.install(loop)
    memory.freeze_long_lived()  # the interpreter's modules, Qt, the window, the desk
    outcome = {"code": 0}
    closed = loop.create_future()
    app.lastWindowClosed.connect(lambda: closed.done() or closed.set_result(None))

    def finish() -> None:
        if screenshot is not None:
            saved = window.grab().save(str(screenshot), "PNG")
            outcome["code"] = 0 if saved else 1
            log.info("screenshot %s %s", "saved to" if saved else "FAILED for", screenshot)
        window.close()

    async def main() -> None:
        if strategies is not None and strategies.files:
            launch_strategies(desk, strategies)
        desk.start(connect=connect_now)
        if not connect_now:
            window.open_connection_dialog()
        if on_ready is not None:
            on_ready(desk)
        if exit_after is not None:
            loop.call_later(exit_after, finish)
        await closed
        await desk.close()

    with loop, contextlib.suppress(asyncio.CancelledError):
        loop.run_until_complete(main())
    reporter.uninstall()
    return outcome["code"]


def launch_strategies(desk: WindowedDesk, launch: StrategyLaunch) -> None:
    """Load the launch's strategy files into the desk, give them their parameters, and (with
    ``start``, or as the config's autostart names them) start them once the broker's book is
    reconciled: a strategy must see its own earlier orders and fills before it trades.

    A failure is logged (the log panel shows it) and leaves the strategy stopped; the files
    were checked by the command line, so one here means the file changed in between.
    """
    from ibdesk.strategies.loader import StrategyError

    names: list[str] = []
    try:
        for path in launch.files:
            names += desk.strategies.load(path)
        for name, values in launch.params.items():
            desk.strategies.set_params(name, values)
    except StrategyError as exc:
        log.error("strategies not loaded: %s", exc)
        return
    autostart = desk.settings.strategies.autostart
    desk.strategies.start_after_reconcile(n for n in names if launch.start or n in autostart)
