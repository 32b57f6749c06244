"""The positions panel."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibdesk.ui.models.positions import PositionsModel
from ibdesk.ui.models.table import KEY_ROLE
from ibdesk.ui.panels.common import table_view


class PositionsPanel(QWidget):
    """Open positions with their valuation and P&L; sortable by any column.

    Right-click a row: "Flatten this position" closes it through the kill switch's flatten
    (its working orders cancelled first, a reduce-only close, verified with the broker).
    """

    def __init__(
        self,
        model: PositionsModel,
        on_flatten: Callable[[tuple[str, int]], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.on_flatten = on_flatten
        self.view = table_view(model, self)
        self.view.setColumnWidth(3, 100)
        self.view.setColumnWidth(6, 110)
        self.flatten_action = QAction("Flatten this position", self.view)
        self.flatten_action.triggered.connect(self.flatten_selected)
        self.view.addAction(self.flatten_action)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def selected_keys(self) -> list[tuple[str, int]]:
        """(account, conId) of the selected rows."""
        proxy = self.view.model()
        rows = self.view.selectionModel().selectedRows()
        keys: list[Hashable] = [proxy.data(proxy.index(i.row(), 0), KEY_ROLE) for i in rows]
        # Qt may hand a tuple key back as a list.
        return [(str(k[0]), int(k[1])) for k in keys if isinstance(k, tuple | list)]

    def flatten_selected(self) -> None:
        """Flatten every selected position."""
        if self.on_flatten is None:
            return
        for key in self.selected_keys():
            self.on_flatten(key)
