"""The ticket's stop-loss type: a plain stop (STP) or a trailing stop (TRAIL), and how far a
trailing stop trails (ticks, points, dollars a contract, or percent).

The stop-loss field stays the first stop either way; choosing TRAIL adds a "Trail by" row,
pre-filled with the stop-loss's own distance when that is an offset, so a TRAIL is one choice
away from the template's bracket. The rules (what is a valid trail) are Qt-free, in
``ibdesk.trading.trail``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from ibdesk.domain.orders import OrderType
from ibdesk.trading.trail import PERCENT, TRAIL_UNITS

STOP_TYPES = (OrderType.STOP, OrderType.TRAIL)


class TrailControls(QObject):
    """The STP/TRAIL choice beside the stop-loss, and the "Trail by" row (amount and unit).

    Args:
        owner: the ticket (the widgets' parent).
        stop_offset: the stop-loss as typed and its unit (``ticks``, ``points``, ``dollars``
            or ``price``): what a new trail starts from.

    Signals:
        changed(): the type, the amount or the unit changed.
    """

    changed = Signal()

    def __init__(self, owner: QWidget, stop_offset: Callable[[], tuple[str, str]]) -> None:
        super().__init__(owner)
        self.stop_offset = stop_offset
        self.kind = QComboBox(owner)
        self.kind.setObjectName("stop_type")
        for stop_type in STOP_TYPES:
            self.kind.addItem(stop_type.value, stop_type)
        self.kind.setToolTip(
            "STP: a stop at the stop-loss. TRAIL: a trailing stop that starts at the "
            "stop-loss and follows the market in your favour by the trail (IB's TRAIL)."
        )
        self.amount = QLineEdit(owner)
        self.amount.setObjectName("trail")
        self.amount.setPlaceholderText("how far the stop trails")
        self.unit = QComboBox(owner)
        for unit in TRAIL_UNITS:
            self.unit.addItem("%" if unit == PERCENT else unit, unit)
        self.row = QWidget(owner)
        box = QHBoxLayout(self.row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.amount, 1)
        box.addWidget(self.unit, 0)
        self.label: QLabel | None = None
        """ the row's caption, once the ticket has laid it out """
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.amount.textEdited.connect(lambda _text: self.changed.emit())
        self.unit.currentIndexChanged.connect(lambda _index: self.changed.emit())

    @property
    def stop_type(self) -> OrderType:
        """STP or TRAIL."""
        return OrderType(self.kind.currentData())

    @property
    def unit_value(self) -> str:
        """The trail's unit: ``ticks``, ``points``, ``dollars`` or ``percent``."""
        return str(self.unit.currentData())

    def show_for(self, bracket: bool) -> None:
        """The type goes with the bracket; the "Trail by" row only with a TRAIL in one."""
        self.kind.setEnabled(bracket)
        shown = bracket and self.stop_type is OrderType.TRAIL
        self.row.setVisible(shown)
        if self.label is not None:
            self.label.setVisible(shown)

    def _kind_changed(self) -> None:
        if self.stop_type is OrderType.TRAIL and not self.amount.text().strip():
            text, unit = self.stop_offset()
            if unit in TRAIL_UNITS and text.strip():
                # Trail by the stop's own distance: the template's risk, kept as it moves.
                self.amount.setText(text.strip())
                self.unit.setCurrentIndex(TRAIL_UNITS.index(unit))
        self.show_for(self.kind.isEnabled())
        self.changed.emit()
