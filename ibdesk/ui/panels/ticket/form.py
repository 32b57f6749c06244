"""The order ticket: a bracket in a few keystrokes, its money shown before it is sent.

Every keystroke re-evaluates the whole ticket (``ibdesk.trading.ticket.evaluate``): each wrong
field gets its message beside it and Submit stays disabled until nothing is wrong. A valid
ticket asks IB's what-if for its margin and commission (debounced). Submit goes through the
desk's gate with source ``ticket``; a LIVE account or a fat-finger order asks first, in a
dialog that does not stop the event loop.

Keyboard: Ctrl+B / Ctrl+S (window-wide) buy / sell a bracket with the current template;
Ctrl+Enter submits; Esc clears; Up/Down (and the mouse wheel) move a price by one tick,
PgUp/PgDn by ten; Tab walks every field.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ibdesk import clock as clocks
from ibdesk.config import BracketTemplate
from ibdesk.desk.api import StrategyOps, TradingDesk
from ibdesk.domain.connection import LinkState
from ibdesk.domain.instruments import Instrument, SymbolError
from ibdesk.domain.orders import (
    BracketIntent,
    OrderIntent,
    OrderState,
    OrderType,
    Side,
    Tif,
)
from ibdesk.domain.risk import StateChange
from ibdesk.domain.ticket import TicketRequest, WhatIf
from ibdesk.tasks import TaskGroup
from ibdesk.trading.checks import price_text
from ibdesk.trading.templates import price_field, template_keys, ticket_rules
from ibdesk.trading.ticket import (
    ENTRY_TYPES,
    TICKET,
    TicketForm,
    TicketMarket,
    TicketResult,
    TicketRules,
    evaluate,
    offset_distance,
)
from ibdesk.trading.ticket_fields import parse_number
from ibdesk.ui import theme
from ibdesk.ui.confirm import (
    OrderConfirmation,
    ask_to_confirm,
    pause_before_sending,
    running_traders,
)
from ibdesk.ui.panels.ticket.price_edit import PriceEdit
from ibdesk.ui.panels.ticket.text import contract_line, order_summary, what_if_text
from ibdesk.ui.panels.ticket.trail import TrailControls

log = logging.getLogger(__name__)

EXIT_UNITS = ("ticks", "points", "dollars", "price")
WHAT_IF_DELAY_MS = 400


class TicketPanel(QWidget):
    """The dockable order ticket."""

    outcome_changed = Signal(str)
    instrument_changed = Signal(object)
    """ the ticket trades another instrument now (the Quick strip shows it) """

    def __init__(
        self,
        desk: TradingDesk,
        parent: QWidget | None = None,
        strategies: StrategyOps | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TicketPanel")
        self.desk = desk
        self.strategies = strategies
        """ the runner, so a confirmation can offer to pause a strategy the order may fight """
        self.instrument: Instrument | None = None
        self.result: TicketResult = TicketResult(None, {"instrument": "Choose an instrument."})
        self.what_if: WhatIf | None = None
        self._what_if_key: Any = None
        self._entry_follows_market = True
        self._resolving: asyncio.Future[Instrument | None] | None = None
        self.tasks = TaskGroup("the ticket", log)
        self.confirmation: OrderConfirmation | None = None
        self.sent_refs: tuple[str, ...] = ()
        self._build()
        self._wire()
        self._market_timer = QTimer(self)
        self._market_timer.setInterval(250)
        self._market_timer.timeout.connect(self._on_market)
        self._market_timer.start()
        self._what_if_timer = QTimer(self)
        self._what_if_timer.setSingleShot(True)
        self._what_if_timer.setInterval(WHAT_IF_DELAY_MS)
        self._what_if_timer.timeout.connect(self._ask_what_if)
        self._type_changed()

    # ---- building -------------------------------------------------------------------------

    def _build(self) -> None:
        rows = _Rows(self)
        self.errors = rows.errors
        self._build_instrument(rows)
        self._build_order(rows)
        self._build_exits(rows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(rows.grid)
        self._build_footer(layout)

    def _build_instrument(self, rows: _Rows) -> None:
        self.symbol = QLineEdit(self)
        self.symbol.setPlaceholderText("ES, ESZ6, AAPL, EUR.USD")
        self.symbol.setToolTip("Type a symbol and press Enter (futures: the front month)")
        self.completer = QCompleter(self.desk.watchlist.symbols(), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.symbol.setCompleter(self.completer)
        rows.add("Instrument", self.symbol, "instrument")
        self.contract_info = QLabel("", self)
        self.contract_info.setObjectName("contract_info")
        self.contract_info.setWordWrap(True)
        rows.span(self.contract_info)
        self.template = QComboBox(self)
        self.template.setToolTip("Bracket template for this root ([ticket.templates] in config)")
        self.edit_templates = QToolButton(self)
        self.edit_templates.setText("Edit…")
        rows.add("Template", _row(self, (self.template, 1), (self.edit_templates, 0)))

    def _build_order(self, rows: _Rows) -> None:
        self.buy = QPushButton("BUY", self)
        self.sell = QPushButton("SELL", self)
        self.sides = QButtonGroup(self)
        for b, color in ((self.buy, "#1f6feb"), (self.sell, "#da3633")):
            b.setCheckable(True)
            b.setStyleSheet(
                f"QPushButton:checked {{ background: {color}; color: white; font-weight: bold; }}"
            )
            self.sides.addButton(b)
        self.buy.setChecked(True)
        rows.add("Side", _row(self, (self.buy, 0), (self.sell, 0)))
        self.qty = QLineEdit("1", self)
        self.qty.setObjectName("qty")
        rows.add("Quantity", self.qty, "qty")
        self.risk = QLineEdit(self)
        self.risk.setObjectName("risk")
        self.risk.setPlaceholderText("$ risk at the stop: sets the quantity")
        rows.add("Risk $", self.risk, "risk")
        self.order_type = QComboBox(self)
        for entry_type in ENTRY_TYPES:
            self.order_type.addItem(entry_type.value, entry_type)
        self.order_type.setCurrentIndex(ENTRY_TYPES.index(OrderType.LIMIT))
        rows.add("Type", self.order_type)
        self.entry = PriceEdit(self)
        self.entry.setObjectName("entry")
        self.entry_down = QToolButton(self)
        self.entry_down.setText("\u2212")
        self.entry_up = QToolButton(self)
        self.entry_up.setText("+")
        entry = _row(self, (self.entry, 1), (self.entry_down, 0), (self.entry_up, 0))
        rows.add("Entry", entry, "entry")
        self.limit = PriceEdit(self)
        self.limit.setObjectName("limit")
        self.limit_label = rows.add("Limit", self.limit, "limit")

    def _build_exits(self, rows: _Rows) -> None:
        self.bracket = QCheckBox("Attach exits", self)
        self.bracket.setToolTip("Attach a take-profit and a stop-loss (a native IB bracket)")
        self.bracket.setChecked(True)
        self.exits = QComboBox(self)
        for unit in EXIT_UNITS:
            self.exits.addItem("at price" if unit == "price" else f"offset in {unit}", unit)
        rows.add("Bracket", _row(self, (self.bracket, 0), (self.exits, 0)))
        self.take_profit = PriceEdit(self)
        self.take_profit.setObjectName("take_profit")
        rows.add("Take-profit", self.take_profit, "take_profit")
        self.stop_loss = PriceEdit(self)
        self.stop_loss.setObjectName("stop_loss")
        # STP or TRAIL beside the stop-loss; a TRAIL's "Trail by" row under it.
        self.trail = TrailControls(self, lambda: (self.stop_loss.text(), self.exits.currentData()))
        rows.add("Stop-loss", _row(self, (self.stop_loss, 1), (self.trail.kind, 0)), "stop_loss")
        self.trail.label = rows.add("Trail by", self.trail.row, "trail")
        self.trail.show_for(self.bracket.isChecked())
        self.tif = QComboBox(self)
        for tif in Tif:
            self.tif.addItem(tif.value, tif)
        self.outside_rth = QCheckBox("Outside RTH", self)
        self.account = QComboBox(self)
        self.account.setToolTip("Account (empty: the connection's default)")
        rows.add("TIF", _row(self, (self.tif, 0), (self.outside_rth, 0), (self.account, 1)))

    def _build_footer(self, layout: QVBoxLayout) -> None:
        t = theme.current()
        self.figures = QLabel("", self)
        self.figures.setObjectName("figures")
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setWordWrap(True)
        self.preview = QLabel("", self)
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.notes = QLabel("", self)
        self.notes.setStyleSheet(f"color: {t.warn};")
        self.notes.setWordWrap(True)
        self.gate_verdict = QLabel("", self)
        self.gate_verdict.setObjectName("gate_verdict")
        self.gate_verdict.setStyleSheet(f"color: {t.error};")
        self.gate_verdict.setWordWrap(True)
        self.gate_verdict.hide()
        self.submit_button = QPushButton("Submit", self)
        self.submit_button.setObjectName("submit")
        self.submit_button.setToolTip("Send through the gate (Ctrl+Enter)")
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("Clear the ticket (Esc)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit_button, 2)
        buttons.addWidget(self.clear_button, 1)
        self.outcome = QLabel("", self)
        self.outcome.setObjectName("outcome")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in (self.figures, self.preview, self.notes, self.gate_verdict):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addWidget(self.outcome)
        layout.addStretch(1)

    def _wire(self) -> None:
        self.symbol.returnPressed.connect(self._resolve_typed)
        self.symbol.editingFinished.connect(self._resolve_typed)
        self.completer.activated.connect(lambda _text: self._resolve_typed())
        self.template.activated.connect(lambda _i: self.apply_template())
        self.edit_templates.clicked.connect(self.open_templates)
        self.sides.buttonToggled.connect(self._side_toggled)
        for edit in (self.qty, self.risk, self.limit, self.take_profit, self.stop_loss):
            edit.textEdited.connect(self.refresh)
        for price in (self.limit, self.take_profit, self.stop_loss):
            price.stepped.connect(self.refresh)
        self.entry.textEdited.connect(self._entry_typed)
        self.entry.stepped.connect(self._entry_typed)
        self.entry_up.clicked.connect(lambda: self.entry.step(1))
        self.entry_down.clicked.connect(lambda: self.entry.step(-1))
        self.order_type.currentIndexChanged.connect(self._type_changed)
        self.bracket.toggled.connect(self._exits_changed)
        self.trail.changed.connect(self.refresh)
        self.exits.currentIndexChanged.connect(self._exits_changed)
        for combo in (self.tif, self.account):
            combo.currentIndexChanged.connect(self.refresh)
        self.outside_rth.toggled.connect(self.refresh)
        self.submit_button.clicked.connect(self.submit)
        self.clear_button.clicked.connect(self.clear)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            ("Esc", self.clear),
            ("Ctrl+Return", self.submit),
            ("Ctrl+Enter", self.submit),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
        self.desk.link.changed += self._on_link

    # ---- the form -------------------------------------------------------------------------

    @property
    def entry_type(self) -> OrderType:
        """The entry's order type (Qt hands the item data back as a plain string)."""
        return OrderType(self.order_type.currentData())

    @property
    def side(self) -> Side:
        """The side chosen."""
        return Side.BUY if self.buy.isChecked() else Side.SELL

    def form(self) -> TicketForm:
        """What the ticket holds now."""
        order_type = self.entry_type
        return TicketForm(
            self.instrument,
            self.side,
            self.qty.text(),
            order_type,
            self.entry.text(),
            self.limit.text(),
            self.bracket.isChecked(),
            self.take_profit.text(),
            self.stop_loss.text(),
            self.exits.currentData(),
            self.risk.text(),
            Tif(self.tif.currentData()),
            self.outside_rth.isChecked(),
            self.account.currentData() or "",
            stop_type=self.trail.stop_type,
            trail=self.trail.amount.text(),
            trail_unit=self.trail.unit_value,
        )

    def market(self) -> TicketMarket:
        """The instrument's quote as the ticket prices from it."""
        if self.instrument is None:
            return TicketMarket()
        q = self.desk.quotes.get(self.instrument.con_id)
        return TicketMarket() if q is None else TicketMarket(q.bid, q.ask, q.last)

    def rules(self) -> TicketRules:
        """The config's limits for the instrument."""
        return ticket_rules(self.desk.settings, self.instrument)

    def refresh(self) -> None:
        """Re-evaluate everything; show messages, figures; enable Submit only when valid."""
        self.result = evaluate(self.form(), self.market(), self.rules())
        r = self.result
        for name, label in self.errors.items():
            text = r.errors.get(name, "")
            if name == "instrument" and not self.symbol.text().strip():
                text = ""  # not an error before anything was typed (Submit says it)
            label.setText(text)
            label.setVisible(bool(text))
        from_risk = r.figures.qty_from_risk if r.figures is not None else None
        self.qty.setEnabled(not self.risk.text().strip())
        if from_risk is not None:
            self.qty.setText(f"{from_risk:g}")  # shown, not typed: the risk field sets it
        self.notes.setText(" ".join(r.notes.values()))
        self.notes.setVisible(bool(r.notes))
        self._show_figures()
        self._show_verdict()
        self.submit_button.setText(self._submit_text())
        key = self._intent_key()
        if key != self._what_if_key:
            self.what_if = None
            self._what_if_key = None
            self._show_preview()
            if key is not None:
                self._what_if_timer.start()

    def _show_verdict(self) -> None:
        """Ask the gate what it would decide (as you type, and as the market moves): Submit
        is enabled only for an order it would accept, and otherwise says why not."""
        intent = self.result.intent
        connected = self._connected()
        verdict = self.desk.judge(intent) if intent is not None and connected else None
        refused = verdict is not None and not verdict.accepted
        text = f"Denied ({verdict.check}): {verdict.reason}" if verdict and refused else ""
        if standing := self.desk.refuses_all_orders():  # connected or not: say it now
            refused, text = True, standing
        if text != self.gate_verdict.text():
            self.gate_verdict.setText(text)
        self.gate_verdict.setVisible(refused)
        self.submit_button.setEnabled(self.result.ok and connected and not refused)
        self.submit_button.setToolTip(text or "Send through the gate (Ctrl+Enter)")

    def _submit_text(self) -> str:
        verb = self.side.value
        what = "bracket" if self.bracket.isChecked() else self.order_type.currentText()
        inst = self.instrument.display if self.instrument else ""
        return f"{verb} {what} {inst}".strip()

    def _show_figures(self) -> None:
        f = self.result.figures
        inst = self.instrument
        if f is None or inst is None:
            self.figures.setText("")
            return
        t = theme.current()
        parts = [f"Tick <b>${f.tick_value:,.2f}</b>"]
        if math.isfinite(f.risk):
            parts.append(f"Risk <b style='color:{t.error}'>${f.risk:,.2f}</b>")
        if math.isfinite(f.reward):
            parts.append(f"Reward <b style='color:{t.ok}'>${f.reward:,.2f}</b>")
        if math.isfinite(f.reward_risk):
            parts.append(f"R:R <b>{f.reward_risk:.2f}</b>")
        if f.qty_from_risk is not None:
            parts.append(f"qty from risk <b>{f.qty_from_risk:g}</b>")
        exits = ""
        if math.isfinite(f.take_profit) and math.isfinite(f.stop_loss):
            exits = (
                f"<br>Entry {price_text(inst, f.entry)} · TP {price_text(inst, f.take_profit)}"
                f" · SL {price_text(inst, f.stop_loss)}"
            )
        self.figures.setText(" · ".join(parts) + exits)

    def _show_preview(self, problem: str = "") -> None:
        w = self.what_if
        if problem:
            self.preview.setText(f"What-if: {problem}")
        elif w is None:
            self.preview.setText("What-if: …" if self._intent_key() is not None else "")
        else:
            self.preview.setText(what_if_text(w))

    def _intent_key(self) -> Any:
        intent = self.result.intent
        if intent is None:
            return None
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        # Not the price: an entry following the touch moves every tick, and margin and
        # commission do not depend on it enough to ask again each time. Whether there is a
        # bracket, and whether its stop trails, do: they decide the exit that is asked too.
        return (
            entry.instrument.con_id,
            entry.side,
            entry.qty,
            entry.order_type,
            entry.account,
            isinstance(intent, BracketIntent) and intent.trail is not None,
            isinstance(intent, BracketIntent),
        )

    # ---- reacting -------------------------------------------------------------------------

    def _entry_typed(self) -> None:
        self._entry_follows_market = not self.entry.text().strip()
        self.refresh()

    def _side_toggled(self, _button: Any, on: bool) -> None:
        if on:
            self._side_changed()

    def _side_changed(self) -> None:
        self._follow_market(force=True)
        self.refresh()

    def _type_changed(self) -> None:
        order_type = self.entry_type
        self.entry.setEnabled(order_type is not OrderType.MARKET)
        self.entry_up.setEnabled(order_type is not OrderType.MARKET)
        self.entry_down.setEnabled(order_type is not OrderType.MARKET)
        stop_limit = order_type is OrderType.STOP_LIMIT
        self.limit.setVisible(stop_limit)
        self.limit_label.setVisible(stop_limit)
        if order_type is OrderType.MARKET:
            self.entry.clear()
        elif order_type.needs_stop:
            # A stop is never "the market": the trader sets it.
            self._entry_follows_market = False
        else:
            self._entry_follows_market = True
            self._follow_market(force=True)
        self.refresh()

    def _exits_changed(self) -> None:
        on = self.bracket.isChecked()
        for w in (self.exits, self.take_profit, self.stop_loss):
            w.setEnabled(on)
        self.trail.show_for(on)
        unit = self.exits.currentData()
        tip = "price" if unit == "price" else f"offset from the entry in {unit}"
        self.take_profit.setPlaceholderText(tip)
        self.stop_loss.setPlaceholderText(tip)
        self.refresh()

    def _follow_market(self, force: bool = False) -> None:
        """Keep a LMT entry at the touch (bid to buy, ask to sell) until the trader types."""
        if self.instrument is None or not self._entry_follows_market:
            return
        if self.entry_type is not OrderType.LIMIT:
            return
        price = self.market().join(self.side)
        if not math.isfinite(price):
            return
        text = price_field(price, self.instrument.min_tick)
        if force or text != self.entry.text():
            self.entry.setText(text)

    def _on_market(self) -> None:
        if self.instrument is None:
            return
        market = self.market()
        for edit in (self.entry, self.limit, self.take_profit, self.stop_loss):
            edit.base = market.join(self.side)
        before = self.entry.text()
        self._follow_market()
        if self.entry.text() != before or self.entry_type is OrderType.MARKET:
            self.refresh()
        elif self.result.intent is None and self.result.errors.keys() <= {"entry"}:
            self.refresh()  # waiting for a first quote
        else:
            self._show_verdict()  # the collar and the notional move with the market

    def _on_link(self) -> None:
        status = self.desk.link.status
        current = self.account.currentData()
        wanted = ("", *status.accounts)
        if tuple(self.account.itemData(i) for i in range(self.account.count())) != wanted:
            self.account.blockSignals(True)
            self.account.clear()
            for acct in wanted:
                self.account.addItem(acct or f"default ({status.account or '—'})", acct)
            index = self.account.findData(current)
            self.account.setCurrentIndex(max(index, 0))
            self.account.blockSignals(False)
        self._show_verdict()

    # ---- instrument and templates ---------------------------------------------------------

    def _resolve_typed(self) -> None:
        text = self.symbol.text().strip()
        if not text or (self.instrument is not None and text.upper() == self.instrument.display):
            return
        if self._resolving is not None and not self._resolving.done():
            self._resolving.cancel()
        self._resolving = self.tasks.spawn(self.set_symbol(text), f"looking up {text}")

    async def set_symbol(self, text: str) -> Instrument | None:
        """Look up and load an instrument (its template, its market)."""
        self._show_error("instrument", f"Looking up {text.strip().upper()}…")
        try:
            inst = await self.desk.ticket_instrument(text)
        except SymbolError as exc:
            self.instrument = None
            self.contract_info.setText("")
            self.refresh()
            self._show_error("instrument", str(exc))
            return None
        self.set_instrument(inst)
        return inst

    def set_instrument(self, inst: Instrument) -> None:
        """Load an instrument already resolved: template, tick, market."""
        changed = self.instrument is None or self.instrument.con_id != inst.con_id
        self.instrument = inst
        self.symbol.setText(inst.display)
        self._show_error("instrument", "")
        for edit in (self.entry, self.limit, self.take_profit, self.stop_loss):
            edit.tick = inst.min_tick
        self._show_contract(inst)
        self._fill_templates(inst)
        if changed:
            self.entry.clear()
            self._entry_follows_market = True
            self.apply_template()
        self._follow_market(force=True)
        self.refresh()
        if changed:
            self.instrument_changed.emit(inst)

    def link(self, inst: Instrument) -> None:
        """The trader picked ``inst`` elsewhere (the instrument link): trade it. It is looked
        up again through the desk, which streams its quotes for the ticket's prices."""
        if self.instrument is not None and self.instrument.con_id == inst.con_id:
            return
        if self._resolving is not None and not self._resolving.done():
            self._resolving.cancel()
        self.symbol.setText(inst.display)
        self._resolving = self.tasks.spawn(self.set_symbol(inst.display), f"linking {inst}")

    def show_trading_state(self, change: StateChange) -> None:
        """A kill or a re-arm: what the ticket said of the state before is no longer true
        (a "Denied (halted)" after a re-arm, a "Working" for an order the kill cancelled);
        the gate's verdict, asked again now, says what holds."""
        if self.outcome.text().startswith(("Denied", "Working at the broker", "Sent:")):
            self.show_outcome("", "")
        self.refresh()

    def _show_contract(self, inst: Instrument) -> None:
        """The contract line, and a future's roll warning: the desk's, the one the watchlist
        and the chart header show (the whole of it as the tooltip)."""
        text, _days = contract_line(inst, clocks.today(self.desk.clock))
        warning = self.desk.roll_warning(inst)
        if warning is not None:
            text += f" <b style='color:{theme.current().warn}'>· roll soon: next contract?</b>"
        self.contract_info.setText(text)
        self.contract_info.setToolTip(warning.text if warning is not None else "")

    def _fill_templates(self, inst: Instrument) -> None:
        self.template.blockSignals(True)
        self.template.clear()
        templates = self.desk.templates
        for key in template_keys(templates, inst):
            t = templates[key]
            self.template.addItem(
                f"{key}: {t.qty:g} \u00d7 +{t.take_profit:g} / \u2212{t.stop_loss:g} {t.unit}", key
            )
        self.template.blockSignals(False)

    def current_template(self) -> BracketTemplate | None:
        """The template picked (the instrument's own by default)."""
        key = self.template.currentData()
        return self.desk.templates.get(key) if key else None

    def apply_template(self) -> None:
        """Quantity and exit offsets from the picked template."""
        t = self.current_template()
        if t is None:
            return
        self.qty.setText(f"{t.qty:g}")
        self.risk.clear()
        self.bracket.setChecked(True)
        self.exits.setCurrentIndex(EXIT_UNITS.index(t.unit))
        self.take_profit.setText(f"{t.take_profit:g}")
        self.stop_loss.setText(f"{t.stop_loss:g}")
        self.refresh()

    def open_templates(self) -> Any:
        """The template editor (saved to the config file)."""
        from ibdesk.ui.dialogs.templates import TemplateDialog

        dialog = TemplateDialog(self.desk.templates, self.desk.settings.path, self)
        dialog.saved.connect(self._templates_saved)
        dialog.open()
        return dialog

    def _templates_saved(self, templates: dict[str, BracketTemplate]) -> None:
        self.desk.set_templates(templates)
        if self.instrument is not None:
            self._fill_templates(self.instrument)
            self.apply_template()

    # ---- pre-filling ----------------------------------------------------------------------

    def prefill(self, request: TicketRequest) -> None:
        """Fill the ticket in (from the positions panel or a chart); nothing is sent."""
        self.set_instrument(request.instrument)
        self.order_type.setCurrentIndex(ENTRY_TYPES.index(request.order_type))
        (self.buy if request.side is Side.BUY else self.sell).setChecked(True)
        price = request.price
        if price is None and request.order_type.needs_stop:
            price = self._protective_stop(request)
        if price is not None:
            self.entry.setText(price_field(price, request.instrument.min_tick))
            self._entry_follows_market = False
        if request.bracket:
            self.apply_template()
        else:
            self.bracket.setChecked(False)
        if request.qty is not None:
            self.risk.clear()
            self.qty.setText(f"{request.qty:g}")
        self.refresh()
        self.show_outcome("Pre-filled: check it and Submit.", "")
        self.symbol.setFocus()

    def _protective_stop(self, request: TicketRequest) -> float | None:
        """The template's stop distance beyond the market, on the closing side."""
        t = self.current_template()
        market = self.market().reference
        if t is None or not math.isfinite(market):
            return None
        inst = request.instrument
        distance = offset_distance(inst, t.stop_loss, t.unit)
        price = market - request.side.opposite.sign * distance
        return float(inst.round_to_tick(price)) if price > 0 else None

    # ---- sending --------------------------------------------------------------------------

    def quick(self, side: Side) -> None:
        """Ctrl+B / Ctrl+S: the current template on this side at the market, submitted."""
        self.quick_qty(side, "")

    def quick_qty(self, side: Side, qty: str) -> None:
        """The template on this side at the touch, submitted (the desk builds it, as it
        would for anyone); a typed ``qty`` (validated like the ticket's) replaces the
        template's. The ticket shows what was sent."""
        (self.buy if side is Side.BUY else self.sell).setChecked(True)
        self.apply_template()
        if qty:
            self.qty.setText(qty)
        self._follow_market(force=True)
        self.refresh()
        if self.instrument is None:
            self.show_outcome("Not sent: choose an instrument first.", "error")
            return
        try:
            amount = parse_number(qty, "quantity") if qty else None
            intent = self.desk.template_bracket(
                self.instrument, side, TICKET, self.template.currentData(), amount
            )
        except ValueError as exc:
            self.show_outcome(f"Not sent: {exc}", "error")
            return
        self.offer(intent)

    def submit(self) -> None:
        """Send what the ticket holds (asking first if it needs confirming)."""
        self.refresh()
        intent = self.result.intent
        if intent is None:
            first = next(iter(self.result.errors.values()), "Nothing to send.")
            self.show_outcome(f"Not sent: {first}", "error")
            return
        self.offer(intent)

    def offer(self, intent: OrderIntent | BracketIntent) -> None:
        """Send an order if the gate would take it, asking first when it needs confirming."""
        if not self._connected():
            self.show_outcome("Not sent: not connected to TWS.", "error")
            return
        verdict = self.desk.judge(intent)
        if not verdict.accepted:  # never ask to confirm what the gate will refuse
            self.show_outcome(f"Denied ({verdict.check}): {verdict.reason}", "error")
            return
        reasons = self.desk.confirm_reasons(intent)
        if not reasons:
            self._send(intent)
            return
        if self.what_if is not None:
            reasons = [*reasons, self.preview.text()]
        box = ask_to_confirm(
            self.window(),
            "Confirm order",
            self._summary(intent),
            reasons,
            running_traders(self.strategies, intent),
        )
        self.confirmation = box
        self.show_outcome("Waiting for your confirmation…", "warn")
        self.tasks.spawn(self._send_when_confirmed(intent, box), "waiting for a confirmation")

    async def _send_when_confirmed(
        self, intent: OrderIntent | BracketIntent, box: OrderConfirmation
    ) -> None:
        if await box.answer:
            self._send(intent, pause_before_sending(box, self.strategies, "ticket"))
        else:
            self.show_outcome("Not sent: you cancelled at the confirmation.", "warn")

    def _send(self, intent: OrderIntent | BracketIntent, done: str = "") -> None:
        decision = self.desk.place(intent)
        if decision.accepted:
            self.sent_refs = decision.refs
            self.show_outcome(f"{done}Sent: {self._summary(intent)} ({decision.refs[0]})", "ok")
            self._watch_outcome(decision.refs)
        else:
            self.show_outcome(f"{done}Denied ({decision.check}): {decision.reason}", "error")

    def _summary(self, intent: OrderIntent | BracketIntent) -> str:
        return order_summary(intent, self.result.figures)

    def _watch_outcome(self, refs: tuple[str, ...]) -> None:
        """Follow what was just sent (a rejection arrives after "Sent"), so the line never
        says "Working" of an order that has ended."""

        def on_update(ref: str) -> None:
            snap = self.desk.orders.get(ref)
            if snap is None or ref not in refs or refs != self.sent_refs:
                return
            if snap.state is OrderState.REJECTED:
                self.show_outcome(f"Rejected by the broker: {snap.reason or 'no reason'}", "error")
            elif ref != refs[0]:
                return
            elif snap.state is OrderState.WORKING:
                self.show_outcome(f"Working at the broker ({ref}).", "ok")
            elif snap.state is OrderState.FILLED:
                self.show_outcome(f"Filled at the broker ({ref}).", "ok")
            elif snap.state is OrderState.CANCELLED:
                self.show_outcome(f"Cancelled at the broker ({ref}).", "")

        self.desk.orders.updated += on_update
        QTimer.singleShot(30_000, self, lambda: self.desk.orders.updated.disconnect(on_update))

    def show_outcome(self, text: str, tone: str) -> None:
        """The last thing the ticket did, in plain words."""
        t = theme.current()
        color = {"ok": t.ok, "error": t.error, "warn": t.warn}.get(tone, t.text)
        self.outcome.setStyleSheet(f"color: {color};")
        self.outcome.setText(text)
        self.outcome_changed.emit(text)

    def clear(self) -> None:
        """Esc: back to the template, entry following the market, no messages."""
        self.risk.clear()
        self.entry.clear()
        self.limit.clear()
        self._entry_follows_market = True
        if self.entry_type is not OrderType.LIMIT:
            self.order_type.setCurrentIndex(ENTRY_TYPES.index(OrderType.LIMIT))
        self.apply_template()
        self._follow_market(force=True)
        self.show_outcome("", "")
        self.refresh()

    # ---- what-if --------------------------------------------------------------------------

    def _ask_what_if(self) -> None:
        key = self._intent_key()
        intent = self.result.intent
        if key is None or intent is None or not self._connected():
            return
        self.tasks.spawn(self._what_if(intent, key), "asking IB's what-if")

    async def _what_if(self, intent: OrderIntent | BracketIntent, key: Any) -> None:
        try:
            answer = await self.desk.what_if(intent)
        except (ConnectionError, TimeoutError, LookupError) as exc:
            if key == self._intent_key():
                self._show_preview(str(exc) or "no answer from the broker")
            return
        if key == self._intent_key():
            self.what_if = answer
            self._what_if_key = key
            self._show_preview()

    def _connected(self) -> bool:
        return self.desk.link.status.state is LinkState.CONNECTED

    def _show_error(self, name: str, text: str) -> None:
        label = self.errors[name]
        label.setText(text)
        label.setVisible(bool(text))

    def closeEvent(self, event: Any) -> None:
        self.tasks.cancel_all()
        super().closeEvent(event)


class _Rows:
    """The ticket's form grid: a label and a field a row, and a message row under a field
    that can be wrong (hidden until it is)."""

    def __init__(self, owner: QWidget) -> None:
        self.owner = owner
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(3)
        self.errors: dict[str, QLabel] = {}
        self.row = 0

    def add(self, label: str, widget: QWidget, name: str | None = None) -> QLabel:
        """A labelled row (and the message row of field ``name``); returns the label."""
        caption = QLabel(label, self.owner)
        self.grid.addWidget(caption, self.row, 0)
        self.grid.addWidget(widget, self.row, 1)
        self.row += 1
        if name:
            err = QLabel("", self.owner)
            err.setObjectName(f"error_{name}")
            err.setWordWrap(True)
            err.setStyleSheet(f"color: {theme.current().error};")
            err.hide()
            self.errors[name] = err
            self.span(err)
        return caption

    def span(self, widget: QWidget) -> None:
        """A row of its own under the fields (no label)."""
        self.grid.addWidget(widget, self.row, 1, 1, 3)
        self.row += 1


def _row(owner: QWidget, *widgets: tuple[QWidget, int]) -> QWidget:
    """Widgets side by side (with stretch factors) as one field."""
    box = QHBoxLayout()
    box.setContentsMargins(0, 0, 0, 0)
    for widget, stretch in widgets:
        box.addWidget(widget, stretch)
    holder = QWidget(owner)
    holder.setLayout(box)
    return holder
