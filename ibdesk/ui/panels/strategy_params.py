"""A strategy's parameters, as a two-column editor (not a panel: the strategies panel's part).

The editor only shows and collects text: typing and checking a value is the runner's job
(``StrategyOps.set_params`` converts ``"3"`` to its default's type, or says why not), so a
value is the same whether it came from here, the command line or a test.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ibdesk.domain.strategy import StrategyStatus

#: Commits a typed value: (strategy, parameter, text) -> whether it was taken.
Commit = Callable[[str, str, str], bool]


class StrategyParamsEditor(QWidget):
    """The parameters of one strategy: names, and values editable while it does not run.

    Args:
        commit: called with (strategy, parameter, typed text) when a value is edited.
    """

    def __init__(self, commit: Commit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.commit = commit
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        self.title = QLabel("Parameters", self)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Parameter", "Value"])
        # The title above says whose parameters these are: a header row would only cost a
        # line of a short dock.
        self.table.horizontalHeader().setVisible(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 110)
        self.table.itemChanged.connect(self._edited)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        self.name = ""
        """ whose parameters are shown ("" for none) """
        self._filling = False
        self._shown: tuple[str, tuple[tuple[str, object], ...], bool] | None = None

    def show_status(self, status: StrategyStatus | None, editable: bool) -> None:
        """Show a strategy's parameters (None: nobody's); editable or read-only."""
        shown = (status.name, status.params, editable) if status is not None else None
        if shown == self._shown:
            return  # rewriting would lose an edit in progress
        self._shown = shown
        self.name = status.name if status is not None else ""
        params = status.params if status is not None else ()
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        self._filling = True
        try:
            self.table.setRowCount(len(params))
            for row, (key, value) in enumerate(params):
                # Items are rewritten in place, never replaced: this runs from the table's
                # own itemChanged, and replacing the item being committed would free it
                # under Qt's feet.
                key_item, value_item = self.table.item(row, 0), self.table.item(row, 1)
                if key_item is None or value_item is None:
                    key_item, value_item = QTableWidgetItem(), QTableWidgetItem()
                    self.table.setItem(row, 0, key_item)
                    self.table.setItem(row, 1, value_item)
                key_item.setText(key)
                key_item.setFlags(flags)
                value_item.setText(str(value))
                value_item.setFlags(flags | Qt.ItemFlag.ItemIsEditable if editable else flags)
        finally:
            self._filling = False
        if status is None:
            self.title.setText("Parameters")
        elif not params:
            self.title.setText(f"{status.name} has no parameters")
        elif editable:
            self.title.setText(f"Parameters of {status.name} (double-click to edit)")
        else:
            self.title.setText(f"Parameters of {status.name} (stop it to edit)")

    def forget(self) -> None:
        """Rewrite every value at the next ``show_status`` (after a refused edit)."""
        self._shown = None

    def value_item(self, key: str) -> QTableWidgetItem | None:
        """The value cell of a parameter (tests type into it)."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == key:
                return self.table.item(row, 1)
        return None

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1 or not self.name:
            return
        key_item = self.table.item(item.row(), 0)
        if key_item is not None:
            self.commit(self.name, key_item.text(), item.text())
