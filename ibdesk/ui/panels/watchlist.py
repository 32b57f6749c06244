"""The watchlist panel: type a symbol to add it; Delete removes the selected rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from ibdesk.ui.models.table import KEY_ROLE
from ibdesk.ui.models.watchlist import WatchlistModel
from ibdesk.ui.panels.common import table_view

AddSymbol = Callable[[str], Awaitable[str]]
RemoveSymbol = Callable[[int], None]


class WatchlistPanel(QWidget):
    """Quotes for the watched instruments, and the entry field to add more."""

    def __init__(
        self,
        model: WatchlistModel,
        add_symbol: AddSymbol,
        remove_symbol: RemoveSymbol,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._add_symbol = add_symbol
        self._remove_symbol = remove_symbol
        body = self
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.entry = QLineEdit(body)
        self.entry.setPlaceholderText("Add symbol: AAPL, ES, ESZ6, EUR.USD")
        self.entry.setClearButtonEnabled(True)
        self.entry.returnPressed.connect(self.add_clicked)
        self.add_button = QPushButton("Add", body)
        self.add_button.clicked.connect(self.add_clicked)
        row.addWidget(self.entry, 1)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        self.message = QLabel(body)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        layout.addWidget(self.message)
        self.view = table_view(model, body)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        remove = QAction("Remove from watchlist", self.view)
        remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove.triggered.connect(self.remove_selected)
        self.view.addAction(remove)
        layout.addWidget(self.view, 1)

    def show_message(self, text: str, error: bool) -> None:
        """A line under the entry: why a symbol was refused, or what was added."""
        self.message.setText(text)
        self.message.setProperty("error", error)
        self.message.setStyleSheet("color: #f05a5a;" if error else "")
        self.message.setVisible(bool(text))

    @asyncSlot()  # type: ignore[untyped-decorator]
    async def add_clicked(self) -> None:
        """Resolve the typed symbol at the broker and add it (or say why not)."""
        text = self.entry.text().strip()
        if not text:
            return
        self.entry.setEnabled(False)
        self.add_button.setEnabled(False)
        try:
            outcome = await self._add_symbol(text)
        except ValueError as exc:
            self.show_message(str(exc), error=True)
        else:
            self.show_message(outcome, error=False)
            self.entry.clear()
        finally:
            self.entry.setEnabled(True)
            self.add_button.setEnabled(True)
            self.entry.setFocus()

    def remove_selected(self) -> None:
        """Remove every selected row."""
        rows = self.view.selectionModel().selectedRows()
        keys = [int(self.view.model().data(i, KEY_ROLE)) for i in rows]
        for con_id in keys:
            self._remove_symbol(con_id)
