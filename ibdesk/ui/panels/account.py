"""The account panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QSizePolicy, QVBoxLayout, QWidget

from ibdesk import clock as clocks
from ibdesk.clock import Clock
from ibdesk.ui.charts.pnl import PnlCurve
from ibdesk.ui.models.account import AccountModel
from ibdesk.ui.panels.common import table_view


class AccountPanel(QWidget):
    """Net liquidation, funds, margins and the day's P&L of the connected account."""

    def __init__(
        self, model: AccountModel, clock: Clock = clocks.system, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.view = table_view(model, self, sortable=False)
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        # Every figure in view, no scrollbar: the table is as tall as its rows, and the
        # day's P&L curve takes the rest of the panel.
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        model.rowsInserted.connect(self._fit_rows)
        model.rowsRemoved.connect(self._fit_rows)
        model.modelReset.connect(self._fit_rows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.pnl_curve = PnlCurve(model.store, lambda: model.account, self, clock)
        layout.addWidget(self.pnl_curve, 1)
        self._fit_rows()

    def _fit_rows(self, *_: object) -> None:
        view = self.view
        rows = view.verticalHeader().length()  # the rows' heights together
        frame = 2 * view.frameWidth()
        view.setFixedHeight(view.horizontalHeader().sizeHint().height() + rows + frame)
