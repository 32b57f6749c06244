"""ibdesk's face on the desktop: its icon on every window, and its desktop file name.

The desktop file name ties a window to the installed ``ibdesk.desktop`` entry: on Wayland it is
the window's app id, which is how the dock and the task switcher find the entry's name and
icon. Both the main window and the kill window (a process of its own) call :func:`brand`.
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import QWidget

from ibdesk import resources

log = logging.getLogger("ibdesk.ui.brand")


@functools.cache
def app_icon() -> QIcon:
    """The application icon, rendered from the packaged SVG once (256 px; Qt scales it
    down). A null icon, and a warning, when Qt cannot read SVG (its ``qsvg`` image format
    plugin is missing: a bundle built without it)."""
    pixmap = QPixmap()
    if not pixmap.loadFromData(resources.icon_svg(), "SVG"):
        log.warning("cannot render the application icon: Qt's SVG image plugin is missing")
        return QIcon()
    return QIcon(pixmap)


def identify() -> None:
    """Set the desktop file name; before a window is shown, since Wayland takes a window's
    app id when the window is created."""
    QGuiApplication.setDesktopFileName(resources.APP_ID)


def brand(window: QWidget) -> None:
    """Give a top-level window the icon, make it the application's (dialogs and the tray take
    it from there), and set the desktop file name.

    Rendering the icon loads Qt's SVG plugin (a few milliseconds): the main window does this
    once its frame is painted (``attach``), not before its first paint.
    """
    icon = app_icon()
    window.setWindowIcon(icon)
    QGuiApplication.setWindowIcon(icon)
    identify()
