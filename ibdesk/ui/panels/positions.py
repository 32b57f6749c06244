"""The positions panel."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibdesk.ui.models.positions import PositionsModel
from ibdesk.ui.panels.common import table_view


class PositionsPanel(QWidget):
    """Open positions with their valuation and P&L; sortable by any column."""

    def __init__(self, model: PositionsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = table_view(model, self)
        self.view.setColumnWidth(3, 100)
        self.view.setColumnWidth(6, 110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
