"""ibdesk's windows carry its icon and tie themselves to its desktop entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ibdesk import resources
from ibdesk.ui.kill_window import KillWindow
from ibdesk.ui.main_window import MainWindow

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


def test_the_main_window_has_the_desktop_file_name_before_it_is_shown(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    QGuiApplication.setDesktopFileName("")
    window = MainWindow(tmp_path / "window.ini")
    qtbot.addWidget(window)
    assert QGuiApplication.desktopFileName() == resources.APP_ID


async def test_the_attached_main_window_has_the_icon(
    make_desk: MakeDesk, qapp: QApplication
) -> None:
    """The icon comes once the desk is attached (after the first paint: the SVG plugin costs
    a few milliseconds the first paint should not wait for)."""
    desk = await make_desk(start=False)
    icon = desk.window.windowIcon()
    assert not icon.isNull()
    assert icon.pixmap(64, 64).width() == 64
    assert not qapp.windowIcon().isNull()  # dialogs and the tray take it from there


def test_the_kill_window_has_the_icon_and_the_desktop_file_name(
    qapp: QApplication, qtbot: QtBot
) -> None:
    QGuiApplication.setDesktopFileName("")

    async def never(flatten: bool) -> None:
        raise AssertionError("no kill in this test")

    window = KillWindow("127.0.0.1:7497 as client 103", never, lambda: False)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    assert not window.windowIcon().isNull()
    assert QGuiApplication.desktopFileName() == resources.APP_ID
