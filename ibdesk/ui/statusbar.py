"""The status bar: connection, server, account and PAPER/LIVE, farms, IB's budgets, and the
countdown to TWS's daily restart."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from ibdesk.domain.account import is_paper_account
from ibdesk.domain.connection import Farm, LinkState
from ibdesk.domain.restarts import RestartStage, RestartView
from ibdesk.state.link import LinkStore
from ibdesk.ui import theme
from ibdesk.ui.format import DASH
from ibdesk.ui.restart_text import EXPECTED_TIP, restart_texts

if TYPE_CHECKING:
    from ibdesk.desk.api import RestartsView

MESSAGE_BUDGET = 50
LINE_BUDGET = 100
STATE_TOKENS = {
    LinkState.CONNECTED: "ok",
    LinkState.CONNECTING: "warn",
    LinkState.SYNCING: "warn",
    LinkState.RECONNECTING: "warn",
    LinkState.DISCONNECTED: "error",
}
FARM_SHORT = {Farm.MARKET_DATA: "MD", Farm.HISTORICAL: "HMDS", Farm.SECURITY_DEFINITIONS: "SEC"}
FARMS_TIP = "IB data farms: market data, historical data, security definitions"
RTT_TIP = "Round trip of reqCurrentTime to TWS"
FARMS_DOWN_TIP = (
    FARMS_TIP + "\n\nGrey: disconnected from TWS, so not known. TWS reports them again "
    "once the connection is back."
)
RTT_DOWN_TIP = RTT_TIP + "\n\nNone while disconnected from TWS."


def _label(parent: QWidget, tip: str) -> QLabel:
    label = QLabel(parent)
    label.setToolTip(tip)
    label.setContentsMargins(6, 0, 6, 0)
    return label


class StatusBar(QStatusBar):
    """Reads the LinkStore whenever it changes, and the restart schedule once a second.

    Args:
        link: the connection's store.
        restarts: TWS's daily restart as the desk expects it (None: not shown).
        clock: the desk's clock, for the countdown.
    """

    def __init__(
        self,
        link: LinkStore,
        parent: QWidget | None = None,
        restarts: RestartsView | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(parent)
        self.link = link
        self.restarts = restarts
        self.clock = clock
        self._restart_view: RestartView | None = None
        self.state = _label(self, "Connection to TWS / IB Gateway")
        self.server = _label(self, "Negotiated API server version")
        self.account = _label(self, "Account shown")
        self.mode = _label(self, "PAPER for paper-trading accounts (DU…), LIVE otherwise")
        self.farms = _label(self, FARMS_TIP)
        self.rtt = _label(self, RTT_TIP)
        self.messages = _label(self, "Messages sent per second, against IB's limit of 50")
        self.lines = _label(self, "Market-data lines in use, against IB's default of 100")
        for widget in (self.state, self.server, self.account, self.mode):
            self.addWidget(widget)
        self.restart = _label(self, "")
        for widget in (self.restart, self.farms, self.rtt, self.messages, self.lines):
            self.addPermanentWidget(widget)
        # The countdown: once a second, a few date computations, off every hot path.
        self.restart_timer = QTimer(self)
        self.restart_timer.setInterval(1000)
        self.restart_timer.timeout.connect(self.refresh_restart)
        link.changed += self.refresh
        if restarts is not None:
            restarts.changed += self._on_restart_stage
            self._restart_view = restarts.view()
            self.restart_timer.start()
        self.refresh_restart()
        self.refresh()

    def close_store(self) -> None:
        """Stop listening (the window is closing)."""
        self.link.changed -= self.refresh
        self.restart_timer.stop()
        if self.restarts is not None:
            self.restarts.changed -= self._on_restart_stage

    def _on_restart_stage(self, view: RestartView) -> None:
        self._restart_view = view
        self.refresh_restart()
        self.refresh()

    def refresh_restart(self) -> None:
        """The countdown to the restart, or where the restart stands."""
        if self.restarts is None or self.clock is None:
            self.restart.hide()
            return
        view = self._restart_view = self.restarts.view()
        texts = restart_texts(view, self.clock())
        if texts is None:
            self.restart.hide()
            return
        text, tip = texts
        if text != self.restart.text():
            self.restart.setText(text)
        self.restart.setToolTip(tip)
        self.restart.show()

    def refresh(self) -> None:
        """Redraw every field from the store."""
        s = self.link.status
        t = theme.current()
        state = s.state.value
        if s.state is LinkState.RECONNECTING and s.retry_in:
            state += f" (retry in {s.retry_in:.1f} s)"
        if s.state is not LinkState.DISCONNECTED and s.port:
            state += f"  {s.host}:{s.port} #{s.client_id}"
        expected = self._expected_restart()
        if expected and s.state is not LinkState.CONNECTED:
            state += " (expected TWS restart)"
        self.state.setText(
            f"<span style='color:{t.color(STATE_TOKENS[s.state]).name()}'>●</span> {state}"
        )
        self.state.setToolTip(
            "Connection to TWS / IB Gateway" + (f"\n\n{EXPECTED_TIP}" if expected else "")
        )
        self.server.setText(f"server v{s.server_version}" if s.server_version else "")
        account = s.account
        self.account.setText(account)
        if account:
            paper = is_paper_account(account)
            if paper:
                self.mode.setText(f"<b style='color:{t.ok}'>PAPER</b>")
            else:  # real money: a badge in the colour the theme keeps for it
                self.mode.setText(
                    f"<b style='background:{t.live}; color:#000000'>&nbsp;LIVE&nbsp;</b>"
                )
        else:
            self.mode.setText("")
        live = s.state is LinkState.CONNECTED
        self.farms.setText("  ".join(self._farm(f, live) for f in Farm))
        # A light on a dead link is a lie (issue 14): grey, and the tooltip says why.
        self.farms.setToolTip(FARMS_TIP if live else FARMS_DOWN_TIP)
        self.rtt.setToolTip(RTT_TIP if live else RTT_DOWN_TIP)
        rtt = self.link.rtt_ms
        if not live:
            self.rtt.setText(f"<span style='color:{t.dim}'>rtt {DASH}</span>")
        else:
            self.rtt.setText(
                "" if rtt is None else (f"rtt {DASH}" if math.isinf(rtt) else f"rtt {rtt:.0f} ms")
            )
        self.messages.setText(f"{self.link.msgs_per_s:.0f}/{MESSAGE_BUDGET} msg/s")
        self.lines.setText(f"{self.link.market_lines}/{LINE_BUDGET} lines")

    def _expected_restart(self) -> bool:
        view = self._restart_view
        return view is not None and view.stage is RestartStage.RESTARTING

    def _farm(self, farm: Farm, live: bool) -> str:
        """A farm's light: grey unless connected and TWS has said how the farm is."""
        ok = self.link.farms.get(farm, "unknown") if live else "unknown"
        t = theme.current()
        color = t.dim if ok == "unknown" else t.ok if ok else t.error if ok is False else t.dim
        return f"<span style='color:{color}'>●</span> {FARM_SHORT[farm]}"
