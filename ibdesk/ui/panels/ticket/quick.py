"""The Quick strip on the toolbar: a symbol, a quantity, and a template bracket either way."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QToolBar, QWidget

from ibdesk.domain.orders import Side
from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.tasks import TaskGroup
from ibdesk.ui.panels.ticket.form import TicketPanel

HALTED_TIP = "Trading is HALTED: re-arm the desk to send orders."


class QuickTicket(QToolBar):
    """The compact ticket: symbol, quantity, Buy / Sell bracket with the instrument's
    template. It drives the ticket panel, so the rules and the outcome are the same."""

    def __init__(self, ticket: TicketPanel, parent: QWidget | None = None) -> None:
        super().__init__("Quick ticket", parent)
        self.setObjectName("QuickTicket")
        self.ticket = ticket
        self.tasks = TaskGroup("the Quick strip")
        self.symbol = QLineEdit(self)
        self.symbol.setPlaceholderText("Symbol")
        self.symbol.setMaximumWidth(110)
        self.symbol.setCompleter(ticket.completer)
        self.qty = QLineEdit(self)
        self.qty.setPlaceholderText("Qty (template)")
        self.qty.setMaximumWidth(90)
        self.buy = QPushButton("Buy bracket", self)
        self.buy.setObjectName("quick_buy")
        self.sell = QPushButton("Sell bracket", self)
        self.sell.setObjectName("quick_sell")
        self.outcome = QLabel("", self)
        for w in (QLabel(" Quick ", self), self.symbol, self.qty, self.buy, self.sell):
            self.addWidget(w)
        self.addWidget(self.outcome)
        self.buy.clicked.connect(lambda: self.send(Side.BUY))
        self.sell.clicked.connect(lambda: self.send(Side.SELL))
        ticket.outcome_changed.connect(self.outcome.setText)
        # The strip shows what Ctrl+B / Ctrl+S would trade: the ticket's instrument, however
        # it got there (typed, linked from a table or a chart, pre-filled).
        ticket.instrument_changed.connect(lambda inst: self.symbol.setText(inst.display))

    def show_trading_state(self, change: StateChange) -> None:
        """HALTED, or a desk that refuses every order (read-only, a replay): the strip's
        buttons are off, and say why."""
        halted = change.state is TradingState.HALTED
        why = self.ticket.desk.refuses_all_orders() or (HALTED_TIP if halted else "")
        for button in (self.buy, self.sell):
            button.setEnabled(not why)
            button.setToolTip(why)

    def send(self, side: Side) -> None:
        """Load the symbol if it changed, then a bracket from its template."""
        self.tasks.cancel_all()  # a second click replaces the first
        self.tasks.spawn(self._send(side), f"a quick {side.value.lower()} bracket")

    async def _send(self, side: Side) -> None:
        text = self.symbol.text().strip()
        ticket = self.ticket
        current = ticket.instrument.display if ticket.instrument else ""
        if text and text.upper() != current and await ticket.set_symbol(text) is None:
            self.outcome.setText(ticket.errors["instrument"].text())
            return
        ticket.quick_qty(side, self.qty.text().strip())
