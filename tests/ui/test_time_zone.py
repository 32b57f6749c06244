"""One time zone choice: the View menu switches every time the window shows, live, labelled,
and the config file keeps it.

The machine's zone is Tokyo in these tests, so local time can never be mistaken for the
exchange's (ES trades on Chicago time, CL on New York's).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction

from ibdesk import config
from ibdesk.config import ConnectionSettings, limits_off
from ibdesk.domain import times
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import format as fmt
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
TICKET = Source("ticket")


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture(autouse=True)
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Tokyo's; the choice is put back as it was after the test."""
    before = fmt.time_zone()
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
    fmt.set_time_zone(before)


def settings_in(path: Path, sim: SimThread, text: str) -> config.Settings:
    """The settings of a config file (``text``), pointed at the simulator."""
    path.write_text(text)
    connection = ConnectionSettings(host="127.0.0.1", port=sim.port, connect_timeout=5.0)
    return dataclasses.replace(config.load(path), connection=connection, risk=limits_off())


def zone_action(window: Any, choice: str) -> QAction:
    """The View menu's entry for ``exchange`` or ``local`` time."""
    found = [a for a in window.findChildren(QAction) if a.data() == f"time_zone:{choice}"]
    assert len(found) == 1, [a.text() for a in window.findChildren(QAction)]
    return found[0]


def row_of(model: Any, key: str) -> int | None:
    return next((r for r, k in enumerate(model.row_keys()) if k == key), None)


def time_cell(model: Any, key: str) -> str:
    col = [c.title for c in model.columns].index("Time")
    row = row_of(model, key)
    return "" if row is None else model.item(row, col).text()


def time_header(model: Any) -> str:
    return model.horizontalHeaderItem([c.title for c in model.columns].index("Time")).text()


async def test_the_view_menu_switches_the_blotter_and_the_config_keeps_it(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    settings = settings_in(path, sim, '# my desk\n[ui]\ntheme = "dark"  # the pit at night\n')
    desk = await make_desk(settings=settings)
    await wait_until(lambda: desk.link.status.state is LinkState.CONNECTED, what="connected")
    es = await desk.resolver.resolve("ES")
    assert es.time_zone == "US/Central"
    sim.control.set_price(es.con_id, 6800.0)
    [working] = desk.place(
        OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, limit_price=6790.0)
    ).refs
    [filled] = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET)).refs
    await wait_until(lambda: desk.orders.get(filled).state is OrderState.FILLED, what="a fill")
    blotter = desk.window.blotter_panel
    [fill] = [f for f in desk.orders.fills.values() if f.ref == filled]
    created = desk.orders.get(working).created

    # The default: exchange time, Chicago's for ES, said in the header and in each cell.
    await wait_until(lambda: time_cell(blotter.working, working), what="the working row")
    await wait_until(lambda: time_cell(blotter.fills, fill.exec_id), what="the fill row")
    assert time_cell(blotter.working, working) == times.time_of_day(
        created, "US/Central", millis=True
    )
    assert time_cell(blotter.working, working).endswith(" CT")
    assert time_cell(blotter.fills, fill.exec_id).endswith(" CT")
    assert time_header(blotter.working) == time_header(blotter.fills) == "Time (exchange)"
    assert zone_action(desk.window, "exchange").isChecked()

    zone_action(desk.window, "local").trigger()
    await wait_until(
        lambda: time_cell(blotter.working, working).endswith(" JST"), what="local time"
    )
    assert time_cell(blotter.working, working) == times.time_of_day(created, "", millis=True)
    blotter.tabs.setCurrentWidget(blotter.fills_view)  # rows off screen are written when seen
    await wait_until(lambda: time_cell(blotter.fills, fill.exec_id).endswith(" JST"), what="fills")
    assert time_header(blotter.working) == time_header(blotter.completed) == "Time (local)"
    assert time_header(blotter.fills) == "Time (local)"
    assert zone_action(desk.window, "local").isChecked()
    assert not zone_action(desk.window, "exchange").isChecked()
    # Saved: the next start shows local time; the file keeps its comments.
    assert config.load(path).ui.time_zone == "local"
    assert "# my desk" in path.read_text() and "# the pit at night" in path.read_text()


async def test_the_config_choice_is_the_windows_at_start(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    settings = settings_in(tmp_path / "config.toml", sim, '[ui]\ntime_zone = "local"\n')
    desk = await make_desk(settings=settings, start=False)
    assert fmt.time_zone() == "local"
    assert time_header(desk.window.blotter_panel.working) == "Time (local)"
    assert zone_action(desk.window, "local").isChecked()


async def test_charts_label_their_times_and_follow_the_choice(make_desk: MakeDesk) -> None:
    desk = await make_desk(risk=limits_off(), charts="ES|1m")
    chart = desk.window.chart_area.charts[0]
    await wait_until(lambda: chart.series is not None and len(chart.series), what="history")
    axis = chart.view.time_axis
    seqs = [float(chart.series.last_seq - 30), float(chart.series.last_seq - 15)]
    assert axis.tickStrings(seqs, 1.0, 900.0)[0].endswith(" CT")
    chart.frame()
    assert " CT " in chart.legend.text()  # the legend's bar time: "Tue 14 Jul 09:31:00 CT"

    zone_action(desk.window, "local").trigger()
    labels = axis.tickStrings(seqs, 1.0, 900.0)
    assert labels[0].endswith(" JST") and not labels[1].endswith("JST")  # said once
    chart.frame()
    assert " JST " in chart.legend.text()


async def test_the_pnl_curve_says_its_times_are_local(make_desk: MakeDesk) -> None:
    """The day's P&L belongs to no instrument: its axis is local time, and says so."""
    desk = await make_desk(start=False)
    caption = desk.window.account_panel.pnl_curve.caption.textItem.toPlainText()
    assert "JST" in caption and "local" in caption
