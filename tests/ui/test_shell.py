"""The desktop shell against the simulated TWS: connect, watchlist, account, positions,
reconnects, fallbacks, notices, layout."""

from __future__ import annotations

import math
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ibdesk.broker import ib as shim
from ibdesk.domain.connection import LinkState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import format as fmt
from ibdesk.ui import theme
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(
        account_update_interval=0.2,
        pnl_interval=0.2,
        positions=(("MES", 2.0),),
    )


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


def market_lines(sim: SimThread, client_id: int = 1) -> int | None:
    """Market-data lines the simulator holds for one client (the desk is client 1; its
    watchdog has a connection of its own)."""
    return next(
        (c["market_lines"] for c in sim.control.clients() if c["client_id"] == client_id), None
    )


def watch_row(desk: Any, display: str) -> int | None:
    model = desk.window.watchlist_model
    for row in range(model.rowCount()):
        if model.data(model.index(row, 0), Qt.ItemDataRole.DisplayRole).startswith(display):
            return row
    return None


async def test_connects_syncs_and_shows_the_account(make_desk: MakeDesk, qtbot: Any) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    assert desk.window.windowTitle() == "ibdesk — DU1234567 — PAPER"
    assert "Connected" in desk.window.status.state.text()
    assert "PAPER" in desk.window.status.mode.text()
    model = desk.window.account_model
    await wait_until(lambda: model.row("net_liquidation")[1] > 0, what="net liquidation")
    await wait_until(lambda: not math.isnan(model.row("daily_pnl")[1]), what="daily P&L")
    assert model.data(model.index(0, 1), Qt.ItemDataRole.DisplayRole) != fmt.DASH


async def test_typing_a_symbol_adds_live_quotes(
    make_desk: MakeDesk, qtbot: Any, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    panel = desk.window.watchlist_panel
    qtbot.keyClicks(panel.entry, "mnq")  # lower case on purpose; not in the default list
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    front = sim.control.instrument("MNQ").local_symbol
    await wait_until(lambda: watch_row(desk, front) is not None, what="MNQ front-month row")
    row = watch_row(desk, front)
    model = desk.window.watchlist_model
    bid = model.index(row, 1)
    await wait_until(lambda: model.data(bid, Qt.ItemDataRole.DisplayRole) != fmt.DASH, what="a bid")
    flushes = model.flushes
    await wait_until(lambda: model.flushes > flushes + 2, what="coalesced updates")
    assert "Added" in panel.message.text() and "expiring" in panel.message.text()
    assert panel.entry.text() == ""


async def test_unknown_symbol_says_why_and_adds_nothing(make_desk: MakeDesk, qtbot: Any) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    rows = desk.window.watchlist_model.rowCount()
    panel = desk.window.watchlist_panel
    for text, expected in (("ZZZZ", "no such stock"), ("!!", "not a symbol")):
        panel.entry.setText(text)
        qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda e=expected: e in panel.message.text(), what=expected)
        assert desk.window.watchlist_model.rowCount() == rows
        assert panel.entry.text() == text  # kept, so the trader can fix it


async def test_positions_follow_another_clients_fill(make_desk: MakeDesk, sim: SimThread) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    model = desk.window.positions_model
    await wait_until(lambda: model.rowCount() == 1, what="the seeded MES position")
    other = shim.IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=7)
    try:
        [aapl] = await shim.qualify(other, shim.Stock("AAPL", "SMART", "USD"))
        other.placeOrder(aapl, shim.MarketOrder("BUY", 300))
        await wait_until(lambda: model.rowCount() == 2, what="the new AAPL position")
        keys = [k for k in model.row_keys() if k[1] == aapl.conId]
        assert model.row(keys[0]).qty == 300
        await wait_until(
            lambda: not math.isnan(model.row(keys[0]).daily_pnl), what="live daily P&L"
        )
    finally:
        other.disconnect()


async def test_1101_leads_to_resubscription(make_desk: MakeDesk, sim: SimThread) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    lines = len(desk.market_data.wanted)
    sim.control.inject_error(1101)
    await wait_until(
        lambda: any("1101" in t for t in desk.window.banners.texts()), what="a 1101 banner"
    )
    await wait_until(lambda: market_lines(sim) == lines, what="resubscribed")


async def test_1100_and_1102_banners(make_desk: MakeDesk, sim: SimThread) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    sim.control.inject_error(1100)
    await wait_until(
        lambda: any("lost its connection" in t for t in desk.window.banners.texts()),
        what="1100 banner",
    )
    sim.control.inject_error(1102)
    await wait_until(
        lambda: any("data was kept" in t for t in desk.window.banners.texts()),
        what="1102 replaces it",
    )
    assert not any("lost its connection" in t for t in desk.window.banners.texts())


async def test_refused_connection_explains_the_api_setting(make_desk: MakeDesk) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    desk = await make_desk(port=free_port)
    await wait_until(
        lambda: any("Enable ActiveX and Socket Clients" in t for t in desk.window.banners.texts()),
        what="refused banner",
    )
    assert desk.link.status.state in (LinkState.RECONNECTING, LinkState.CONNECTING)


async def test_layout_is_restored(make_desk: MakeDesk) -> None:
    first = await make_desk(start=False, state_name="layout.ini")
    first.window.dock("positions").hide()
    first.window.set_theme("light")
    first.window.close()
    second = await make_desk(start=False, state_name="layout.ini")
    assert second.window.dock("positions").isHidden()
    assert not second.window.dock("watchlist").isHidden()
    second.window.set_theme("dark")


async def test_models_pass_the_model_tester(make_desk: MakeDesk, qtmodeltester: Any) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: desk.window.watchlist_model.rowCount() >= 3, what="rows")
    for model in (
        desk.window.watchlist_model,
        desk.window.positions_model,
        desk.window.account_model,
    ):
        qtmodeltester.check(model)


async def test_about_names_every_version(make_desk: MakeDesk) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    box = desk.window.show_about()
    text = box.text()
    for part in ("ibdesk", "Qt", shim.LIBRARY, "176"):
        assert part in text
    box.close()


async def test_local_symbols_and_forex_can_be_typed(
    make_desk: MakeDesk, qtbot: Any, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    desk.remove_symbol(sim.control.instrument("EUR.USD").con_id)
    panel = desk.window.watchlist_panel
    deferred = sim.control.chain("NQ")[1]  # not the front month: typed by local symbol
    for text, shown in ((deferred, deferred), ("eur.usd", "EUR.USD")):
        panel.entry.setText(text)
        qtbot.keyClick(panel.entry, Qt.Key.Key_Return)
        await wait_until(lambda s=shown: watch_row(desk, s) is not None, what=shown)


async def test_delete_removes_the_selected_row(
    make_desk: MakeDesk, qtbot: Any, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(
        lambda: not desk.tasks and watch_row(desk, "AAPL") is not None, what="initial watchlist"
    )
    panel = desk.window.watchlist_panel
    view = panel.view
    proxy_row = next(
        r
        for r in range(view.model().rowCount())
        if view.model().index(r, 0).data().startswith("AAPL")
    )
    view.selectRow(proxy_row)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    await wait_until(lambda: watch_row(desk, "AAPL") is None, what="AAPL removed")
    aapl = sim.control.instrument("AAPL").con_id
    assert aapl not in desk.market_data.wanted
    await wait_until(
        lambda: market_lines(sim) == len(desk.market_data.wanted),
        what="its market-data line cancelled at the broker",
    )
    assert "AAPL" not in desk.window.state.value("watchlist/symbols")


async def test_rows_go_stale_when_the_feed_stops(
    make_desk: MakeDesk, sim: SimThread, settings_for: Any
) -> None:
    import dataclasses

    settings = settings_for()
    settings = dataclasses.replace(settings, ui=dataclasses.replace(settings.ui, stale_after=0.5))
    desk = await make_desk(settings=settings)
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    model = desk.window.watchlist_model
    key = model.row_keys()[0]
    await wait_until(lambda: model.background(key) is None, what="a fresh row")
    sim.control.pause_market()
    await wait_until(lambda: model.background(key) == "stale", timeout=3, what="stale")
    model.sync()
    assert model.item(0, 1).background().color() == theme.current().color("stale")
    sim.control.resume_market()
    await wait_until(lambda: model.background(key) is None, what="fresh again")


async def test_competing_session_is_explained_in_a_banner(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    sim.control.inject_error(10197)
    await wait_until(
        lambda: any("another session" in t for t in desk.window.banners.texts()),
        what="10197 banner",
    )


async def test_numbers_sort_as_numbers(make_desk: MakeDesk, qtbot: Any) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    view = desk.window.watchlist_panel.view
    await wait_until(
        lambda: all(
            desk.window.watchlist_model.sort_value(r, 3) is not None
            for r in range(desk.window.watchlist_model.rowCount())
        ),
        what="every last price",
    )
    view.sortByColumn(3, Qt.SortOrder.AscendingOrder)
    proxy = view.model()
    lasts = [
        desk.window.watchlist_model.sort_value(proxy.mapToSource(proxy.index(r, 0)).row(), 3)
        for r in range(proxy.rowCount())
    ]
    assert lasts == sorted(lasts)
    assert lasts[0] < 10 < lasts[-1]  # EUR.USD (1.16) before the index futures, not as text


async def test_an_unhandled_exception_becomes_a_log_record_and_a_dialog(
    make_desk: MakeDesk, expected_faults: Any
) -> None:
    import sys

    from ibdesk.ui.errors import ErrorReporter

    expected_faults.allow_errors("ibdesk.errors")
    desk = await make_desk(start=False)
    reporter = ErrorReporter(desk.window)
    reporter.install()
    try:
        try:
            raise RuntimeError("a bug in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        assert reporter.dialog is not None and reporter.dialog.isVisible()
        assert "a bug in a slot" in reporter.dialog.text()
    finally:
        reporter.uninstall()
        if reporter.dialog is not None:
            reporter.dialog.close()
