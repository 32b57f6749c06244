"""The main window's chart area: several charts side by side, one frame timer for all.

Charts are laid out in a grid that grows with their number (1, 2 side by side, 2 x 2, …).
One timer drives every chart's frame, so four charts repaint in the same pass instead of
four timers beating against each other; a frame is due every 16 ms (a 60 Hz screen's), and
a chart with nothing new costs a few comparisons. The charts' symbols and timeframes are kept in the
window's settings, like the dock layout.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from ibdesk.desk.api import StrategyOps, TradingDesk
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.risk import StateChange
from ibdesk.domain.ticket import TicketRequest
from ibdesk.ui.charts.panel import ChartPanel

log = logging.getLogger("ibdesk.ui.charts")

SETTINGS_KEY = "charts/list"
DEFAULT_CHARTS = (("ES", Timeframe.M1, True),)
LINKED = "linked"
""" the saved flag of a chart that follows the instrument link """
FRAME_MS = 16
MAX_CHARTS = 9


def parse_saved(value: object) -> list[tuple[str, Timeframe, bool]]:
    """Saved charts (``"ES|1m|linked;AAPL|5m"``) back as (symbol, timeframe, linked); bad
    entries are skipped (a hand-edited settings file must not stop the window)."""
    items: list[object] = []
    if isinstance(value, str):
        items.extend(value.split(";"))
    elif isinstance(value, list):
        items.extend(value)
    charts: list[tuple[str, Timeframe, bool]] = []
    for item in items:
        symbol, _, rest = str(item).partition("|")
        label, _, flag = rest.partition("|")
        try:
            tf = Timeframe.from_label(label.strip())
        except ValueError:
            continue
        charts.append((symbol.strip().upper(), tf, flag.strip() == LINKED))
    return [c for c in charts if c[0]][:MAX_CHARTS]


class ChartArea(QWidget):
    """Every open chart, the frame timer, and their saved list.

    Signals:
        picked(Instrument): the trader clicked a chart (its instrument is to be linked).

    Args:
        desk: what the charts draw from and trade through.
        state: the window's settings (the charts' list is kept there).
        on_ticket: pre-fills the order ticket (the charts' context menu).
        strategies: the runner, so a chart's confirmation can offer to pause a strategy.
    """

    picked = Signal(object)

    def __init__(
        self,
        desk: TradingDesk,
        state: QSettings,
        on_ticket: Callable[[TicketRequest], None],
        parent: QWidget | None = None,
        strategies: StrategyOps | None = None,
    ) -> None:
        super().__init__(parent)
        self.desk = desk
        self.strategies = strategies
        self.state = state
        self.on_ticket = on_ticket
        self.charts: list[ChartPanel] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(3)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.frame)
        self._restoring = True
        saved = self.state.contains(SETTINGS_KEY)
        charts = parse_saved(self.state.value(SETTINGS_KEY)) if saved else DEFAULT_CHARTS
        for symbol, tf, linked in charts:
            self.new_chart(symbol, tf, linked=linked)
        self._restoring = False
        self.timer.start()

    def new_chart(
        self, symbol: str = "", timeframe: Timeframe = Timeframe.M1, linked: bool = False
    ) -> ChartPanel | None:
        """Open another chart (of the last chart's symbol when none is given); ``linked``:
        it follows the instrument link."""
        if len(self.charts) >= MAX_CHARTS:
            return None
        if not symbol:
            symbol = self.charts[-1].symbol if self.charts else DEFAULT_CHARTS[0][0]
        panel = ChartPanel(
            self.desk, symbol, timeframe, self.on_ticket, self, strategies=self.strategies
        )
        panel.link_button.setChecked(linked)
        panel.show_trading_state(self.desk.switch.last_change.state)
        panel.changed.connect(self.save)
        panel.close_requested.connect(lambda: self.remove_chart(panel))
        panel.picked.connect(lambda: self._picked(panel))
        self.charts.append(panel)
        self._arrange()
        self.save()
        return panel

    def remove_chart(self, panel: ChartPanel) -> None:
        """Close one chart."""
        if panel not in self.charts:
            return
        self.charts.remove(panel)
        panel.close_chart()
        self.grid.removeWidget(panel)
        panel.deleteLater()
        self._arrange()
        self.save()

    def _arrange(self) -> None:
        for panel in self.charts:
            self.grid.removeWidget(panel)
        columns = max(1, math.ceil(math.sqrt(len(self.charts))))
        for i, panel in enumerate(self.charts):
            self.grid.addWidget(panel, i // columns, i % columns)

    def save(self) -> None:
        """Remember the charts (restored at the next start)."""
        if self._restoring:
            return
        # One string: QSettings gives an empty list back as "no value" (the default chart
        # would reappear) and a one-item list as a plain string.
        text = ";".join(
            f"{c.symbol}|{c.timeframe.label}" + (f"|{LINKED}" if c.linked else "")
            for c in self.charts
        )
        self.state.setValue(SETTINGS_KEY, text)

    def _picked(self, panel: ChartPanel) -> None:
        if panel.instrument is not None:
            self.picked.emit(panel.instrument)

    def follow(self, inst: Instrument) -> None:
        """The link picked ``inst``: every linked chart shows it."""
        for panel in self.charts:
            panel.follow(inst)

    def show_trading_state(self, change: StateChange) -> None:
        """HALTED or REDUCING disarms every chart (see ChartPanel.show_trading_state)."""
        for panel in self.charts:
            panel.show_trading_state(change.state)

    def frame(self) -> None:
        """One frame for every chart."""
        for panel in self.charts:
            panel.frame()

    def apply_theme(self) -> None:
        """Colours from the current theme."""
        for panel in self.charts:
            panel.view.apply_theme()

    def show_times(self) -> None:
        """Every chart's times in the zone chosen in the View menu."""
        for panel in self.charts:
            panel.show_times()

    def close_all(self) -> None:
        """The window closes: stop the timer, give every series back."""
        self.timer.stop()
        for panel in self.charts:
            panel.close_chart()
