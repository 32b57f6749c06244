"""The blotter: working orders, completed orders, executions; cancel, modify, export.

The source filter offers each kind of source and each strategy by name (those loaded, and
those whose orders the store holds from an earlier run), so a strategy's orders and fills,
with the why of each order, can be read on their own.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QAction, QKeySequence, QStandardItem
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ibdesk.desk.api import OrderOps, StrategyOps
from ibdesk.domain.orders import BLOTTER, SOURCE_KINDS
from ibdesk.state.orders import OrderStore
from ibdesk.ui.models.orders import FillsModel, OrdersModel
from ibdesk.ui.models.table import KEY_ROLE, NumericSortProxy
from ibdesk.ui.panels.common import table_view

MODIFIABLE = ("Qty", "Limit", "Stop")
""" the columns a trader edits, in the order modify_order takes them """
_NUMBER = re.compile(r"^[+]?\d+(\.\d+)?$")


def parse_number(text: str) -> float:
    """A positive number as a trader types it; refuses decimal commas with a hint."""
    cleaned = text.strip().replace("\u2009", "")
    if "," in cleaned and "." not in cleaned:
        raise ValueError(f"{text!r}: use a point for decimals (6800.25), not a comma.")
    cleaned = cleaned.replace(",", "")
    if not _NUMBER.match(cleaned):
        raise ValueError(f"{text!r} is not a number.")
    return float(cleaned)


class BlotterPanel(QWidget):
    """Three tabs over the OrderStore, a source filter, and the order actions.

    Args:
        store: the orders and fills.
        actions: cancel and modify, through the gate.
        refresh_hz: table flushes per second.
        strategies: the runner, whose strategies the filter offers by name (optional).
    """

    def __init__(
        self,
        store: OrderStore,
        actions: OrderOps,
        refresh_hz: float = 25.0,
        parent: QWidget | None = None,
        strategies: StrategyOps | None = None,
    ) -> None:
        super().__init__(parent)
        self.ops = actions
        self.strategies = strategies
        self.working = OrdersModel(
            store, lambda o: o.state.live, completed=False, refresh_hz=refresh_hz, parent=self
        )
        self.completed = OrdersModel(
            store, lambda o: not o.state.live, completed=True, refresh_hz=refresh_hz, parent=self
        )
        self.fills = FillsModel(store, refresh_hz=refresh_hz, parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.source = QComboBox(self)
        self.source.addItem("All sources", "")
        for kind in SOURCE_KINDS:
            self.source.addItem(kind, kind)
        self.source.setToolTip("Show the orders of one source, or of one strategy")
        self._strategy_names: set[str] = set()
        for snap in store.orders.values():
            if snap.source.kind == "strategy":
                self.add_strategy(snap.source.name)
        if strategies is not None:
            for status in strategies.statuses():
                self.add_strategy(status.name)
            strategies.changed += self.add_strategy
        self.source.currentIndexChanged.connect(self._filter)
        self.cancel_button = QPushButton("Cancel selected", self)
        self.cancel_button.setToolTip("Cancel the selected working orders (Delete)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button = QPushButton("Cancel all", self)
        self.cancel_all_button.setToolTip(
            "Global cancel: every order in the account, from every client and the TWS screen"
        )
        self.cancel_all_button.clicked.connect(self.cancel_all)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.clicked.connect(self.ask_export)
        for widget in (self.source, self.cancel_button, self.cancel_all_button):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        self.tabs = QTabWidget(self)
        self.working_view = self._view(self.working, "Working")
        self.completed_view = self._view(self.completed, "Completed")
        self.fills_view = self._view(self.fills, "Executions")
        layout.addWidget(self.tabs, 1)
        self.working_view.setEditTriggers(
            QTableView.EditTrigger.DoubleClicked | QTableView.EditTrigger.EditKeyPressed
        )
        self.working.itemChanged.connect(self._edited)
        cancel = QAction("Cancel order", self.working_view)
        cancel.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        cancel.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        cancel.triggered.connect(self.cancel_selected)
        self.working_view.addAction(cancel)
        self.working_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def _view(self, model: OrdersModel | FillsModel, title: str) -> QTableView:
        view = table_view(model, self)
        self.tabs.addTab(view, title)
        return view

    def add_strategy(self, name: str) -> None:
        """Offer a strategy in the source filter (once)."""
        if name in self._strategy_names:
            return
        self._strategy_names.add(name)
        self.source.addItem(f"strategy: {name}", f"strategy:{name}")

    def show_source(self, source: str) -> None:
        """Filter on a source kind (``strategy``) or one strategy (``strategy:Probe``);
        "" for all."""
        index = self.source.findData(source)
        if index < 0:
            raise ValueError(f"{source!r} is not offered by the source filter")
        self.source.setCurrentIndex(index)

    def close_store(self) -> None:
        """Stop listening to the runner (the window is closing)."""
        if self.strategies is not None:
            self.strategies.changed -= self.add_strategy

    def say(self, text: str, error: bool = False) -> None:
        """Show what an action did (or why it did nothing)."""
        self.message.setText(text)
        self.message.setStyleSheet("color: #f05a5a;" if error else "")
        self.message.setVisible(bool(text))

    # ---- actions --------------------------------------------------------------------------------

    def selected_refs(self) -> list[str]:
        """orderRefs of the selected working orders."""
        proxy = self.working_view.model()
        rows = self.working_view.selectionModel().selectedRows()
        return [str(proxy.data(proxy.index(i.row(), 0), KEY_ROLE)) for i in rows]

    def cancel_selected(self) -> None:
        """Cancel every selected working order."""
        refs = self.selected_refs()
        if not refs:
            self.say("Select the working orders to cancel first.", error=True)
            return
        outcomes = [self.ops.cancel_order(ref) for ref in refs]
        refused = [d.reason for d in outcomes if not d.accepted]
        sent = len(outcomes) - len(refused)
        text = f"Cancel sent for {sent} order{'s' * (sent != 1)}." if sent else ""
        self.say(" ".join([text, *refused]).strip(), error=bool(refused))

    def cancel_all(self) -> None:
        """Global cancel (no confirmation: it only ever reduces risk)."""
        decision = self.ops.cancel_all()
        self.say(
            "Global cancel sent: every order in the account."
            if decision.accepted
            else decision.reason,
            error=not decision.accepted,
        )

    def _edited(self, item: QStandardItem) -> None:
        row, col = item.row(), item.column()
        column = self.working.columns[col]
        if not column.editable or not self.working.is_typed(item):
            return
        title = column.title
        ref = str(self.working.key_at(row))
        try:
            value = parse_number(item.text())
        except ValueError as exc:
            self.say(str(exc), error=True)
            decision = None
        else:
            qty, limit, stop = (value if title == name else None for name in MODIFIABLE)
            decision = self.ops.modify_order(ref, qty, limit, stop, BLOTTER)
            self.say(
                f"Modify sent: {title.lower()} {value:g}."
                if decision.accepted
                else decision.reason,
                error=not decision.accepted,
            )
        # Whatever was typed, the cell shows the order as the broker has it.
        self.working.forget_cell(row, col)

    def _filter(self) -> None:
        wanted = self.source.currentData()
        if not wanted:
            pattern = QRegularExpression("")
        elif ":" in wanted:  # one strategy: its name exactly, not every name it starts
            pattern = QRegularExpression(f"^{re.escape(wanted)}$")
        else:
            pattern = QRegularExpression(f"^{re.escape(wanted)}(:|$)")
        for view in (self.working_view, self.completed_view, self.fills_view):
            proxy = view.model()
            assert isinstance(proxy, NumericSortProxy)
            source_col = next(
                i
                for i, c in enumerate(proxy.sourceModel().columns)  # type: ignore[attr-defined]
                if c.title == "Source"
            )
            proxy.setFilterKeyColumn(source_col)
            proxy.setFilterRegularExpression(pattern)

    def ask_export(self) -> QFileDialog:
        """Ask where to save the current tab as CSV (non-modal)."""
        dialog = QFileDialog(self, "Export blotter", "blotter.csv", "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.fileSelected.connect(lambda path: self.export(Path(path)))
        dialog.open()
        return dialog

    def export(self, path: Path) -> int:
        """Write the current tab's rows, as filtered and sorted, to a CSV file."""
        view = self.tabs.currentWidget()
        assert isinstance(view, QTableView)
        model = view.model()
        columns = range(model.columnCount())
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([model.headerData(c, Qt.Orientation.Horizontal) for c in columns])
            for r in range(model.rowCount()):
                writer.writerow([model.index(r, c).data() for c in columns])
        self.say(f"Exported {model.rowCount()} rows to {path}.")
        return model.rowCount()
