"""The replay's transport bar: REPLAY in large letters, play and pause, the speed, a jump to a
time of day, one event at a time, and where the tape is.

The bar drives a :class:`~ibdesk.replay.player.Player` (Qt-free) and follows its events; the
replayed time is shown in the exchange's or local zone as the rest of the window shows times.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from PySide6.QtCore import QTime, QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QTimeEdit, QToolBar, QToolButton, QWidget

from ibdesk.replay.player import MAX, SPEEDS, Player
from ibdesk.ui import theme

BANNER_TEXT = "REPLAY"
REFRESH_MS = 100
""" the time label's refresh: the player moves thousands of times a second at max speed """


def speed_label(speed: float) -> str:
    """``10x`` (with a multiplication sign), or ``max``."""
    return "max" if speed == MAX else f"{speed:g}\u00d7"


class TransportBar(QToolBar):
    """The replay's controls, across the top of the window.

    Args:
        player: the player it drives.
        title: what is replayed (the tape's name), shown beside REPLAY.
        rewind: asked to replay again from an earlier time (the player only moves forward);
            None: jumps back are refused with a message.
    """

    def __init__(
        self,
        player: Player,
        title: str,
        parent: QWidget | None = None,
        rewind: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__("Replay", parent)
        self.setObjectName("ReplayBar")
        self.setMovable(False)
        self.player = player
        self.rewind = rewind
        self.banner = QLabel(f" {BANNER_TEXT} ", self)
        self.banner.setObjectName("ReplayBanner")
        self.banner.setToolTip(
            f"Replaying {title}: what the desk showed then. Nothing is sent to any broker."
        )
        self.banner.setStyleSheet(
            f"background: {theme.current().warn}; color: black; font-size: 18pt;"
            " font-weight: bold; padding: 2px 10px; border-radius: 3px;"
        )
        self.addWidget(self.banner)
        self.addWidget(QLabel(f"  {title}  ", self))
        self.play_button = QToolButton(self)
        self.play_button.clicked.connect(self.toggle)
        self.addWidget(self.play_button)
        self.step_button = QToolButton(self)
        self.step_button.setText("Step")
        self.step_button.setToolTip("Apply the next event of the tape, and pause")
        self.step_button.clicked.connect(self.step)
        self.addWidget(self.step_button)
        self.speed_box = QComboBox(self)
        for speed in SPEEDS:
            self.speed_box.addItem(speed_label(speed), speed)
        self.speed_box.setToolTip("Replay speed: tape seconds per second")
        self.speed_box.currentIndexChanged.connect(self._on_speed)
        self.addWidget(self.speed_box)
        self.time_edit = QTimeEdit(self)
        self.time_edit.setDisplayFormat("HH:mm:ss")
        self.time_edit.setToolTip("A time of the tape's day to jump to")
        self.addWidget(self.time_edit)
        self.jump_button = QToolButton(self)
        self.jump_button.setText("Jump")
        self.jump_button.clicked.connect(self.jump_to_edit)
        self.addWidget(self.jump_button)
        self.position = QLabel(self)
        self.position.setObjectName("ReplayPosition")
        self.addWidget(self.position)
        self.message = QLabel(self)
        self.message.setObjectName("ReplayMessage")
        self.addWidget(self.message)
        self._select_speed(player.speed)
        player.changed += self._on_changed
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._show_position)
        self.timer.start()
        self._on_changed()
        self.time_edit.setTime(self._qtime(player.clock()))

    def close_player(self) -> None:
        """Stop following the player (the window closes)."""
        self.timer.stop()
        self.player.changed -= self._on_changed
        self.player.pause()

    # ---- actions (buttons, tests) -------------------------------------------------------------

    def toggle(self) -> None:
        """Play if paused, pause if playing."""
        if self.player.playing:
            self.player.pause()
        else:
            self.player.play()

    def step(self) -> None:
        """One event, paused."""
        self.player.pause()
        self.player.step()
        self._show_position()

    def set_speed(self, speed: float) -> None:
        """Play at ``speed`` (one of :data:`SPEEDS`)."""
        self._select_speed(speed)

    def jump_to(self, t: float) -> None:
        """Show the tape at ``t`` (epoch s): forward at once; back by replaying again."""
        if t >= self.player.clock():
            self.player.advance_to(t)
        elif self.rewind is not None:
            self.rewind(t)
            return
        else:
            self.say("The replay only moves forward here.", error=True)
        self._show_position()

    def jump_to_edit(self) -> None:
        """Jump to the time of day in the time box, on the tape's day."""
        now = dt.datetime.fromtimestamp(self.player.clock())
        wanted = self.time_edit.time()
        target = now.replace(
            hour=wanted.hour(), minute=wanted.minute(), second=wanted.second(), microsecond=0
        )
        self.jump_to(target.timestamp())

    def say(self, text: str, error: bool = False) -> None:
        """A message beside the controls (a cut tape, the end)."""
        self.message.setText(f"  {text}")
        self.message.setStyleSheet(f"color: {theme.current().warn};" if error else "")

    # ---- following the player -----------------------------------------------------------------

    def _select_speed(self, speed: float) -> None:
        index = self.speed_box.findData(speed)
        if index < 0:
            index = min(range(len(SPEEDS)), key=lambda i: abs(math.log(SPEEDS[i] / speed)))
        self.speed_box.setCurrentIndex(index)
        self.player.set_speed(SPEEDS[index])

    def _on_speed(self, index: int) -> None:
        self.player.set_speed(SPEEDS[index])

    def _on_changed(self) -> None:
        playing = self.player.playing
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setEnabled(playing or not self.player.finished)
        self.step_button.setEnabled(not self.player.finished)
        if self.player.finished:
            problem = self.player.tape.message()
            self.say(problem or "End of the tape.", error=problem is not None)
        self._show_position()

    def _show_position(self) -> None:
        now = self.player.clock()
        stamp = dt.datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S")
        self.position.setText(f"  {stamp}  {self.player.applied:,} events")

    @staticmethod
    def _qtime(t: float) -> QTime:
        d = dt.datetime.fromtimestamp(t)
        return QTime(d.hour, d.minute, d.second)
