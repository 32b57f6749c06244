"""The desk with its window: what the desktop app runs (``ibdesk.desktop`` builds it).

A ``Desk`` (ibdesk.desk.core, no Qt) and a ``MainWindow``, attached. What only a window needs
lives here, not in the desk: the Qt log handler that feeds the log panel, and the watchlist and
the strategy files kept in the window's settings file between runs.

Strategy files loaded in one run are loaded again at the next, stopped: after a restart
nothing trades by itself. Only the names the trader listed in ``[strategies] autostart``
start, once the broker's book has been reconciled.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings

from ibdesk import clock as clocks
from ibdesk.config import Settings
from ibdesk.desk.core import Desk
from ibdesk.domain.instruments import Instrument
from ibdesk.strategies.loader import StrategyError
from ibdesk.ui.main_window import MainWindow
from ibdesk.ui.panels.log import PanelHandler
from ibdesk.ui.time_zone import use_time_zone

log = logging.getLogger("ibdesk.strategies")

WATCHLIST_KEY = "watchlist/symbols"
STRATEGIES_KEY = "strategies/files"


class WindowedDesk(Desk):
    """A running desk and its window.

    Args:
        settings: the configuration (flags applied).
        window: the frame, already on screen; it is filled with the live panels here.
        journal_path: the journal (default: the user data folder's; the demo has its own).
        clock: the desk's clock.
    """

    def __init__(
        self,
        settings: Settings,
        window: MainWindow,
        journal_path: Path | None = None,
        clock: clocks.Clock = clocks.system,
    ) -> None:
        saved = window.state.value(WATCHLIST_KEY)
        super().__init__(
            settings,
            journal_path,
            watchlist=list(saved) if isinstance(saved, list) else None,
            clock=clock,
        )
        # The desktop watches what other clients trade (an ibdesk run on a server).
        self.watch_other_clients()
        self.window = window
        self.log_handler = PanelHandler(library=settings.log.library)
        logging.getLogger().addHandler(self.log_handler)
        self.watchlist.added += self._save_watchlist
        self.watchlist.removed += self._save_watchlist
        use_time_zone(window, settings.ui.time_zone)  # before the panels that show times
        window.attach(self, self.log_handler)
        self.strategy_files: list[str] = []
        """ the strategy files to load at the next start, in the order first loaded """
        self._strategy_names: set[str] = set()
        self.strategies.changed += self._on_strategy_changed
        self._load_strategies(saved_paths(window.state))
        self.strategies.start_after_reconcile(
            self.settings.strategies.autostart,
            lambda name, exc: window.strategies_panel.say(
                f"Autostart of {name}: {exc}", error=True
            ),
        )

    def _save_watchlist(self, _inst: Instrument, _row: int) -> None:
        self.window.state.setValue(WATCHLIST_KEY, self.watchlist.symbols())

    # ---- strategies kept between runs -----------------------------------------------------------

    def _load_strategies(self, paths: list[str]) -> None:
        """Load last run's strategy files, stopped. A file that no longer exists is
        forgotten; one that fails to load is kept (it may be half-way through an edit)."""
        failed = []
        for path in paths:
            if not Path(path).is_file():
                log.warning("strategy file %s is gone: not loaded, forgotten", path)
                continue
            self._remember(path)
            try:
                self.strategies.load(path)
            except StrategyError as exc:
                log.error("strategy file %s not loaded again: %s", path, exc)
                failed.append(str(exc))
        if failed:
            self.window.strategies_panel.say(" ".join(failed), error=True)

    def _on_strategy_changed(self, name: str) -> None:
        if name in self._strategy_names:
            return  # the usual case: an order or fill of a strategy already known
        self._strategy_names.add(name)
        self._remember(self.strategies.status(name).path)

    def _remember(self, path: str) -> None:
        if path not in self.strategy_files:
            self.strategy_files.append(path)
            self.window.state.setValue(STRATEGIES_KEY, self.strategy_files)

    def _say_failed(self, name: str, exc: Exception) -> None:
        self.window.strategies_panel.say(f"Autostart of {name}: {exc}", error=True)

    async def close(self) -> None:
        """Close the desk and let go of the log handler (once)."""
        if self.closed:
            return
        await super().close()
        self.watchlist.added -= self._save_watchlist
        self.watchlist.removed -= self._save_watchlist
        self.strategies.changed -= self._on_strategy_changed
        logging.getLogger().removeHandler(self.log_handler)


def saved_paths(state: QSettings) -> list[str]:
    """The strategy files a window's settings remember (a lone path comes back as a str)."""
    value = state.value(STRATEGIES_KEY)
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value] if isinstance(value, list) else []
