"""The desk with its window: what the desktop app runs (``ibdesk.desktop`` builds it).

A ``Desk`` (ibdesk.desk.core, no Qt) and a ``MainWindow``, attached. What only a window needs
lives here, not in the desk: the Qt log handler that feeds the log panel, and the watchlist
kept in the window's settings file between runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ibdesk import clock as clocks
from ibdesk.config import Settings
from ibdesk.desk.core import Desk
from ibdesk.domain.instruments import Instrument
from ibdesk.ui.main_window import MainWindow
from ibdesk.ui.panels.log import PanelHandler

WATCHLIST_KEY = "watchlist/symbols"


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
        self.window = window
        self.log_handler = PanelHandler()
        logging.getLogger().addHandler(self.log_handler)
        self.watchlist.added += self._save_watchlist
        self.watchlist.removed += self._save_watchlist
        window.attach(self, self.log_handler)

    def _save_watchlist(self, _inst: Instrument, _row: int) -> None:
        self.window.state.setValue(WATCHLIST_KEY, self.watchlist.symbols())

    async def close(self) -> None:
        """Close the desk and let go of the log handler (once)."""
        if self.closed:
            return
        await super().close()
        self.watchlist.added -= self._save_watchlist
        self.watchlist.removed -= self._save_watchlist
        logging.getLogger().removeHandler(self.log_handler)
