"""Pieces every table panel uses."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ibdesk.ui.models.table import CoalescingTableModel, NumericSortProxy


def table_view(
    model: CoalescingTableModel[Any], parent: QWidget | None = None, sortable: bool = True
) -> QTableView:
    """A compact, read-only table view; sortable by raw values through a proxy."""
    view = QTableView(parent)
    if sortable:
        view.setModel(NumericSortProxy(model, view))
        view.setSortingEnabled(True)
    else:
        view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setDefaultSectionSize(86)
    header.setMinimumSectionSize(40)
    header.setStretchLastSection(False)
    view.setWordWrap(False)
    view.setCornerButtonEnabled(False)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    VisibleRows(view, model)
    return view


class VisibleRows(QObject):
    """Tells a model which of its rows a view shows, so off-screen rows cost nothing.

    Recomputed (at most once per event-loop turn) on scroll, resize, show/hide, sort and
    row changes; rows are mapped through the sort proxy to the model's own row numbers.
    """

    def __init__(self, view: QTableView, model: CoalescingTableModel[Any]) -> None:
        super().__init__(view)
        self.view = view
        self.model = model
        # A timer of our own (not QTimer.singleShot): it dies with the view, so a pending
        # update can never run against a deleted view.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.update)
        view.viewport().installEventFilter(self)
        view.verticalScrollBar().valueChanged.connect(self.schedule)
        shown = view.model()
        for signal in (
            shown.rowsInserted,
            shown.rowsRemoved,
            shown.layoutChanged,
            shown.modelReset,
        ):
            signal.connect(self.schedule)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide):
            self.schedule()
        return False

    def schedule(self, *_: object) -> None:
        """Recompute after the current event is handled."""
        if not self._timer.isActive():
            self._timer.start()

    def update(self) -> None:
        """Report the source rows between the first and last visible view rows."""
        view = self.view
        if not view.isVisible() or not view.viewport().isVisible():
            self.model.set_visible_rows(set())
            return
        shown = view.model()
        count = shown.rowCount()
        if not count:
            self.model.set_visible_rows(set())
            return
        first = max(0, view.rowAt(0))
        last = view.rowAt(view.viewport().height() - 1)
        last = count - 1 if last < 0 else last
        if shown is self.model:
            rows = set(range(first, last + 1))
        else:
            rows = {
                shown.mapToSource(shown.index(r, 0)).row()  # type: ignore[attr-defined]
                for r in range(first, last + 1)
            }
        self.model.set_visible_rows(rows)
