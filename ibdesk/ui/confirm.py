"""Asking the trader before something consequential, without stopping the event loop.

A modal ``exec()`` would run a nested loop inside the qasync loop: the kill switch, the
market data and the watchdog heartbeat all wait behind it. The dialogs here are window-modal
instead (they block clicks on the window, not the loop) and answer through a future. The safe
answer is the default one: Enter and Esc never send, stop or hand over anything.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from ibdesk.desk.api import StrategyOps
from ibdesk.domain.orders import BracketIntent, OrderIntent
from ibdesk.domain.strategy import StrategyState


class Question(QMessageBox):
    """A question with one consequential answer (``yes_button``) and a safe one.

    Args:
        parent: the window it blocks.
        title: the window title.
        text: rich text (escape what is not markup).
        yes: the consequential answer's words ("Send", "Stop and flatten").
        no: the safe answer's words.
    """

    def __init__(
        self, parent: QWidget | None, title: str, text: str, yes: str, no: str = "Cancel"
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setText(text)
        self.yes_button = self.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        self.no_button = self.addButton(no, QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.no_button)
        self.setEscapeButton(self.no_button)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.answer: asyncio.Future[bool] = asyncio.get_event_loop().create_future()
        """ True: a consequential answer was chosen """
        self.finished.connect(self._finished)

    def chose(self, button: QAbstractButton | None) -> bool:
        """Whether a button is a consequential answer."""
        return button is self.yes_button

    def _finished(self, _result: int) -> None:
        if not self.answer.done():
            self.answer.set_result(self.chose(self.clickedButton()))


def ask(parent: QWidget | None, title: str, text: str, yes: str) -> Question:
    """Show a question; await its ``answer`` (True: ``yes``)."""
    box = Question(parent, title, text, yes)
    box.open()
    return box


def running_traders(
    strategies: StrategyOps | None, intent: OrderIntent | BracketIntent
) -> list[str]:
    """Names of the running strategies a manual order on this instrument may fight (a paused
    one adds nothing: pausing it again would change nothing)."""
    if strategies is None:
        return []
    entry = intent.entry if isinstance(intent, BracketIntent) else intent
    if entry.source.kind == "strategy":
        return []
    return [
        name
        for name, state, _ in strategies.traders_of(entry.instrument.con_id)
        if state is StrategyState.RUNNING
    ]


class OrderConfirmation(Question):
    """ "Send this order?" with the reasons it needs confirming: Send or Cancel, and for each
    running strategy that trades the instrument "Pause <name> and send" (``pause_first``
    says which was chosen; the caller pauses it before sending)."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        summary: str,
        reasons: list[str],
        pausable: Sequence[str] = (),
    ) -> None:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
        super().__init__(parent, title, f"<b>{html.escape(summary)}</b><ul>{items}</ul>", "Send")
        self.send_button = self.yes_button
        self.cancel_button = self.no_button
        self.pause_buttons = {
            name: self.addButton(f"Pause {name} and send", QMessageBox.ButtonRole.AcceptRole)
            for name in pausable
        }
        for name, button in self.pause_buttons.items():
            button.setToolTip(f"{name} opens nothing new while paused; its exits still work.")
        self.pause_first = ""
        """ the strategy to pause before sending ("" for none) """

    def chose(self, button: QAbstractButton | None) -> bool:
        """Send, or pause a strategy and send."""
        for name, pause in self.pause_buttons.items():
            if button is pause:
                self.pause_first = name
                return True
        return super().chose(button)


def ask_to_confirm(
    parent: QWidget | None,
    title: str,
    summary: str,
    reasons: list[str],
    pausable: Sequence[str] = (),
) -> OrderConfirmation:
    """Show the confirmation; await its ``answer`` (True: send, after pausing
    ``pause_first`` if the trader chose to)."""
    box = OrderConfirmation(parent, title, summary, reasons, pausable)
    box.open()
    return box


def pause_before_sending(box: OrderConfirmation, strategies: StrategyOps | None, who: str) -> str:
    """Pause the strategy the trader chose at the confirmation, if any; what was done."""
    name = box.pause_first
    if not name or strategies is None:
        return ""
    strategies.pause(name, f"paused by the trader before a manual order ({who})")
    return f"Paused {name}. "
