"""A price field that steps by its instrument's tick."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from ibdesk.trading.templates import price_field

KEY_STEPS = {
    Qt.Key.Key_Up: 1,
    Qt.Key.Key_Down: -1,
    Qt.Key.Key_PageUp: 10,
    Qt.Key.Key_PageDown: -10,
}


class PriceEdit(QLineEdit):
    """A price field that steps by the instrument's tick: Up/Down and the wheel by one,
    PgUp/PgDn by ten. Stepping counts as the trader's own edit."""

    stepped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tick = 0.0
        self.base: float = math.nan
        """ where stepping starts from when the field is empty (the market) """

    def step(self, ticks: int) -> None:
        """Move the price by ``ticks`` ticks (from the market when empty or unreadable)."""
        if self.tick <= 0:
            return
        try:
            value = float(self.text().strip())
        except ValueError:
            value = self.base
        if not math.isfinite(value):
            return
        value = round(round(value / self.tick) * self.tick + ticks * self.tick, 10)
        if value <= 0:
            return
        self.setText(price_field(value, self.tick))
        self.stepped.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = KEY_STEPS.get(Qt.Key(event.key()))
        if steps is None:
            super().keyPressEvent(event)
            return
        self.step(steps)

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() // 120
        if notches:
            self.step(int(notches))
        event.accept()
