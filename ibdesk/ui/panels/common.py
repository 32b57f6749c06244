"""Pieces every table panel uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ibdesk.ui.models.table import CoalescingTableModel, NumericSortProxy

MAX_COLUMN_PX = 280
""" the widest a column grows by itself (a long reason or signal text shows in its tooltip) """


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
    header.setMinimumSectionSize(32)
    header.setStretchLastSection(False)
    view.setWordWrap(False)
    view.setCornerButtonEnabled(False)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    VisibleRows(view, model)
    ColumnFit(view)
    return view


class ColumnFit(QObject):
    """Sizes a table's columns to what they show: the title at first, then the widest
    visible cell, growing (never shrinking, so columns do not jitter with the prices) up to
    :data:`MAX_COLUMN_PX`.

    Fixed widths put the columns a trader needs behind a scrollbar (issue 14: 86 px for a
    one-letter side, while prices were cut). Cells are measured while rows arrive and the
    values settle: on new rows, then once a second until five checks in a row change
    nothing. Only the visible rows are measured (what Qt's sizeHintForColumn does), so a
    10,000-row blotter costs what its screenful costs. A column the trader resizes by hand
    keeps the trader's width.
    """

    QUIET_CHECKS = 5

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self.view = view
        self.header = view.horizontalHeader()
        self._quiet = 0
        self._sizing = False
        self.by_hand: set[int] = set()
        """ columns the trader resized: left alone """
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._check)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self._check)
        self.header.sectionResized.connect(self._resized)
        shown = view.model()
        shown.rowsInserted.connect(self.wake)
        shown.modelReset.connect(self.wake)
        view.installEventFilter(self)  # shown: measure what it shows
        self._sizing = True
        for col in range(self.header.count()):  # the titles, before any row
            self.header.resizeSection(col, min(MAX_COLUMN_PX, self.header.sectionSizeHint(col)))
        self._sizing = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.wake()
        return False

    def wake(self, *_: object) -> None:
        """Rows changed: measure after this event, then keep checking a while."""
        self._quiet = 0
        self._soon.start()
        if not self._timer.isActive():
            self._timer.start()

    def _check(self) -> None:
        if not self.view.isVisible():
            self._timer.stop()  # measured when it is shown
            return
        if self._grow(self.view.sizeHintForColumn):
            self._quiet = 0
        else:
            self._quiet += 1
            if self._quiet >= self.QUIET_CHECKS:
                self._timer.stop()

    def _grow(self, wanted: Callable[[int], int]) -> bool:
        grew = False
        self._sizing = True
        try:
            for col in range(self.header.count()):
                if (
                    col in self.by_hand
                    or self.header.isSectionHidden(col)
                    or self.header.sectionResizeMode(col) is not QHeaderView.ResizeMode.Interactive
                ):
                    continue
                width = min(MAX_COLUMN_PX, max(wanted(col), self.header.sectionSizeHint(col)))
                if width > self.header.sectionSize(col):
                    self.header.resizeSection(col, width)
                    grew = True
        finally:
            self._sizing = False
        return grew

    def _resized(self, col: int, _old: int, _new: int) -> None:
        if not self._sizing:
            self.by_hand.add(col)


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
