"""TWS's daily restart in the window: the status bar's countdown, and strategies that stay
paused after a restart until the trader acknowledges the report (the banner's button)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from ibdesk.config import RestartSettings, Settings, limits_off
from ibdesk.desk.restarts import REPORT_KEY
from ibdesk.domain.strategy import StrategyState
from ibdesk.simtws import SimThread
from tests.desk.kit import ready_desk
from tests.helpers import wait_until
from tests.ui.test_strategies_panel import strategy_file

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


def restart_at(when: dt.datetime, pause: float = 20.0) -> RestartSettings:
    return RestartSettings(
        daily_at=f"{when:%H:%M:%S}",
        time_zone="UTC",
        pause_before_minutes=pause,
        window_minutes=10.0,
        weekly_relogin="",
    )


def with_restart(settings_for: Callable[..., Settings], restart: RestartSettings) -> Settings:
    return dataclasses.replace(settings_for(risk=limits_off()), restart=restart)


async def test_the_status_bar_counts_down_to_the_next_restart(
    make_desk: MakeDesk, settings_for: Callable[..., Settings]
) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    desk = await make_desk(
        start=False, settings=with_restart(settings_for, restart_at(later, pause=5))
    )
    label = desk.window.status.restart
    await wait_until(lambda: label.text().startswith("TWS restart in "), what="the countdown")
    assert re.fullmatch(r"TWS restart in 1:59:\d\d", label.text()), label.text()
    first = label.text()
    await wait_until(lambda: label.text() != first, timeout=3, what="the countdown ticking")
    assert f"{later:%H:%M:%S} UTC" in label.toolTip()  # the desk's time rules: zone labelled


async def test_after_a_restart_strategies_wait_for_the_report_to_be_acknowledged(
    make_desk: MakeDesk,
    sim: SimThread,
    settings_for: Callable[..., Settings],
    tmp_path: Any,
    qtbot: Any,
) -> None:
    just_now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    settings = with_restart(settings_for, restart_at(just_now))
    desk, _ = await ready_desk(make_desk, sim, settings=settings)
    desk.strategies.load(strategy_file(tmp_path, "Probe"))
    await desk.strategies.start("Probe")
    assert desk.strategies.state_of("Probe") is StrategyState.PAUSED  # inside the window
    status = desk.window.status
    await wait_until(
        lambda: status.restart.text().startswith("Strategies paused for the TWS restart"),
        what="paused for the restart",
    )
    sim.control.restart(down_seconds=1.0)
    await wait_until(
        lambda: status.restart.text() == "Expected TWS restart: reconnecting",
        what="the expected restart",
    )
    assert "Expected TWS restart" in status.state.toolTip()  # the connection light says so
    banners = desk.window.banners
    await wait_until(lambda: REPORT_KEY in banners.banners, timeout=15, what="the report")
    assert (
        "stay paused until you acknowledge this report (Dismiss)"
        in banners.banners[REPORT_KEY].notice.text
    )
    assert desk.strategies.state_of("Probe") is StrategyState.PAUSED
    assert status.restart.text().startswith("TWS restarted: strategies paused until")
    [button] = banners.banners[REPORT_KEY].findChildren(QPushButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    await wait_until(
        lambda: desk.strategies.state_of("Probe") is StrategyState.RUNNING, what="resumed"
    )
    await wait_until(
        lambda: status.restart.text().startswith("TWS restart in "), what="the next countdown"
    )
