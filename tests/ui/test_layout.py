"""The window fits the screen: minimum widths that add up, key columns in view, the saved
geometry clamped to the screen, a window that does not grow by itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QTableView

from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState, Notice, Severity
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui.main_window import fit_to_screen
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

FOUR = "ES|1m;NQ|1m;CL|1m;GC|1m"


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(positions=(("MES", 2.0),))


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


def widths(view: QTableView) -> str:
    """The columns' widths against the viewport's (for a failure's message)."""
    header = view.horizontalHeader()
    model = view.model()
    cols = ", ".join(
        f"{model.headerData(c, Qt.Orientation.Horizontal)} {header.sectionSize(c)}"
        for c in range(header.count())
    )
    return f"viewport {view.viewport().width()}: {cols}"


def column_in_view(view: QTableView, title: str) -> bool:
    """The column's whole rectangle lies inside the table's viewport."""
    model = view.model()
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    col = titles.index(title)
    header = view.horizontalHeader()
    left = header.sectionViewportPosition(col)
    return (
        view.isVisible()
        and not header.isSectionHidden(col)
        and left >= 0
        and left + header.sectionSize(col) <= view.viewport().width()
    )


async def settle(turns: int = 5) -> None:
    """Let the layout apply the sizes: a few turns of the loop, which handles Qt's posted
    events too (never processEvents() inside a task: qasync would run other callbacks
    re-entrantly, and a task's wake-up can be lost)."""
    for _ in range(turns):
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("charts", ["ES|1m;NQ|1m", FOUR])
async def test_the_window_fits_1366_with_two_and_four_charts(
    make_desk: MakeDesk, qapp: Any, charts: str
) -> None:
    desk = await make_desk(charts=charts)
    await wait_until(lambda: connected(desk), what="connected")
    window = desk.window
    await wait_until(
        lambda: all(c.instrument is not None for c in window.chart_area.charts), what="charts"
    )
    await settle()
    assert window.minimumSizeHint().width() <= 1366
    assert window.minimumSizeHint().height() <= 740
    window.resize(1366, 768)
    window.reset_layout()  # the layout a first start on a 1366 x 768 screen gets
    await settle()
    assert (window.width(), window.height()) == (1366, 768)
    # Long texts arrive (a banner, a ticket status, a kill report): the window stays put.
    window.banners.show_notice(
        Notice("test", Severity.WARNING, "Market data farm is broken: usfarm " * 6, 2103, 0.0)
    )
    window.ticket_panel.outcome.setText("Rejected by the broker: " + "margin too low " * 12)
    desk.kill("a long reason " * 10)
    await wait_until(lambda: desk.switch.last_report is not None, what="kill report")
    await settle()
    assert window.minimumSizeHint().width() <= 1366
    assert (window.width(), window.height()) == (1366, 768)


async def test_key_columns_are_in_view_at_1920(make_desk: MakeDesk, sim: SimThread) -> None:
    desk = await make_desk(risk=limits_off(), charts="ES|1m")
    await wait_until(lambda: connected(desk), what="connected")
    window = desk.window
    window.resize(1920, 1080)  # a first start on a 1920 x 1080 screen
    window.reset_layout()
    es = await desk.resolver.resolve("ES")
    intent = OrderIntent(
        es, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), limit_price=es.min_tick * 4
    )
    [ref] = desk.place(intent).refs
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.WORKING, what="working")
    await wait_until(lambda: window.positions_model.rowCount() > 0, what="a position")
    await wait_until(lambda: window.watchlist_model.rowCount() > 3, what="watchlist rows")
    await wait_until(lambda: window.account_model.rowCount() > 3, what="account rows")
    await settle(20)
    watch = window.watchlist_panel.view
    for title in ("Symbol", "Bid", "Ask", "Last", "Chg", "Chg %", "Vol", "Age"):
        assert column_in_view(watch, title), f"watchlist {title}; {widths(watch)}"
    positions = window.positions_panel.view
    for title in ("Symbol", "Qty", "Mkt Price", "Mkt Value", "Unrealized P&L", "Stops"):
        assert column_in_view(positions, title), f"positions {title}; {widths(positions)}"
    window.docks["orders"].raise_()
    await settle()
    orders = window.blotter_panel.working_view
    for title in ("Symbol", "Side", "Qty", "Limit", "Stop", "State", "Source"):
        assert column_in_view(orders, title), f"orders {title}; {widths(orders)}"
    account = window.account_panel.view
    assert account.isVisible()
    assert account.verticalScrollBar().maximum() == 0, "the account figures need a scrollbar"


def test_a_saved_geometry_larger_than_the_screen_is_clamped() -> None:
    screen = QRect(0, 0, 1366, 728)
    assert fit_to_screen(QRect(-40, 10, 1986, 1100), screen) == QRect(0, 0, 1366, 728)
    assert fit_to_screen(QRect(1500, 900, 800, 600), screen) == QRect(566, 128, 800, 600)
    assert fit_to_screen(QRect(100, 50, 800, 600), screen) == QRect(100, 50, 800, 600)
    screen2 = QRect(1920, 0, 1920, 1080)  # a second monitor to the right
    assert fit_to_screen(QRect(2000, 40, 1000, 700), screen2) == QRect(2000, 40, 1000, 700)
