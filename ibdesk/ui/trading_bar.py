"""The trading bar: the desk's state shown large, KILL, FLATTEN ALL, REDUCE, Re-arm, and what
the last kill or flatten verified.

KILL and REDUCE ask nothing: they only ever reduce risk. Re-arm needs a typed reason, in a
small non-modal dialog (a modal one would block the event loop the kill switch runs on); from
HALTED it can re-arm to REDUCING (exits only) instead of ACTIVE.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ibdesk.desk.api import SafetyOps
from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.ui import theme

STATE_TOKENS = {
    TradingState.ACTIVE: "ok",
    TradingState.REDUCING: "warn",
    TradingState.HALTED: "error",
}


class RearmDialog(QDialog):
    """Asks why trading should resume; the button stays disabled until there is a reason."""

    def __init__(
        self,
        on_rearm: Callable[[str, TradingState], object],
        state: TradingState,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Re-arm trading")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"Trading is {state.value}. Type why it may resume (it is journaled):", self)
        )
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("e.g. runaway strategy fixed and disabled")
        layout.addWidget(self.reason)
        self.exits_only = QCheckBox("Exits only: re-arm to REDUCING, not ACTIVE", self)
        self.exits_only.setVisible(state is TradingState.HALTED)
        layout.addWidget(self.exits_only)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.rearm_button = buttons.addButton("Re-arm", QDialogButtonBox.ButtonRole.AcceptRole)
        self.rearm_button.setEnabled(False)
        self.reason.textChanged.connect(
            lambda text: self.rearm_button.setEnabled(bool(text.strip()))
        )
        buttons.accepted.connect(lambda: self._accept(on_rearm))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _accept(self, on_rearm: Callable[[str, TradingState], object]) -> None:
        to = TradingState.REDUCING if self.exits_only.isChecked() else TradingState.ACTIVE
        on_rearm(self.reason.text(), to)
        self.accept()


class TradingBar(QToolBar):
    """Always in view at the top of the window."""

    def __init__(self, ops: SafetyOps, parent: QWidget | None = None) -> None:
        super().__init__("Trading", parent)
        self.setObjectName("TradingBar")
        self.setMovable(False)
        self.ops = ops
        body = QWidget(self)
        row = QHBoxLayout(body)
        row.setContentsMargins(6, 2, 6, 2)
        self.state = QLabel(body)
        self.state.setMinimumWidth(150)
        self.state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.kill_button = QPushButton("KILL", body)
        self.kill_button.setToolTip(
            "Halt, cancel every order in the account, verify (no confirmation)"
        )
        self.kill_button.setMinimumSize(120, 34)
        self.kill_button.setStyleSheet(
            "QPushButton { background: #b3261e; color: white; "
            "font-weight: bold; font-size: 15px; border-radius: 4px;"
            " } QPushButton:pressed { background: #8c1d18; }"
        )
        self.kill_button.clicked.connect(lambda: self.ops.kill("kill button"))
        self.flatten_button = QPushButton("FLATTEN ALL", body)
        self.flatten_button.setToolTip("Kill, then close every position and verify flat")
        self.flatten_button.setMinimumHeight(34)
        self.flatten_button.clicked.connect(lambda: self.ops.flatten_all("flatten button"))
        self.reduce_button = QPushButton("REDUCE", body)
        self.reduce_button.setToolTip(
            "Exits only: cancel this desk's orders that would add to a position, keep its "
            "exits, refuse new entries (no confirmation)"
        )
        self.reduce_button.setMinimumHeight(34)
        self.reduce_button.setStyleSheet(
            "QPushButton { background: #9a6700; color: white; font-weight: bold; "
            "border-radius: 4px; padding: 0 10px; } QPushButton:pressed { background: #7d5400; }"
            " QPushButton:disabled { background: #5c4a24; color: #bbb; }"
        )
        self.reduce_button.clicked.connect(lambda: self.ops.reduce("reduce button"))
        self.rearm_button = QPushButton("Re-arm…", body)
        self.rearm_button.clicked.connect(self.open_rearm)
        for widget in (
            self.state,
            self.kill_button,
            self.flatten_button,
            self.reduce_button,
            self.rearm_button,
        ):
            row.addWidget(widget)
        # Who, when, why and the verification are in the state band across the window.
        self.addWidget(body)
        self.dialog: RearmDialog | None = None
        self._state = TradingState.ACTIVE

    def show_state(self, change: StateChange) -> None:
        """Show a trading state large, in its colour, with who set it and why."""
        color = theme.current().color(STATE_TOKENS[change.state]).name()
        self.state.setText(
            f"<span style='font-size:18px; font-weight:bold; color:{color}'>"
            f"● {change.state.value}</span>"
        )
        self.state.setToolTip(
            f"{change.state.value} by {change.who}" + (f": {change.why}" if change.why else "")
        )
        self.rearm_button.setEnabled(change.state is not TradingState.ACTIVE)
        self.reduce_button.setEnabled(change.state is TradingState.ACTIVE)
        self._state = change.state

    def open_rearm(self) -> RearmDialog:
        """Ask for the reason to re-arm (non-modal)."""
        self.dialog = RearmDialog(
            lambda reason, to: self.ops.rearm("re-arm dialog", reason, to), self._state, self
        )
        self.dialog.open()
        return self.dialog
