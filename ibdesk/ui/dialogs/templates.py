"""Editing the bracket templates: one row per symbol root, saved into the config file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ibdesk import config
from ibdesk.config import BracketTemplate

COLUMNS = ("Root", "Quantity", "Take-profit", "Stop-loss", "Unit")
UNITS = ("ticks", "points", "dollars")


class TemplateDialog(QDialog):
    """The templates as a table; Save checks every row, writes the config, emits ``saved``.

    Roots are symbol roots (``ES``), ``*FUT`` / ``*STK`` for a type, ``*`` for the rest.
    """

    saved = Signal(dict)

    def __init__(
        self,
        templates: Mapping[str, BracketTemplate],
        path: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bracket templates")
        self.path = path or config.default_path()
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        for root, t in sorted(templates.items()):
            self.add_row(root, t)
        add = QPushButton("Add", self)
        add.clicked.connect(lambda: self.add_row("", BracketTemplate()))
        remove = QPushButton("Remove", self)
        remove.clicked.connect(self.remove_selected)
        self.message = QLabel(
            f"Offsets from the entry, per contract for dollars. Saved to {self.path.name} "
            "in the config folder.",
            self,
        )
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def add_row(self, root: str, t: BracketTemplate) -> int:
        """A row for one template; returns its index."""
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, value in enumerate((root, f"{t.qty:g}", f"{t.take_profit:g}", f"{t.stop_loss:g}")):
            self.table.setItem(r, c, QTableWidgetItem(value))
        unit = QComboBox(self.table)
        unit.addItems(UNITS)
        unit.setCurrentText(t.unit)
        self.table.setCellWidget(r, 4, unit)
        return r

    def remove_selected(self) -> None:
        """Drop the selected rows (the ``*`` row stays: every instrument needs a template)."""
        for index in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            if self._text(index, 0) != "*":
                self.table.removeRow(index)

    def templates(self) -> dict[str, BracketTemplate]:
        """The table's templates; ValueError naming the first bad cell."""
        out: dict[str, BracketTemplate] = {}
        for r in range(self.table.rowCount()):
            root = self._text(r, 0).upper()
            if not root:
                raise ValueError(f"Row {r + 1}: enter a root (ES, *FUT, *).")
            if root in out:
                raise ValueError(f"Row {r + 1}: {root} is listed twice.")
            numbers = []
            for c in (1, 2, 3):
                text = self._text(r, c)
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError(
                        f"{root}: {COLUMNS[c].lower()} must be a number, not {text!r}"
                        + (" (use a point for decimals)." if "," in text else ".")
                    ) from None
                if not value > 0 or value == float("inf"):
                    raise ValueError(f"{root}: {COLUMNS[c].lower()} must be above 0.")
                numbers.append(value)
            if not numbers[0].is_integer():
                raise ValueError(f"{root}: the quantity must be whole.")
            unit = self.table.cellWidget(r, 4)
            assert isinstance(unit, QComboBox)
            out[root] = BracketTemplate(numbers[0], numbers[1], numbers[2], unit.currentText())
        if "*" not in out:
            raise ValueError('Keep a "*" row: the template for every other instrument.')
        return out

    def save(self) -> None:
        """Check, write, announce; on a problem say which and keep the dialog open."""
        try:
            templates = self.templates()
            config.save_templates(self.path, templates)
        except (ValueError, OSError, config.ConfigError) as exc:
            self.message.setText(f"Not saved: {exc}")
            self.message.setStyleSheet("color: #f85149;")
            return
        self.saved.emit(templates)
        self.accept()

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""
