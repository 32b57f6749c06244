"""The roll warning where a futures trader looks: the watchlist row and the chart header, as
well as the ticket, all from the one rule (``ibdesk.domain.roll``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ibdesk import clock as clocks
from ibdesk.config import Settings, TicketSettings, limits_off
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.connection import LinkState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import theme
from ibdesk.ui.models.watchlist import WatchlistModel
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def desk_near_expiry(
    make_desk: MakeDesk, settings_for: Any, sim: SimThread
) -> tuple[Any, Any, Any]:
    """A desk whose roll warning reaches the ES front month (whatever today is: the warning
    days are set to the front month's days left) but not the next contract."""
    front_symbol, next_symbol = sim.control.chain("ES")[:2]
    expiry = sim.control.instrument(front_symbol).expiry
    days = (dt.date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:])) - dt.date.today()).days
    base: Settings = settings_for(risk=limits_off())
    desk = await make_desk(
        settings=dataclasses.replace(base, ticket=TicketSettings(roll_warning_days=days))
    )
    await wait_until(lambda: desk.link.status.state is LinkState.CONNECTED, what="connected")
    front = await desk.resolver.resolve(front_symbol)
    later = await desk.resolver.resolve(next_symbol)
    assert front.days_to_expiry(clocks.today(desk.clock)) == days
    assert later.days_to_expiry(clocks.today(desk.clock)) > days
    return desk, front, later


def watch_row(model: WatchlistModel, con_id: int) -> int:
    model.sync()
    return model.row_keys().index(con_id)


async def test_the_watchlist_marks_the_front_month_near_expiry_and_not_the_next(
    make_desk: MakeDesk, settings_for: Any, sim: SimThread
) -> None:
    desk, front, later = await desk_near_expiry(make_desk, settings_for, sim)
    await desk.add_symbol(front.local_symbol)
    await desk.add_symbol(later.local_symbol)
    model = desk.window.watchlist_model
    await wait_until(
        lambda: {front.con_id, later.con_id} <= set(model.row_keys()), what="both rows"
    )
    near = model.index(watch_row(model, front.con_id), 0)
    far = model.index(watch_row(model, later.con_id), 0)
    warning = desk.roll_warning(front)
    assert warning is not None and desk.roll_warning(later) is None
    assert near.data().endswith(warning.marker)
    assert warning.text in near.data(Qt.ItemDataRole.ToolTipRole)
    assert QColor(near.data(Qt.ItemDataRole.ForegroundRole)) == theme.current().color("warn")
    assert "roll" not in far.data()
    assert "roll" not in (far.data(Qt.ItemDataRole.ToolTipRole) or "")
    assert far.data(Qt.ItemDataRole.ForegroundRole) is None


async def test_the_chart_header_warns_for_the_front_month_and_not_the_next(
    make_desk: MakeDesk, settings_for: Any, sim: SimThread
) -> None:
    desk, front, later = await desk_near_expiry(make_desk, settings_for, sim)
    chart = desk.window.chart_area.new_chart(front.local_symbol, Timeframe.M1)
    assert chart is not None
    await wait_until(lambda: chart.instrument is not None, timeout=15, what="the chart loaded")
    warning = desk.roll_warning(front)
    assert warning is not None
    assert chart.roll_label.isVisibleTo(chart)
    assert chart.roll_label.text() == warning.short
    assert chart.roll_label.toolTip() == warning.text
    await chart.load(later.local_symbol, Timeframe.M1)
    assert chart.instrument is not None and chart.instrument.con_id == later.con_id
    assert not chart.roll_label.isVisibleTo(chart) and not chart.roll_label.text()


async def test_the_ticket_says_the_same_warning(
    make_desk: MakeDesk, settings_for: Any, sim: SimThread
) -> None:
    desk, front, later = await desk_near_expiry(make_desk, settings_for, sim)
    panel = desk.window.ticket_panel
    panel.set_instrument(front)
    warning = desk.roll_warning(front)
    assert warning is not None and "roll soon" in panel.contract_info.text()
    assert panel.contract_info.toolTip() == warning.text
    panel.set_instrument(later)
    assert "roll" not in panel.contract_info.text() and not panel.contract_info.toolTip()
