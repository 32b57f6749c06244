"""The alerts' Qt parts: tray notifications, sounds with a beep fallback, and the test dialog.

The hub (ibdesk.alerts) decides what goes where and when; this module only shows and plays.
The desktop channel is a QSystemTrayIcon notification; where the desktop has no tray (some
GNOME setups, a bare X server, offscreen) it is the status bar and a taskbar flash
(``QApplication.alert``). The sound channel is the packaged sound through the platform's
player (ibdesk.alerts.sound), and ``QApplication.beep`` where there is none.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
)

from ibdesk.alerts.kinds import KINDS
from ibdesk.alerts.message import Message, compose
from ibdesk.alerts.push import PushReport
from ibdesk.alerts.sound import SoundPlayer
from ibdesk.desk.api import AlertsView
from ibdesk.domain.alerts import Channel, Urgency
from ibdesk.ui import theme
from ibdesk.ui.brand import app_icon

SHOW_MS = 15_000
""" how long a notification (or the status bar line) stays """
ICONS = {
    Urgency.INFO: QSystemTrayIcon.MessageIcon.Information,
    Urgency.GOOD: QSystemTrayIcon.MessageIcon.Information,
    Urgency.WARNING: QSystemTrayIcon.MessageIcon.Warning,
    Urgency.CRITICAL: QSystemTrayIcon.MessageIcon.Critical,
}


class DesktopNotifier:
    """The desktop channel: a tray notification, or the status bar and a taskbar flash."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), window)
            self.tray.setToolTip("ibdesk")
            menu = QMenu(window)
            menu.addAction("Show ibdesk", self.raise_window)
            self.tray.setContextMenu(menu)
            self.tray.messageClicked.connect(self.raise_window)
            self.tray.activated.connect(lambda _reason: self.raise_window())
            self.tray.show()

    def show(self, message: Message) -> str:
        """Show a message; returns how (for the test dialog)."""
        if self.tray is not None and self.tray.isVisible():
            self.tray.showMessage(message.title, message.body, ICONS[message.urgency], SHOW_MS)
            return "shown as a notification"
        self.window.statusBar().showMessage(f"Alert: {message.title}", SHOW_MS)
        QApplication.alert(self.window)
        return "shown in the status bar (this desktop has no notification tray)"

    def raise_window(self) -> None:
        """Bring the window to the front (a click on the notification or the tray icon)."""
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def close(self) -> None:
        """Take the tray icon away."""
        if self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None


class SoundOutput:
    """The sound channel: the message's most urgent kind's sound, or a beep."""

    def __init__(self, player: SoundPlayer) -> None:
        self.player = player

    def play(self, message: Message) -> str:
        """Play a message's sound; returns how (for the test dialog)."""
        sound = KINDS[message.lead.kind].sound
        if self.player.play(sound):
            return f"played the {sound} sound with {self.player.name}"
        QApplication.beep()
        return "beeped (no sound player found; set [alerts] sound_player)"


class TestAlertDialog(QDialog):
    """Send a test alert to every channel and show what became of it."""

    def __init__(self, ui: AlertsUi, window: QMainWindow) -> None:
        super().__init__(window)
        self.ui = ui
        self.setWindowTitle("Send a test alert")
        intro = QLabel(
            "Sends one alert to the desktop, as a sound and to every push URL of the "
            "config's [alerts] section, whatever the routes say.",
            self,
        )
        intro.setWordWrap(True)
        self.desktop_result = QLabel("not sent yet", self)
        self.sound_result = QLabel("not sent yet", self)
        self.push_result = QLabel(self._push_state(), self)
        for label in (self.desktop_result, self.sound_result, self.push_result):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Desktop:", self.desktop_result)
        form.addRow("Sound:", self.sound_result)
        form.addRow("Push:", self.push_result)
        self.send_button = QPushButton("Send a test alert", self)
        self.send_button.clicked.connect(self.send)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(460, 200)

    def send(self) -> None:
        """Send the test alert now."""
        message = compose([self.ui.alerts.test_alert()])
        self.desktop_result.setText(self.ui.desktop.show(message))
        self.sound_result.setText(self.ui.sound.play(message))
        push = self.ui.alerts.push
        if push is not None:
            self.push_result.setText(f"sending to {len(push.labels)} service(s)…")
            push.send(message, self.show_push)
        else:
            self.push_result.setText(self._push_state())

    def show_push(self, report: PushReport) -> None:
        """What each push service said."""
        palette = theme.current()
        lines = [
            f"<span style='color:{palette.ok if r.ok else palette.error}'>{r.label}: "
            f"{r.outcome}</span>"
            for r in report.results
        ]
        if report.problem:
            problem = html.escape(report.problem)
            lines.append(f"<span style='color:{palette.error}'>{problem}</span>")
        lines.append(f"({report.elapsed:.1f} s)")
        self.push_result.setText("<br>".join(lines))

    def _push_state(self) -> str:
        alerts = self.ui.alerts
        if alerts.push is not None:
            return f"{len(alerts.push.labels)} service(s) configured: " + ", ".join(
                alerts.push.labels
            )
        if alerts.push_off:
            return f"off: {alerts.push_off}"
        return 'not configured: add URLs to the config, e.g. [alerts] push = ["ntfy://…"]'


class AlertsUi:
    """The desktop and sound channels of a window, and its test dialog."""

    def __init__(self, alerts: AlertsView, window: QMainWindow) -> None:
        self.alerts = alerts
        self.window = window
        self.desktop = DesktopNotifier(window)
        self.sound = SoundOutput(SoundPlayer(alerts.settings.sound_player))
        self.dialog: TestAlertDialog | None = None
        alerts.hub.connect(Channel.DESKTOP, self._show)
        alerts.hub.connect(Channel.SOUND, self._play)

    def open_test_dialog(self) -> TestAlertDialog:
        """Show the test dialog (one per window, kept between openings)."""
        if self.dialog is None:
            self.dialog = TestAlertDialog(self, self.window)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def close(self) -> None:
        """Stop showing and playing alerts."""
        self.alerts.hub.disconnect(Channel.DESKTOP, self._show)
        self.alerts.hub.disconnect(Channel.SOUND, self._play)
        self.desktop.close()
        self.sound.player.close()
        if self.dialog is not None:
            self.dialog.close()

    def _show(self, message: Message) -> None:
        self.desktop.show(message)

    def _play(self, message: Message) -> None:
        self.sound.play(message)
