"""The positions panel."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibdesk.domain.orders import OrderType, Side
from ibdesk.domain.ticket import TicketRequest
from ibdesk.ui.models.positions import PositionsModel
from ibdesk.ui.models.table import KEY_ROLE
from ibdesk.ui.panels.common import table_view


class PositionsPanel(QWidget):
    """Open positions with their valuation and P&L; sortable by any column.

    Right-click a row: "Flatten this position" closes it through the kill switch's flatten
    (its working orders cancelled first, a reduce-only close, verified with the broker);
    "Close in the ticket…" and "Attach protective stop…" pre-fill the ticket (nothing is sent
    until Submit). A futures position not covered by working stops is shaded red.
    """

    def __init__(
        self,
        model: PositionsModel,
        on_flatten: Callable[[tuple[str, int]], object] | None = None,
        parent: QWidget | None = None,
        on_ticket: Callable[[TicketRequest], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.on_flatten = on_flatten
        self.on_ticket = on_ticket
        self.view = table_view(model, self)
        self.view.setColumnWidth(3, 100)
        self.view.setColumnWidth(6, 110)
        self.flatten_action = QAction("Flatten this position", self.view)
        self.flatten_action.triggered.connect(self.flatten_selected)
        self.view.addAction(self.flatten_action)
        self.close_action = QAction("Close in the ticket…", self.view)
        self.close_action.triggered.connect(lambda: self.ticket_for_selected(protect=False))
        self.protect_action = QAction("Attach protective stop…", self.view)
        self.protect_action.triggered.connect(lambda: self.ticket_for_selected(protect=True))
        if on_ticket is not None:
            self.view.addAction(self.close_action)
            self.view.addAction(self.protect_action)
        self.view.doubleClicked.connect(lambda _index: self.ticket_for_selected(protect=False))
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

    def ticket_for_selected(self, protect: bool) -> TicketRequest | None:
        """Pre-fill the ticket for the first selected position: a close (limit at the
        market) or a protective stop (the template's stop distance away), same size."""
        keys = self.selected_keys()
        if self.on_ticket is None or not keys:
            return None
        p = self.model.store.positions.get(keys[0])
        if p is None or not p.qty:
            return None
        side = Side.SELL if p.qty > 0 else Side.BUY
        request = TicketRequest(
            p.instrument,
            side,
            abs(p.qty),
            OrderType.STOP if protect else OrderType.LIMIT,
            bracket=False,
        )
        self.on_ticket(request)
        return request
