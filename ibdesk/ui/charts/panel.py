"""One chart: its header (symbol, timeframe, armed, quantity, a future's roll warning), the
plots, and the legend.

A chart asks the desk for its bars when it is connected and shows whatever the store holds;
switching symbol or timeframe cancels a load still under way first (ARCHITECTURE.md habit 7)
and gives the old series back. The crosshair's bar (or the newest) is spelled out in the
legend: time, open, high, low, close, volume.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable

from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ibdesk.desk.api import StrategyOps, TradingDesk
from ibdesk.domain.bars import HistoryError, Timeframe
from ibdesk.domain.connection import LinkState
from ibdesk.domain.instruments import Instrument, SymbolError
from ibdesk.domain.risk import TradingState
from ibdesk.domain.ticket import TicketRequest
from ibdesk.domain.times import label
from ibdesk.state.bars import BarKey, BarSeries
from ibdesk.trading.chart_orders import ticket_requests
from ibdesk.ui import format as fmt
from ibdesk.ui import theme
from ibdesk.ui.charts.axes import PriceTag
from ibdesk.ui.charts.legend import ChartLegend
from ibdesk.ui.charts.overlays import OrderLineItem, TradingOverlay
from ibdesk.ui.charts.trading import ChartTrader, template_qty
from ibdesk.ui.charts.view import ChartView

log = logging.getLogger("ibdesk.ui.charts")
ARM_TIP = (
    "Armed: clicks place orders (below the market buy limit, above sell limit; "
    "Shift for stops) and order lines can be dragged. Off by default."
)
HALTED_ARM_TIP = "Trading is HALTED: the chart cannot be armed until the desk is re-armed."
#: A click this close to an order line (pixels) is taken for a grab of the line.
LINE_GRAB_PX = 6
#: How often the roll warning is asked again (a day may pass while the chart is open).
ROLL_CHECK_MS = 60_000


class ChartPanel(QWidget):
    """A chart of one instrument in one timeframe, with the trader's orders on it.

    Signals:
        changed(): the symbol or timeframe changed (the area saves its layout).
        close_requested(): the trader closed this chart.
        picked(): the trader clicked the chart (its instrument becomes the linked one).
    """

    changed = Signal()
    close_requested = Signal()
    picked = Signal()

    def __init__(
        self,
        desk: TradingDesk,
        symbol: str,
        timeframe: Timeframe,
        on_ticket: Callable[[TicketRequest], None],
        parent: QWidget | None = None,
        strategies: StrategyOps | None = None,
    ) -> None:
        super().__init__(parent)
        self.desk = desk
        self.symbol = symbol
        self.timeframe = timeframe
        self.instrument: Instrument | None = None
        self.key: BarKey | None = None
        self.series: BarSeries | None = None
        self._loading: asyncio.Task[None] | None = None
        self._quote_time = 0.0
        self._connected = False
        self._hover = math.nan
        self._legend_for: tuple[float, int, int] | None = None
        self.view = ChartView(self)
        self.trader = ChartTrader(desk, self, on_ticket, self.show_message, strategies)
        self.overlay = TradingOverlay(
            self.view, desk.orders, desk.positions, self._account, self._on_drop
        )
        self._build_header()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(self.header)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        self.view.hovered.connect(self._on_hover)
        self.view.scene().sigMouseClicked.connect(self._on_click)
        desk.bars.updated += self._on_bars
        desk.link.changed += self._on_link
        self._on_link()

    def _build_header(self) -> None:
        self.header = QHBoxLayout()
        self.symbol_edit = QLineEdit(self.symbol, self)
        self.symbol_edit.setMaximumWidth(110)
        self.symbol_edit.setToolTip("Symbol: ES, ESZ6, AAPL, EUR.USD (Enter to load)")
        self.symbol_edit.returnPressed.connect(self._on_symbol)
        self.timeframe_box = QComboBox(self)
        for tf in Timeframe:
            self.timeframe_box.addItem(tf.label, tf)
        self.timeframe_box.setCurrentIndex(list(Timeframe).index(self.timeframe))
        self.timeframe_box.currentIndexChanged.connect(self._on_timeframe)
        self.arm_button = QToolButton(self)
        self.arm_button.setText("Arm")
        self.arm_button.setCheckable(True)
        self.arm_button.setToolTip(ARM_TIP)
        self.arm_button.toggled.connect(self.set_armed)
        self.qty_box = QDoubleSpinBox(self)
        self.qty_box.setDecimals(0)
        self.qty_box.setRange(1, 1_000_000)
        self.qty_box.setPrefix("Qty ")
        self.qty_box.valueChanged.connect(lambda v: setattr(self.trader, "qty", float(v)))
        self.roll_label = QLabel(self)
        self.roll_label.setObjectName("roll_warning")
        self.roll_label.setTextFormat(Qt.TextFormat.PlainText)
        self.roll_label.hide()
        self._roll_timer = QTimer(self)
        self._roll_timer.setInterval(ROLL_CHECK_MS)
        self._roll_timer.timeout.connect(self._show_roll)
        self._roll_timer.start()
        self.link_button = QToolButton(self)
        self.link_button.setText("Link")
        self.link_button.setCheckable(True)
        self.link_button.setToolTip(
            "Linked: the chart shows what you pick in the watchlist, positions, orders or "
            "another chart. Off: pinned to its own symbol."
        )
        self.link_button.toggled.connect(lambda _on: self.changed.emit())
        self.message = QLabel(self)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        # However long a message, it never widens the chart (the whole of it is its tooltip).
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        close = QToolButton(self)
        close.setText("\u00d7")
        close.setToolTip("Close this chart")
        close.clicked.connect(self.close_requested.emit)
        for widget in (
            self.symbol_edit,
            self.timeframe_box,
            self.arm_button,
            self.qty_box,
            self.link_button,
            self.roll_label,
        ):
            self.header.addWidget(widget)
        self.header.addWidget(self.message, 1)
        self.header.addWidget(close)
        # Wrapped, not clipped: four charts at 1366 px are ~330 px each, and an unwrapped
        # legend made its full width the chart's minimum (the window grew past the screen).
        self.legend = ChartLegend(self)

    # ---- loading ------------------------------------------------------------------------------

    def load(self, symbol: str, timeframe: Timeframe) -> asyncio.Task[None]:
        """Show ``symbol`` in ``timeframe`` (the earlier load, if any, is cancelled)."""
        self.symbol, self.timeframe = symbol.strip().upper(), timeframe
        self.timeframe_box.blockSignals(True)  # a switch from code, not from the box
        self.timeframe_box.setCurrentIndex(list(Timeframe).index(timeframe))
        self.timeframe_box.blockSignals(False)
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self._loading = asyncio.ensure_future(self._load())
        self.changed.emit()
        return self._loading

    async def _load(self) -> None:
        self._release()
        self.show_message(f"Loading {self.symbol} {self.timeframe.label}…", "")
        try:
            inst, key = await self.desk.open_chart(self.symbol, self.timeframe)
        except (SymbolError, HistoryError, ValueError) as exc:
            self.show_message(str(exc), "error")
            return
        except (ConnectionError, TimeoutError) as exc:
            self.show_message(f"Not loaded: {exc}", "error")
            return
        self.instrument, self.key = inst, key
        self.series = self.desk.bars.get(key)
        decimals = inst.price_decimals
        self.view.set_series(
            self.series, fmt.zone_for(inst.time_zone), decimals, tick=inst.min_tick
        )
        self.overlay.set_instrument(inst, decimals)
        self.trader.qty = template_qty(self.desk, inst)
        self.qty_box.setValue(self.trader.qty)
        self.symbol_edit.setText(inst.display)
        self.show_message("", "")
        self._show_roll()
        self._legend_for = None

    def show_times(self) -> None:
        """Times in the zone chosen in the View menu (the exchange's, or local): the time
        axis and the legend."""
        inst = self.instrument
        self.view.time_axis.set_series(self.series, fmt.zone_for(inst.time_zone if inst else ""))
        self._legend_for = None

    def _release(self) -> None:
        if self.key is not None:
            self.desk.close_chart(self.key)
        self.key = self.series = self.instrument = None
        self.view.set_series(None, dt.UTC, 2)
        self.overlay.set_instrument(None, 2)
        self._show_roll()

    def _show_roll(self) -> None:
        """``expires in 3 days`` in the header, amber, with the whole warning as its tooltip,
        while the future shown is within the roll warning days; nothing otherwise."""
        inst = self.instrument
        warning = self.desk.roll_warning(inst) if inst is not None else None
        text, tip = (warning.short, warning.text) if warning is not None else ("", "")
        if (text, tip) != (self.roll_label.text(), self.roll_label.toolTip()):
            self.roll_label.setText(text)
            self.roll_label.setToolTip(tip)
            self.roll_label.setStyleSheet(f"color: {theme.current().warn}; font-weight: bold;")
        self.roll_label.setVisible(warning is not None)

    def close_chart(self) -> None:
        """Give the series back and stop following the stores (the area calls this)."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self.trader.cancel_all()
        self._release()
        self.overlay.close()
        self.desk.bars.updated -= self._on_bars
        self.desk.link.changed -= self._on_link

    def _on_symbol(self) -> None:
        text = self.symbol_edit.text().strip()
        if text:
            self.load(text, self.timeframe)

    def _on_timeframe(self, index: int) -> None:
        tf = self.timeframe_box.itemData(index)
        if isinstance(tf, Timeframe) and tf is not self.timeframe:
            self.load(self.symbol, tf)

    def _on_link(self) -> None:
        """Load when the link comes up, if nothing is shown yet (a symbol the broker did not
        know is tried again at the next connect, not at every change of the link's meters)."""
        connected = self.desk.link.status.state is LinkState.CONNECTED
        came_up, self._connected = connected and not self._connected, connected
        idle = self._loading is None or self._loading.done()
        if came_up and self.key is None and idle:
            self.load(self.symbol, self.timeframe)

    def _on_bars(self, key: BarKey, from_index: int) -> None:
        if key == self.key:
            self.view.visible.changed_from(from_index)

    # ---- the frame ----------------------------------------------------------------------------

    def frame(self) -> None:
        """Once per frame (the area's timer): fold the latest trade into the forming bar,
        repaint what changed, move the overlays."""
        last = self._fold_quote()
        self.view.frame()
        self.overlay.frame(last)
        self._tag_last(last)
        self._update_legend()

    def last_price(self) -> float:
        """The last trade (the midpoint for currencies), else the newest close."""
        inst = self.instrument
        quote = self.desk.quotes.get(inst.con_id) if inst is not None else None
        if quote is not None:
            price = quote.mid if inst is not None and inst.sec_type.value == "CASH" else quote.last
            if math.isfinite(price):
                return float(price)
        last = self.series.last() if self.series is not None else None
        return last.close if last is not None else math.nan

    def _fold_quote(self) -> float:
        last = self.last_price()
        inst = self.instrument
        quote = self.desk.quotes.get(inst.con_id) if inst is not None else None
        if inst is not None and quote is not None and quote.time != self._quote_time:
            self._quote_time = quote.time
            self.desk.bars.touch(inst.con_id, last, quote.time)
        return last

    def _tag_last(self, last: float) -> None:
        series = self.series
        bar = series.last() if series is not None else None
        if bar is None or not math.isfinite(last):
            self.view.price_axis.set_tag("last", None)
            return
        t = theme.current()
        bg = t.color("gain") if last >= bar.open else t.color("loss")
        text = f"{last:,.{self.view.decimals}f}"
        self.view.price_axis.set_tag("last", PriceTag(last, text, bg, QColor("#ffffff")))

    def _on_hover(self, seq: float) -> None:
        self._hover = seq
        self._update_legend()

    def _update_legend(self) -> None:
        series = self.series
        if series is None or not len(series):
            if self.legend.text():
                self.legend.clear()
            return
        index = len(series) - 1
        if math.isfinite(self._hover):
            index = min(max(int(self._hover) - series.first_seq, 0), len(series) - 1)
        seen = (self._hover, index, series.revision)
        if seen == self._legend_for:
            return
        self._legend_for = seen
        self.legend.setText(self._legend_text(series, index))

    def _legend_text(self, series: BarSeries, index: int) -> str:
        bar = series.bar(index)
        inst = self.instrument
        if series.timeframe.intraday:
            when = dt.datetime.fromtimestamp(bar.time, self.view.time_axis.tz)
            # Seconds only where bars have them (5 s): a minute bar's are always :00, and the
            # legend's width is the chart's minimum width.
            clock = "%H:%M:%S" if series.timeframe.seconds < 60 else "%H:%M"
            stamp = f"{when:%a %d %b {clock}} {label(when)}"
        else:  # a daily bar is a date, whatever the zone
            stamp = f"{dt.datetime.fromtimestamp(bar.time, dt.UTC):%a %d %b %Y}"
        d = self.view.decimals
        t = theme.current()
        color = t.gain if bar.up else t.loss
        name = inst.display if inst is not None else self.symbol
        values = " ".join(
            f"<span style='color:{t.dim}'>{k}</span> <span style='color:{color}'>{v:,.{d}f}</span>"
            for k, v in (("O", bar.open), ("H", bar.high), ("L", bar.low), ("C", bar.close))
        )
        return (
            f"<b>{name}</b> · {series.timeframe.label} · {stamp} &nbsp; {values} "
            f"<span style='color:{t.dim}'>V</span> {fmt.volume(bar.volume)}"
        )

    # ---- trading ------------------------------------------------------------------------------

    def set_armed(self, armed: bool) -> None:
        """Arm (clicks and drags trade) or disarm the chart."""
        self.trader.armed = armed
        self.overlay.set_armed(armed)
        if self.arm_button.isChecked() != armed:
            self.arm_button.setChecked(armed)
        self.arm_button.setText("ARMED" if armed else "Arm")
        t = theme.current()
        style = f"QToolButton:checked {{ background: {t.error}; color: white; font-weight: bold; }}"
        self.arm_button.setStyleSheet(style)
        if armed:
            self.show_message("Armed: clicks and drags trade.", "warn")
        else:
            self.show_message("", "")

    def _account(self) -> str:
        status = self.desk.link.status
        return status.account or self.desk.settings.connection.account

    def _on_drop(self, item: OrderLineItem, price: float) -> None:
        self.trader.spawn(self.trader.modify(item, price))

    @property
    def linked(self) -> bool:
        """Whether the chart follows the instrument link."""
        return self.link_button.isChecked()

    def follow(self, inst: Instrument) -> None:
        """The link picked ``inst``: show it, if this chart is linked and shows another."""
        if self.linked and (self.instrument is None or self.instrument.con_id != inst.con_id):
            self.load(inst.display, self.timeframe)

    def show_trading_state(self, state: TradingState) -> None:
        """HALTED disarms the chart and keeps it disarmed until a re-arm; REDUCING disarms
        it (arming again is allowed: dragging an exit is still a reduction)."""
        halted = state is TradingState.HALTED
        if state is not TradingState.ACTIVE and self.trader.armed:
            self.set_armed(False)
        self.arm_button.setEnabled(not halted)
        self.arm_button.setToolTip(HALTED_ARM_TIP if halted else ARM_TIP)

    def _on_click(self, event: MouseClickEvent) -> None:
        """Left click: place (armed only); right click: the "… here" menu. Any click makes
        the chart's instrument the linked one."""
        if self.instrument is not None:
            self.picked.emit()
        pos = event.scenePos()
        box = self.view.price_box
        inst = self.instrument
        if inst is None or not box.sceneBoundingRect().contains(pos) or event.double():
            return
        if event.isAccepted() or self._near_a_line(pos.y()):
            return  # a click on an order line is a drag that did not start, never an order
        price = box.mapSceneToView(pos).y()
        market = self.last_price()
        if event.button() == Qt.MouseButton.RightButton:
            self.context_menu(price, market).popup(event.screenPos().toPoint())
        elif event.button() == Qt.MouseButton.LeftButton:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.trader.spawn(self.trader.click(inst, price, market, shift))

    def _near_a_line(self, y: float) -> bool:
        """Whether scene height ``y`` is within a few pixels of an order line."""
        box = self.view.price_box
        for item in self.overlay.lines.values():
            line_y = box.mapViewToScene(QPointF(0, item.value())).y()
            if abs(line_y - y) <= LINE_GRAB_PX:
                return True
        return False

    def context_menu(self, price: float, market: float) -> QMenu:
        """The "… here" entries at ``price`` (they pre-fill the ticket; nothing is sent)."""
        menu = QMenu(self)
        inst = self.instrument
        if inst is not None:
            for text, request in ticket_requests(inst, price, market):
                action = menu.addAction(text)
                action.triggered.connect(lambda _=False, r=request: self.trader.on_ticket(r))
        menu.addSeparator()
        latest = menu.addAction("Show the newest bar (End)")
        latest.triggered.connect(lambda _checked=False: self.view.show_latest())
        return menu

    def show_message(self, text: str, tone: str) -> None:
        """A word in the header: ``ok``, ``warn``, ``error`` or plain."""
        t = theme.current()
        color = {"ok": t.ok, "warn": t.warn, "error": t.error}.get(tone, t.dim)
        self.message.setStyleSheet(f"color: {color};")
        self.message.setText(text)
        self.message.setToolTip(text)
