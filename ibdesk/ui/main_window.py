"""The main window: banners, dockable panels, status bar, menus, saved layout.

The window is built in two steps so that it shows up fast. ``MainWindow(state_path)`` needs
only Qt: it creates the frame (menus, empty docks in their saved places) and can be painted
at once. ``attach(desk)`` comes once the broker layer and the stores are loaded, and fills the
docks with the live panels. Panel modules are imported there, not at the top, for that reason.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QRect, QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from ibdesk.ui import theme, time_zone
from ibdesk.ui.brand import brand, identify

if TYPE_CHECKING:
    from ibdesk.desk.api import DeskApi
    from ibdesk.domain.instruments import Instrument
    from ibdesk.domain.risk import StateChange
    from ibdesk.domain.ticket import TicketRequest
    from ibdesk.ui.dialogs.connection import ConnectionDialog
    from ibdesk.ui.panels.log import PanelHandler

LAYOUT_VERSION = 8  # 8: tables under the charts, the watchlist alone on the left
_LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
_RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
_BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
DOCKS = (
    ("watchlist", "Watchlist", _LEFT),
    ("positions", "Positions", _BOTTOM),
    ("orders", "Orders", _BOTTOM),
    ("log", "Log", _BOTTOM),
    ("strategies", "Strategies", _BOTTOM),
    ("account", "Account", _RIGHT),
    ("ticket", "Ticket", _RIGHT),
    ("risk", "Risk", _RIGHT),
)
BOTTOM_TABS = ("positions", "orders", "log", "strategies")
""" the wide tables share one tabbed strip under the charts, where their columns fit """
TALL_PX = 900
""" a window at least this tall has room for the account figures above the ticket """
ACCOUNT_PX = 340
""" the account panel's height above the ticket (its nine figures and the P&L curve) """
DEFAULT_SHORTCUTS = {
    "kill": "Ctrl+Shift+K",
    "flatten": "Ctrl+Shift+F",
    "reduce": "Ctrl+Shift+R",
    "buy": "Ctrl+B",
    "sell": "Ctrl+S",
}


def fit_to_screen(rect: QRect, screen: QRect) -> QRect:
    """``rect`` moved, and shrunk where it must be, to lie inside ``screen`` (a saved
    geometry from a larger monitor, or one that grew past the screen's edge)."""
    width = min(rect.width(), screen.width())
    height = min(rect.height(), screen.height())
    left = min(max(rect.left(), screen.left()), screen.left() + screen.width() - width)
    top = min(max(rect.top(), screen.top()), screen.top() + screen.height() - height)
    return QRect(left, top, width, height)


class MainWindow(QMainWindow):
    """ibdesk's one window."""

    def __init__(self, state_path: Path) -> None:
        super().__init__()
        self.state = QSettings(str(state_path), QSettings.Format.IniFormat)
        self.desk: DeskApi | None = None
        self.live = False
        """ a LIVE (real-money) account is connected: the window is framed """
        self.setObjectName("MainWindow")
        self.setWindowTitle("ibdesk")
        identify()  # the icon comes in attach(), after the first paint
        self.setDockNestingEnabled(True)
        # The side columns keep their full height (the ticket needs it): a bottom dock
        # sits under the charts only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        # A first start fills the screen it opens on (a saved geometry replaces this).
        self.setGeometry(self._screen_rect())
        self.docks: dict[str, QDockWidget] = {}
        for key, title, _area in DOCKS:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{title}Panel")
            dock.setWidget(QLabel("Loading…", dock))
            self.docks[key] = dock
        # Notices sit in a fixed, title-less strip across the top, always in view.
        self.notice_dock = QDockWidget("Notices", self)
        self.notice_dock.setObjectName("NoticesStrip")
        self.notice_dock.setTitleBarWidget(QWidget(self.notice_dock))
        self.notice_dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.notice_dock.setWidget(QWidget(self.notice_dock))
        self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.notice_dock)
        self.notice_dock.hide()
        # The charts take the centre once the desk is attached (a blank until then).
        self.setCentralWidget(QWidget(self))
        self.reset_layout()
        self._desk_actions: list[QAction] = []
        self._menus()
        self.statusBar().showMessage("Starting…")
        self.restore_layout()

    def dock(self, key: str) -> QDockWidget:
        """A dock by key: watchlist, account, positions, orders, log, risk, ticket,
        strategies."""
        return self.docks[key]

    # ---- filling the frame --------------------------------------------------------------------

    def attach(self, desk: DeskApi, log_handler: PanelHandler) -> None:
        """Fill the docks with live panels over the desk's stores (and the log panel with
        what ``log_handler`` hands it)."""
        from ibdesk.ui.banners import BannerArea
        from ibdesk.ui.charts.area import ChartArea
        from ibdesk.ui.link import InstrumentLink
        from ibdesk.ui.models.account import AccountModel
        from ibdesk.ui.models.positions import PositionsModel
        from ibdesk.ui.models.strategies import StrategiesModel
        from ibdesk.ui.models.watchlist import WatchlistModel
        from ibdesk.ui.panels.account import AccountPanel
        from ibdesk.ui.panels.blotter import BlotterPanel
        from ibdesk.ui.panels.log import LogPanel
        from ibdesk.ui.panels.positions import PositionsPanel
        from ibdesk.ui.panels.risk import RiskModel, RiskPanel
        from ibdesk.ui.panels.strategies import StrategiesPanel
        from ibdesk.ui.panels.ticket import QuickTicket, TicketPanel
        from ibdesk.ui.panels.watchlist import WatchlistPanel
        from ibdesk.ui.state_band import StateBand
        from ibdesk.ui.statusbar import StatusBar
        from ibdesk.ui.trading_bar import TradingBar

        self.desk = desk
        brand(self)
        ui = desk.settings.ui
        self.watchlist_model = WatchlistModel(
            desk.watchlist,
            desk.quotes,
            ui.stale_after,
            ui.table_refresh_hz,
            clock=desk.clock,  # quotes age on the desk's clock (a replay's is the tape's)
            parent=self,
            roll=desk.roll_warning,
        )
        # Its Strategies column says which part of a position is whose, remote ones too.
        self.positions_model = PositionsModel(
            desk.positions,
            ui.table_refresh_hz,
            parent=self,
            orders=desk.orders,
            strategies=desk.strategy_rows,
        )
        self.account_model = AccountModel(desk.accounts, ui.table_refresh_hz, parent=self)
        self.watchlist_panel = WatchlistPanel(
            self.watchlist_model, desk.add_symbol, desk.remove_symbol
        )
        self.account_panel = AccountPanel(self.account_model, desk.clock)
        runner = desk.strategies
        # A confirmation offers "Pause <strategy> and send" for a strategy the order may fight.
        self.ticket_panel = TicketPanel(desk, strategies=runner)
        self.chart_area = ChartArea(
            desk, self.state, self._ticket_from_chart, self, strategies=runner
        )
        self.setCentralWidget(self.chart_area)  # Qt deletes the blank placeholder
        self.positions_panel = PositionsPanel(
            self.positions_model,
            lambda key: desk.flatten_position(key[1]),
            on_ticket=self.ticket_panel.prefill,
        )
        self.risk_model = RiskModel(desk.risk_usage, parent=self)
        self.risk_panel = RiskPanel(self.risk_model)
        self.log_panel = LogPanel(log_handler)
        self.blotter_panel = BlotterPanel(desk.orders, desk, ui.table_refresh_hz, strategies=runner)
        # The panel lists the runner's strategies and, read-only, those other clients run.
        rows = desk.strategy_rows
        self.strategies_model = StrategiesModel(rows, parent=self)
        self.strategies_panel = StrategiesPanel(self.strategies_model, rows)
        for key, panel in (
            ("orders", self.blotter_panel),
            ("watchlist", self.watchlist_panel),
            ("account", self.account_panel),
            ("positions", self.positions_panel),
            ("log", self.log_panel),
            ("risk", self.risk_panel),
            ("ticket", self.ticket_panel),
            ("strategies", self.strategies_panel),
        ):
            placeholder = self.docks[key].widget()
            self.docks[key].setWidget(panel)
            placeholder.deleteLater()
        self.banners = BannerArea(desk.link, self.notice_dock)
        placeholder = self.notice_dock.widget()
        self.notice_dock.setWidget(self.banners)
        placeholder.deleteLater()
        self.banners.emptied.connect(self.notice_dock.setHidden)
        self.notice_dock.setHidden(not self.banners.banners)
        self.status = StatusBar(desk.link, self, restarts=desk.restarts, clock=desk.clock)
        self.setStatusBar(self.status)
        self.trading_bar = TradingBar(desk, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.trading_bar)
        risk = desk.settings.risk
        self._bind_shortcut(self.kill_action, risk.kill_shortcut, "kill")
        self._bind_shortcut(self.flatten_action, risk.flatten_shortcut, "flatten")
        self._bind_shortcut(self.reduce_action, risk.reduce_shortcut, "reduce")
        ticket = desk.settings.ticket
        self._bind_shortcut(self.buy_action, ticket.buy_shortcut, "buy")
        self._bind_shortcut(self.sell_action, ticket.sell_shortcut, "sell")
        self.quick_ticket = QuickTicket(self.ticket_panel, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.quick_ticket)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.state_band = StateBand(desk, self._open_rearm, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.state_band)
        self._on_trading_state(desk.switch.last_change)
        if desk.switch.last_report is not None:
            self.state_band.show_report(desk.switch.last_report)
        desk.switch.changed += self._on_trading_state
        desk.switch.reported += self.state_band.show_report
        self.instrument_link = InstrumentLink(self)
        self.instrument_link.follow(self.watchlist_panel.view, self.watchlist_model)
        self.instrument_link.follow(self.positions_panel.view, self.positions_model)
        blotter = self.blotter_panel
        for view, model in (
            (blotter.working_view, blotter.working),
            (blotter.completed_view, blotter.completed),
            (blotter.fills_view, blotter.fills),
        ):
            self.instrument_link.follow(view, model)
        self.chart_area.picked.connect(self.instrument_link.select)
        self.instrument_link.changed.connect(self._on_linked)
        from ibdesk.ui.alerts import AlertsUi

        self.alerts_ui = AlertsUi(desk.alerts, self)  # tray notifications, sounds, the test
        for action in self._desk_actions:
            action.setEnabled(True)
        desk.link.changed += self._on_link_changed
        self._on_link_changed()

    def models(self) -> list[Any]:
        """The table models (once attached)."""
        if self.desk is None:
            return []
        return [
            self.watchlist_model,
            self.positions_model,
            self.account_model,
            self.blotter_panel.working,
            self.blotter_panel.completed,
            self.blotter_panel.fills,
            self.strategies_model,
        ]

    # ---- layout ---------------------------------------------------------------------------------

    def reset_layout(self) -> None:
        """The default layout, sized for the window as it is now (View > Reset layout).

        The watchlist alone on the left; the charts in the centre with the wide tables
        (positions, orders, log, strategies) tabbed under them, where their columns fit; the
        ticket on the right, with the account above it when the window is tall enough and
        behind it otherwise. Designed at 1920 x 1080 and kept usable at 1366 x 768.
        """
        docks = self.docks
        # Taken first: while the docks are re-placed one by one, the layout's minimum can
        # pass the window's size for a moment, and a visible window grows to it.
        width, height = self.width(), self.height()
        for key, _title, area in DOCKS:
            docks[key].setFloating(False)
            self.addDockWidget(area, docks[key])
            docks[key].show()
        for first, second in itertools.pairwise(BOTTOM_TABS):
            self.tabifyDockWidget(docks[first], docks[second])
        tall = height >= TALL_PX
        if tall:
            self.splitDockWidget(docks["account"], docks["ticket"], Qt.Orientation.Vertical)
            self.tabifyDockWidget(docks["ticket"], docks["risk"])
        else:
            self.tabifyDockWidget(docks["ticket"], docks["account"])
            self.tabifyDockWidget(docks["account"], docks["risk"])
        docks["ticket"].raise_()
        docks["positions"].raise_()
        self.resize(width, height)
        wide = width >= 1700
        left = 560 if wide else max(300, round(width * 0.26))
        right = 360 if wide else 330
        self.resizeDocks(
            [docks["watchlist"], docks["ticket"]], [left, right], Qt.Orientation.Horizontal
        )
        self.resizeDocks([docks["positions"]], [round(height * 0.34)], Qt.Orientation.Vertical)
        if tall:
            self.resizeDocks(
                [docks["account"], docks["ticket"]],
                [ACCOUNT_PX, height - ACCOUNT_PX],
                Qt.Orientation.Vertical,
            )

    def _screen_rect(self) -> QRect:
        """The free area of the screen the window is on (or mostly on)."""
        screen = QGuiApplication.screenAt(self.geometry().center()) or self.screen()
        return screen.availableGeometry()

    def save_layout(self) -> None:
        """Remember geometry and dock placement (restored at the next start)."""
        self.state.setValue("window/geometry", self.saveGeometry())
        self.state.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.state.setValue("window/theme", theme.current().name)
        self.state.sync()

    def saved_theme(self) -> str | None:
        """The theme chosen in the View menu last time, if any."""
        name = self.state.value("window/theme")
        return name if isinstance(name, str) and name in theme.THEMES else None

    def restore_layout(self) -> bool:
        """Put docks and geometry back as they were saved; False if nothing was saved."""
        geometry = self.state.value("window/geometry")
        state = self.state.value("window/state")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            # Saved on a larger monitor, or grown past the edge: back inside the screen.
            self.setGeometry(fit_to_screen(self.geometry(), self._screen_rect()))
        if isinstance(state, QByteArray):
            return bool(self.restoreState(state, LAYOUT_VERSION))
        return False

    # ---- menus ----------------------------------------------------------------------------------

    def _menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        connect = QAction("&Connect to…", self)
        connect.triggered.connect(self.open_connection_dialog)
        file_menu.addAction(connect)
        self.test_alert_action = QAction("Send a &test alert…", self)
        self.test_alert_action.triggered.connect(self._open_test_alert)
        file_menu.addAction(self.test_alert_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        reset = QAction("&Reset layout", self)
        reset.setToolTip("Put every panel back where it starts, sized for this window")
        reset.triggered.connect(self.reset_layout)
        view.addAction(reset)
        view.addSeparator()
        self.new_chart_action = QAction("&New chart", self)
        self.new_chart_action.setShortcut("Ctrl+Shift+N")
        self.new_chart_action.triggered.connect(self._new_chart)
        view.addAction(self.new_chart_action)
        view.addSeparator()
        themes = QActionGroup(self)
        for name in theme.THEMES:
            action = QAction(f"{name.title()} theme", self, checkable=True)
            action.setChecked(name == theme.current().name)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            themes.addAction(action)
            view.addAction(action)
        time_zone.add_time_zone_menu(self, view)
        trading = bar.addMenu("&Trading")
        self.kill_action = QAction("&KILL: halt and cancel every order", self)
        self.kill_action.triggered.connect(lambda: self._desk_op("kill"))
        self.flatten_action = QAction("&FLATTEN ALL: kill, close every position", self)
        self.flatten_action.triggered.connect(lambda: self._desk_op("flatten"))
        self.reduce_action = QAction("&REDUCE: exits only", self)
        self.reduce_action.triggered.connect(lambda: self._desk_op("reduce"))
        rearm = QAction("&Re-arm…", self)
        rearm.triggered.connect(self._open_rearm)
        self.buy_action = QAction("&Buy bracket (ticket's template)", self)
        self.buy_action.triggered.connect(lambda: self._desk_op("buy"))
        self.sell_action = QAction("&Sell bracket (ticket's template)", self)
        self.sell_action.triggered.connect(lambda: self._desk_op("sell"))
        for action in (self.kill_action, self.flatten_action, self.reduce_action, rearm):
            trading.addAction(action)
        trading.addSeparator()
        trading.addAction(self.buy_action)
        trading.addAction(self.sell_action)
        help_menu = bar.addMenu("&Help")
        about = QAction("&About ibdesk", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        self._desk_actions = [
            connect,
            self.test_alert_action,
            about,
            self.kill_action,
            self.flatten_action,
            self.reduce_action,
            rearm,
            self.buy_action,
            self.sell_action,
            self.new_chart_action,
        ]
        for action in self._desk_actions:
            action.setEnabled(False)

    def _new_chart(self) -> None:
        self.chart_area.new_chart()  # the area exists once the desk is attached

    def _ticket_from_chart(self, request: TicketRequest) -> None:
        """A chart's "… here" menu pre-fills the ticket, brought to the front."""
        self.ticket_panel.prefill(request)
        self.docks["ticket"].show()
        self.docks["ticket"].raise_()

    def _open_test_alert(self) -> None:
        self.alerts_ui.open_test_dialog()  # the alerts' parts exist once the desk is attached

    def _open_rearm(self) -> None:
        self.trading_bar.open_rearm()  # the bar exists once the desk is attached

    def _desk_op(self, what: str) -> None:
        assert self.desk is not None
        if what == "kill":
            self.desk.kill("kill shortcut or menu")
        elif what == "flatten":
            self.desk.flatten_all("flatten shortcut or menu")
        elif what == "reduce":
            try:
                self.desk.reduce("reduce shortcut or menu")
            except ValueError as exc:  # HALTED is stricter: it takes a re-arm
                self.statusBar().showMessage(str(exc), 10_000)
        else:
            from ibdesk.domain.orders import Side  # not before the first paint: ~8 ms

            self.ticket_panel.quick(Side.BUY if what == "buy" else Side.SELL)

    def _bind_shortcut(self, action: QAction, text: str, what: str) -> None:
        """Give a desk action its key, working wherever focus is in the app."""
        keys = QKeySequence(text)
        if keys.isEmpty() or keys.toString() == "":
            keys = QKeySequence(DEFAULT_SHORTCUTS[what])
            self.statusBar().showMessage(
                f"The {what} shortcut {text!r} in the config is not a key sequence; "
                f"using {DEFAULT_SHORTCUTS[what]}."
            )
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.addAction(action)  # a window action: the shortcut works while the menu is closed

    def set_theme(self, name: str) -> None:
        """Switch between dark and light."""
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme.apply(app, name)
        for model in self.models():
            model.repaint_all()
        if self.desk is not None:
            self.status.refresh()
            self.chart_area.apply_theme()
            self.account_panel.pnl_curve.apply_theme()
            self.state_band.show_state(self.desk.switch.last_change)
            self.show_live(self.live)

    def open_connection_dialog(self) -> ConnectionDialog:
        """Ask where to connect (non-modal); connecting happens when the user accepts."""
        from ibdesk.ui.dialogs.connection import ConnectionDialog

        desk = self.desk
        assert desk is not None
        dialog = ConnectionDialog(desk.settings.connection, self)
        dialog.accepted.connect(lambda: desk.reconnect(dialog.settings(desk.settings.connection)))
        dialog.open()
        return dialog

    def versions(self) -> dict[str, str]:
        """The desk's versions, and Qt's."""
        assert self.desk is not None
        return {
            **self.desk.versions(),
            "Qt": qVersion(),
            "PySide6": getattr(sys.modules.get("PySide6"), "__version__", "?"),
        }

    def show_about(self) -> QMessageBox:
        """Versions of ibdesk, Qt, the client library and the connected server."""
        assert self.desk is not None
        lines = "".join(
            f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in self.versions().items()
        )
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About ibdesk",
            f"<b>ibdesk</b><br>A trader workstation for Interactive Brokers.<table>{lines}</table>",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.open()
        return box

    # ---- state ----------------------------------------------------------------------------------

    def _on_trading_state(self, change: StateChange) -> None:
        """A kill, a reduce or a re-arm: every part of the window says it at once."""
        self.trading_bar.show_state(change)
        self.state_band.show_state(change)
        self.chart_area.show_trading_state(change)
        self.ticket_panel.show_trading_state(change)
        self.quick_ticket.show_trading_state(change)

    def _on_linked(self, inst: Instrument) -> None:
        """The trader picked an instrument: the ticket (and with it the hotkeys and the
        Quick strip) trades it, and linked charts show it."""
        self.ticket_panel.link(inst)
        self.chart_area.follow(inst)

    def _on_link_changed(self) -> None:
        assert self.desk is not None
        s = self.desk.link.status
        account = s.account or self.desk.settings.connection.account
        from ibdesk.domain.account import is_paper_account  # after the first paint

        title = "ibdesk"
        live = bool(account) and not is_paper_account(account)
        if account:
            title += f" — {account} — {'LIVE' if live else 'PAPER'}"
            if self.account_model.account != account:
                self.account_model.show_account(account)
        self.setWindowTitle(title)
        self.show_live(live)

    def show_live(self, live: bool) -> None:
        """Frame the whole window in the theme's real-money colour while a LIVE account is
        connected (issue 14: LIVE was one small red word)."""
        self.live = live
        frame = f"QMainWindow#MainWindow {{ border: 4px solid {theme.current().live}; }}"
        wanted = frame if live else ""
        if self.styleSheet() != wanted:
            self.setStyleSheet(wanted)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout and let go of the stores (once, however often it is closed)."""
        self.save_layout()
        if self.desk is not None and not getattr(self, "_released", False):
            self._released = True
            self.desk.link.changed -= self._on_link_changed
            self.status.close_store()
            self.desk.switch.changed -= self._on_trading_state
            self.desk.switch.reported -= self.state_band.show_report
            self.risk_model.close()
            self.chart_area.close_all()
            self.banners.close_store()
            self.alerts_ui.close()
            self.strategies_panel.close_store()
            self.blotter_panel.close_store()
            for model in self.models():
                model.close()
        super().closeEvent(event)
