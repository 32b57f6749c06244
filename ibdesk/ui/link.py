"""The instrument link, as TWS's link groups: what the trader last picked is what the ticket
and the hotkeys trade.

Selecting a row in the watchlist, the positions or the blotter, or clicking a chart, makes
that row's instrument the linked one. The ticket loads it (and with it Ctrl+B / Ctrl+S and the
Quick strip), and every chart that joined the link shows it; a chart that did not stays
pinned to its own symbol. Issue 14 found nothing linked: Ctrl+B bought ES while EUR.USD was
selected.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Signal
from PySide6.QtWidgets import QTableView

from ibdesk.domain.instruments import Instrument
from ibdesk.ui.models.table import KEY_ROLE, CoalescingTableModel


def instrument_of(row: object) -> Instrument | None:
    """The instrument a table row is about (orders, fills, positions: ``instrument``; the
    watchlist's rows: ``inst``)."""
    inst = getattr(row, "instrument", None) or getattr(row, "inst", None)
    return inst if isinstance(inst, Instrument) else None


class InstrumentLink(QObject):
    """The linked instrument, and the tables whose selection sets it.

    Signals:
        changed(Instrument): another instrument was picked.
    """

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.instrument: Instrument | None = None

    def follow(self, view: QTableView, model: CoalescingTableModel[Any]) -> None:
        """Picking a row of ``view`` (arrow keys or a click) links its instrument."""
        selection = view.selectionModel()
        selection.currentRowChanged.connect(lambda now, _before: self._picked(model, now))
        # A click on the row already current re-links it (another panel may have linked
        # something else since).
        view.clicked.connect(lambda index: self._picked(model, index))

    def select(self, inst: Instrument) -> None:
        """Link ``inst``. Said again even when it is the linked one already: the ticket may
        have been typed into since (each follower skips what it shows already)."""
        self.instrument = inst
        self.changed.emit(inst)

    def _picked(self, model: CoalescingTableModel[Any], index: QModelIndex) -> None:
        if not index.isValid():
            return
        key = index.siblingAtColumn(0).data(KEY_ROLE)
        if key is None:
            return
        try:
            row = model.row(key)
        except KeyError:  # the row left between the click and now
            return
        inst = instrument_of(row)
        if inst is not None:
            self.select(inst)
