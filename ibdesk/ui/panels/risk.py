"""The Risk panel: each limit and how much of it is in use, refreshed twice a second.

A line is never cut short: the cells wrap and each row is as tall as its text needs, and
every cell's tooltip holds the whole line. A row is shaded amber from 80% of its limit and red
at the limit (the theme's ``stale`` and ``naked`` shades, the warning tints of the tables).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QHeaderView, QVBoxLayout, QWidget

from ibdesk.trading.usage import Usage
from ibdesk.ui.models.table import CoalescingTableModel, Column
from ibdesk.ui.panels.common import table_view

#: From this share of a limit a line is shaded as nearing it.
NEAR = 0.8


def _tone(u: Usage) -> str | None:
    if math.isnan(u.fraction):
        return None
    return "loss" if u.fraction >= 1 else "warn" if u.fraction >= NEAR else None


def _whole(u: Usage) -> str:
    return f"{u.name}: {u.text}"


class RiskModel(CoalescingTableModel[Usage]):
    """One row per limit; rows come and go as positions and sources appear."""

    def __init__(self, source: Callable[[], list[Usage]], parent: QObject | None = None) -> None:
        super().__init__(
            [
                Column("Limit", lambda u: u.name, lambda u: u.name, numeric=False, hint=_whole),
                Column(
                    "In use / limit",
                    lambda u: u.fraction,
                    lambda u: u.text,
                    tone=_tone,
                    hint=_whole,
                ),
            ],
            refresh_hz=4,
            parent=parent,
        )
        self.source = source
        self.rows: dict[str, Usage] = {}
        self._poll = QTimer(self)
        self._poll.setInterval(500)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self.refresh()

    def refresh(self) -> None:
        """Recompute every line, keeping the order ``usage`` gives (use first, then the
        settings): when a line appears or goes, the rows are laid out again."""
        fresh = {u.key: u for u in self.source()}
        if list(fresh) != list(self.rows):
            for key in list(self.rows):
                self.remove_key(key)
            self.rows = fresh
            for key in fresh:
                self.insert_key(key)
            return
        self.rows = fresh
        for key in fresh:
            self.mark_dirty(key)

    def row(self, key: Hashable) -> Usage:
        """The line behind a row."""
        return self.rows[str(key)]

    def background(self, key: Hashable) -> str | None:
        """Amber when a line nears its limit, red at it."""
        fraction = self.rows[str(key)].fraction
        if math.isnan(fraction):
            return None
        return "naked" if fraction >= 1 else "stale" if fraction >= NEAR else None

    def close(self) -> None:
        """Stop polling."""
        self._poll.stop()


class RiskPanel(QWidget):
    """The limits table: two columns sharing the width, wrapped text, rows as tall as their
    text (a narrow dock costs height, never words)."""

    def __init__(self, model: RiskModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = table_view(model, self, sortable=False)
        self.view.setWordWrap(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
