"""Asking the trader to confirm an order, without stopping the event loop.

A modal ``exec()`` would run a nested loop inside the qasync loop: the kill switch, the
market data and the watchdog heartbeat all wait behind it. The dialog is window-modal instead
(it blocks clicks on the window, not the loop) and answers through a future.
"""

from __future__ import annotations

import asyncio
import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


class OrderConfirmation(QMessageBox):
    """ "Send this order?" with the reasons it needs confirming; Send or Cancel."""

    def __init__(self, parent: QWidget | None, title: str, summary: str, reasons: list[str]):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setTextFormat(Qt.TextFormat.RichText)
        items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
        self.setText(f"<b>{html.escape(summary)}</b><ul>{items}</ul>")
        self.send_button = self.addButton("Send", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        # Enter must not send by accident: the safe answer is the default one.
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.answer: asyncio.Future[bool] = asyncio.get_event_loop().create_future()
        self.finished.connect(self._finished)

    def _finished(self, _result: int) -> None:
        if not self.answer.done():
            self.answer.set_result(self.clickedButton() is self.send_button)


def ask_to_confirm(
    parent: QWidget | None, title: str, summary: str, reasons: list[str]
) -> OrderConfirmation:
    """Show the confirmation; await its ``answer`` (True: send)."""
    box = OrderConfirmation(parent, title, summary, reasons)
    box.open()
    return box
