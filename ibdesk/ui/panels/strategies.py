"""The strategies panel: every loaded strategy in a row, its controls, and its parameters;
and, read-only, the strategies other API clients run (``ibdesk run`` on a server), whose
controls are disabled with a tooltip saying they run elsewhere.

The buttons act on the selected strategy and are enabled as its state allows (Start also
resumes a paused one; parameters are edited only while it does not run). Everything goes
through the runner's controls (``StrategyOps``), whose refusals arrive as ``StrategyError``
with a reason in words: each is shown in the panel's message line, never swallowed. Stop and
flatten, and Hand over, ask first: one closes a position at market, the other makes the
strategy's orders and position the trader's.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ibdesk.desk.api import StrategyOps
from ibdesk.domain.strategy import StrategyState, StrategyStatus
from ibdesk.replay.replay_child import ReplayChildError, replay_in_child
from ibdesk.replay.replay_report import ReplayReport
from ibdesk.strategies.loader import StrategyError
from ibdesk.tasks import TaskGroup
from ibdesk.ui import theme
from ibdesk.ui.confirm import Question, ask
from ibdesk.ui.models.strategies import StrategiesModel, position_text
from ibdesk.ui.models.table import KEY_ROLE
from ibdesk.ui.panels.common import table_view
from ibdesk.ui.panels.strategy_params import StrategyParamsEditor

log = logging.getLogger(__name__)


class StrategiesPanel(QWidget):
    """The strategies table with Start / Pause / Stop / Stop and flatten / Hand over /
    Load… / Reload, and the selected strategy's parameters.
    """

    def __init__(
        self, model: StrategiesModel, runner: StrategyOps, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.runner = runner
        self.tasks = TaskGroup("the strategies panel", log)
        self.question: Question | None = None
        """ the question on screen, if one is (tests answer it) """
        self.file_dialog: QFileDialog | None = None
        self._starting: set[str] = set()
        """ strategies whose start is being awaited (their Start stays disabled) """
        self._last_dir = ""
        self.replay_dialog: QFileDialog | None = None
        """ the tape being chosen for "Replay on tape…" (tests choose it) """
        self.replay_report: ReplayReport | None = None
        """ the last strategy replay's report, shown in :attr:`report_window` """
        self.report_window: QDialog | None = None
        self._replaying = False
        self._last_tape_dir = ""
        self._build()
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        model.rowsInserted.connect(self._on_rows_inserted)
        runner.changed += self._on_runner_changed
        self.update_controls()

    # ---- building -------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.start_button = self._button(bar, "Start", "Start the strategy (or resume it)")
        self.pause_button = self._button(
            bar, "Pause", "No new entries; its exits, stops and cancels still work"
        )
        self.stop_button = self._button(
            bar, "Stop", "Cancel its working orders; its position stays, shown as left by it"
        )
        self.flatten_button = self._button(
            bar, "Stop and flatten", "Cancel its working orders and close its position at market"
        )
        self.hand_over_button = self._button(
            bar, "Hand over", "It stops; its orders and position become yours"
        )
        bar.addStretch(1)
        self.load_button = self._button(bar, "Load…", "Load the strategies of a Python file")
        self.reload_button = self._button(
            bar, "Reload", "Read the stopped strategy's file again (its code changed)"
        )
        self.replay_button = self._button(
            bar,
            "Replay on tape…",
            "Run the strategy on a recorded day: its own simulator driven by the tape, "
            "nothing sent to the broker; a report at the end",
        )
        self.replay_button.clicked.connect(self.ask_replay)
        self.start_button.clicked.connect(self.start_selected)
        self.pause_button.clicked.connect(self.pause_selected)
        self.stop_button.clicked.connect(self.stop_selected)
        self.flatten_button.clicked.connect(self.flatten_selected)
        self.hand_over_button.clicked.connect(self.hand_over_selected)
        self.load_button.clicked.connect(self.ask_load)
        self.reload_button.clicked.connect(self.reload_selected)
        layout.addLayout(bar)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.view = table_view(self.model, splitter)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Sized to fit beside the parameters under a chart of a 1920-pixel window; the last
        # signal takes what is left (its whole text is in the tooltip).
        for column, width in enumerate((110, 64, 88, 110, 76, 62, 180, 84, 46)):
            self.view.setColumnWidth(column, width)
        self.view.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        splitter.addWidget(self.view)
        side = QWidget(splitter)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.detail = QLabel(side)
        """ the selected strategy's state and why it is in it (the error that halted it) """
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setContentsMargins(4, 0, 0, 0)
        self.params = StrategyParamsEditor(self.set_param, side)
        side_layout.addWidget(self.detail)
        side_layout.addWidget(self.params, 1)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([800, 230])
        layout.addWidget(splitter, 1)

    def _button(self, bar: QHBoxLayout, text: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        bar.addWidget(button)
        return button

    # ---- what is selected -------------------------------------------------------------------

    def selected(self) -> str:
        """The selected strategy's name ("" for none)."""
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return ""
        proxy = self.view.model()
        return str(proxy.data(proxy.index(rows[0].row(), 0), KEY_ROLE))

    def select(self, name: str) -> None:
        """Select a strategy's row."""
        proxy = self.view.model()
        for row in range(proxy.rowCount()):
            if proxy.data(proxy.index(row, 0), KEY_ROLE) == name:
                self.view.selectRow(row)
                return

    def _status(self, name: str) -> StrategyStatus | None:
        try:
            return self.runner.status(name) if name else None
        except StrategyError:
            return None

    def _selected_status(self) -> StrategyStatus | None:
        """The selected strategy's status, or None having said why there is none."""
        name = self.selected()
        if not name:
            self.say("Select a strategy first.", error=True)
            return None
        try:
            return self.runner.status(name)
        except StrategyError as exc:
            self.say(str(exc), error=True)
            return None

    def _on_selection(self, *_: object) -> None:
        self.update_controls()

    def _on_rows_inserted(self, *_: object) -> None:
        if not self.selected():  # the first strategy loaded is the one the buttons act on
            self.view.selectRow(0)

    def _on_runner_changed(self, name: str) -> None:
        if name == self.selected():
            self.update_controls()

    def update_controls(self) -> None:
        """Buttons and the parameters' editor as the selected strategy's state allows (a
        strategy that runs elsewhere: none of them, and their tooltips say why)."""
        status = self._status(self.selected())
        self._say_remote(status)
        if status is not None and status.remote:
            for button in self._controls():
                button.setEnabled(False)
            self.start_button.setText("Start")
            self.params.show_status(status, editable=False)
            self._show_detail(status)
            return
        state = status.state if status is not None else None
        active = state is not None and state.active
        starting = status is not None and status.name in self._starting
        self.start_button.setEnabled(
            status is not None and not starting and state is not StrategyState.RUNNING
        )
        self.start_button.setText("Resume" if state is StrategyState.PAUSED else "Start")
        self.pause_button.setEnabled(state is StrategyState.RUNNING)
        self.stop_button.setEnabled(active)
        self.flatten_button.setEnabled(active)
        self.hand_over_button.setEnabled(active or (status is not None and status.left_position))
        self.reload_button.setEnabled(status is not None and not active and not starting)
        self.replay_button.setEnabled(status is not None and not self._replaying)
        self.params.show_status(status, editable=status is not None and not active and not starting)
        self._show_detail(status)

    def _controls(self) -> tuple[QPushButton, ...]:
        """The buttons that act on the selected strategy (Load… acts on none)."""
        return (
            self.start_button,
            self.pause_button,
            self.stop_button,
            self.flatten_button,
            self.hand_over_button,
            self.reload_button,
        )

    def _say_remote(self, status: StrategyStatus | None) -> None:
        """The controls' tooltips: their own, or why a remote strategy has none here."""
        if status is not None and status.remote:
            tip = (
                f"{status.name} runs elsewhere (ibdesk run, API client {status.client_id}): "
                "start, stop and change it where it runs. A KILL here still cancels its "
                "orders, with everyone's."
            )
            for button in self._controls():
                button.setProperty("own_tip", button.property("own_tip") or button.toolTip())
                button.setToolTip(tip)
            self.params.setToolTip(tip)
            return
        for button in self._controls():
            if button.property("own_tip"):
                button.setToolTip(button.property("own_tip"))
        self.params.setToolTip("")

    def _show_detail(self, status: StrategyStatus | None) -> None:
        if status is None:
            self.detail.setText("Select a strategy (or Load… a file of them).")
            self.detail.setStyleSheet("")
            return
        if status.remote:
            self.detail.setText(f"{status.name}: {status.reason}")
            self.detail.setStyleSheet("")
            return
        text = f"{status.name} is {status.state.value.lower()}"
        self.detail.setText(f"{text}: {status.reason}" if status.reason else text)
        t = theme.current()
        halted = status.state is StrategyState.HALTED
        self.detail.setStyleSheet(f"color: {t.error};" if halted else "")

    # ---- the actions ----------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        """What an action did, or why it did nothing, in the panel's message line."""
        t = theme.current()
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {t.error};" if error else "")
        self.message.setVisible(bool(text))

    def _act(self, what: Callable[[str], object], done: str) -> bool:
        """Run a runner control on the selected strategy; say what happened."""
        name = self.selected()
        if not name:
            self.say("Select a strategy first.", error=True)
            return False
        try:
            what(name)
        except StrategyError as exc:
            self.say(str(exc), error=True)
            return False
        self.say(done.format(name=name))
        self.update_controls()
        return True

    def start_selected(self) -> asyncio.Task[None] | None:
        """Start (or resume) the selected strategy; its Start is disabled while the start
        is awaited (instruments resolved, bars loaded). Returns the task."""
        name = self.selected()
        if not name:
            self.say("Select a strategy first.", error=True)
            return None
        self._starting.add(name)
        self.update_controls()
        self.say(f"Starting {name}…")
        return self.tasks.spawn(self._start(name), f"starting {name}")

    async def _start(self, name: str) -> None:
        try:
            await self.runner.start(name)
        except StrategyError as exc:
            self.say(str(exc), error=True)
        else:
            self.say(f"{name} is running.")
        finally:
            self._starting.discard(name)
            self.update_controls()

    def pause_selected(self) -> bool:
        """PAUSE the selected strategy: it opens nothing new; its exits still work."""
        return self._act(self.runner.pause, "{name} paused: no new entries, exits still work.")

    def stop_selected(self) -> bool:
        """STOP the selected strategy: its working orders cancelled, its position left."""
        return self._act(self.runner.stop, "{name} stopped: its working orders cancelled.")

    def flatten_selected(self) -> asyncio.Task[bool] | None:
        """Stop the selected strategy and close its position at market, after asking;
        returns the task that awaits the answer."""
        status = self._selected_status()
        if status is None:
            return None
        held = position_text(status) or "flat"
        text = (
            f"<b>Stop {html.escape(status.name)} and flatten its position?</b><br>"
            f"Its working orders are cancelled and its position ({html.escape(held)}) "
            "is closed with market orders."
        )
        return self._ask_then(
            "Stop and flatten",
            text,
            "Stop and flatten",
            lambda n: self.runner.stop(n, flatten=True),
            "{name} stopped; its position is being closed at market.",
        )

    def hand_over_selected(self) -> asyncio.Task[bool] | None:
        """Hand the selected strategy's orders and position over to the trader, after
        asking; returns the task that awaits the answer."""
        status = self._selected_status()
        if status is None:
            return None
        held = position_text(status) or "flat"
        text = (
            f"<b>Hand {html.escape(status.name)} over to you?</b><br>"
            f"It stops. Its {status.working} working orders stay at the broker and, with its "
            f"position ({html.escape(held)}), are yours to manage from now on."
        )
        return self._ask_then(
            "Hand over",
            text,
            "Hand over",
            self.runner.hand_over,
            "{name} handed over: its orders and position are yours.",
        )

    def _ask_then(
        self, title: str, text: str, yes: str, what: Callable[[str], object], done: str
    ) -> asyncio.Task[bool]:
        name = self.selected()
        box = ask(self.window(), title, text, yes)
        self.question = box

        async def answered() -> bool:
            try:
                if not await box.answer:
                    self.say(f"{title}: cancelled, {name} unchanged.")
                    return False
            finally:
                self.question = None
            self.select(name)  # the selection may have moved while the question was open
            return self._act(what, done)

        return self.tasks.spawn(answered(), f"asking: {title}")

    def reload_selected(self) -> bool:
        """Read the selected (stopped) strategy's file again."""
        return self._act(self.runner.reload, "{name} reloaded from its file.")

    def ask_load(self) -> QFileDialog:
        """Ask for a strategy file (non-modal); it is loaded when chosen."""
        dialog = QFileDialog(self, "Load strategies", self._last_dir, "Python files (*.py)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda path: self.load(Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "file_dialog", None))
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def load(self, path: Path) -> list[str]:
        """Load a file's strategies (stopped); the names loaded (none: the message says why)."""
        self._last_dir = str(path.parent)
        try:
            names = self.runner.load(path)
        except StrategyError as exc:
            self.say(str(exc), error=True)
            return []
        self.model.refresh()  # the rows now, not at the next flush: select the first
        self.select(names[0])
        self.say(f"Loaded {', '.join(names)} from {path.name} (stopped).")
        return names

    # ---- replay on a tape -------------------------------------------------------------------

    def ask_replay(self) -> QFileDialog | None:
        """Ask for a tape (non-modal); the selected strategy is replayed on it when chosen."""
        status = self._selected_status()
        if status is None:
            return None
        dialog = QFileDialog(
            self, f"Replay {status.name} on a tape", self._last_tape_dir, "Tapes (*.tape)"
        )
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda path: self.replay(status, Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "replay_dialog", None))
        self.replay_dialog = dialog
        dialog.open()
        return dialog

    def replay(self, status: StrategyStatus, tape: Path) -> asyncio.Task[None]:
        """Replay a strategy's file, with its parameters, on a tape in a child process
        (ibdesk.replay.replay_child); the report opens in a window when it is done."""
        self._last_tape_dir = str(tape.parent)
        self._replaying = True
        self.update_controls()
        self.say(f"Replaying {status.name} on {tape.name}…")
        return self.tasks.spawn(self._replay(status, tape), "a strategy replay")

    async def _replay(self, status: StrategyStatus, tape: Path) -> None:
        try:
            report = await replay_in_child(Path(status.path), tape, status.params)
        except ReplayChildError as exc:
            self.say(f"The replay of {status.name} failed: {exc}", error=True)
            return
        finally:
            self._replaying = False
            self.update_controls()
        self.replay_report = report
        self.say(f"{status.name} on {tape.name}: {len(report.trades)} trades, "
                 f"net {report.net_pnl:,.2f}.")  # fmt: skip
        window = QDialog(self)
        window.setWindowTitle(f"Replay of {status.name} on {tape.name}")
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        text = QPlainTextEdit(report.text(), window)
        text.setReadOnly(True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        QVBoxLayout(window).addWidget(text)
        window.resize(720, 420)
        window.finished.connect(lambda _result: setattr(self, "report_window", None))
        self.report_window = window
        window.show()

    # ---- parameters -----------------------------------------------------------------------

    def set_param(self, name: str, key: str, text: str) -> bool:
        """Commit a typed value through the runner (typed and checked there); on a refusal
        the message says why and the editor shows the value in force again."""
        try:
            params = self.runner.set_params(name, {key: text})
        except StrategyError as exc:
            self.say(str(exc), error=True)
            ok = False
        else:
            self.say(f"{name}: {key} = {params[key]!r}")
            ok = True
        self.params.forget()  # show what is in force, whatever was typed
        self.update_controls()
        return ok

    def close_store(self) -> None:
        """Stop listening to the runner and drop what is under way (the window closes)."""
        self.runner.changed -= self._on_runner_changed
        if self.question is not None:
            self.question.reject()
        self.tasks.cancel_all()
