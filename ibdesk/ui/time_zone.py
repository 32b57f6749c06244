"""The View menu's time zone choice: exchange time or local time, switched live and saved.

One choice for the whole window (``[ui] time_zone`` in the config file): the blotter's
orders and fills and the charts show each instrument's times in its exchange's zone, or all
in local time. Times that belong to no instrument (the P&L curve, the kill's verification)
are local either way. Every time says its zone (``09:31:07.250 CT``, ``Time (exchange)``);
the formatting is ``ui.format.clock``.

A switch rewrites what shows times at once and writes the choice into the config file
(comments kept), so the next start shows the same clock.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from ibdesk import config
from ibdesk.domain import times
from ibdesk.ui import format as fmt

if TYPE_CHECKING:
    from ibdesk.ui.main_window import MainWindow

log = logging.getLogger("ibdesk.ui")

_KEY = "time_zone:"
""" the menu entries' data: the key, then the choice """
CHOICES = (
    (
        times.EXCHANGE,
        "&Exchange time",
        "Each instrument's times in its exchange's zone (ES in CT, CL in ET); "
        "times of no instrument (P&L curve, kill) in local time",
    ),
    (times.LOCAL, "&Local time", "Every time in this computer's zone"),
)


def add_time_zone_menu(window: MainWindow, view_menu: QMenu) -> QActionGroup:
    """Add Exchange time / Local time to the View menu, the current choice checked."""
    view_menu.addSeparator()
    group = QActionGroup(window)
    for choice, text, tip in CHOICES:
        action = QAction(text, window, checkable=True)
        action.setData(f"{_KEY}{choice}")
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _=False, c=choice: switch_time_zone(window, c))
        group.addAction(action)
        view_menu.addAction(action)
    _check_choice(window)
    return group


def use_time_zone(window: MainWindow, choice: str) -> None:
    """Show times per ``choice`` (``exchange`` or ``local``) from now on, without saving it
    (the config's choice, at start): the menu, the tables and the charts follow."""
    fmt.set_time_zone(choice)
    _check_choice(window)
    if window.desk is None:
        return  # the frame only: the panels read the choice when they are built
    for model in window.models():
        model.repaint_all()
    window.chart_area.show_times()


def switch_time_zone(window: MainWindow, choice: str) -> None:
    """The trader's switch: show times per ``choice`` and save it in the config file."""
    if choice == fmt.time_zone():
        return
    use_time_zone(window, choice)
    path = window.desk.settings.path if window.desk is not None else None
    if path is None:
        return  # defaults, no file: the choice lasts this run
    try:
        config.save_setting(path, "ui", "time_zone", choice)
    except (OSError, config.ConfigError) as exc:
        log.error("the time zone choice was not saved in %s: %s", path, exc)
        window.statusBar().showMessage(f"Time zone not saved: {exc}", 10_000)
    else:
        window.statusBar().showMessage(f"Times in {choice} time (saved in {path}).", 5_000)


def _check_choice(window: MainWindow) -> None:
    for action in window.findChildren(QAction):
        key = action.data()
        if isinstance(key, str) and key.startswith(_KEY):
            action.setChecked(key == _KEY + fmt.time_zone())
