"""``ibdesk replay``: a session recorded by the real desk against the simulator replays into the
window with the same blotter rows and last prices at the same times; replay mode sends nothing
(every order refused, no socket opened); a cut tape plays up to the cut and says so."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt

from ibdesk.config import Settings
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.replay.player import MAX
from ibdesk.replay.tape import TapeReader, tapes_in
from ibdesk.replaying import CHECK, Replay, build_replay
from ibdesk.simtws import SimThread
from ibdesk.ui.main_window import MainWindow
from tests.helpers import wait_until

pytestmark = pytest.mark.ui

TICKET = Source("ticket")


def texts(model: Any) -> list[list[str]]:
    """Every row's text as its cells show it once in view (a table writes only the rows its
    view shows, and the blotter's tabs are behind one another)."""
    model.flush()  # the orders' tables take their new rows here
    # Sorted: rows that arrive in one flush are appended in no set order (live as in a
    # replay); a trader orders them by a column.
    return sorted([col.text(model.row(key)) for col in model.columns] for key in model.row_keys())


def column(model: Any, title: str) -> int:
    across = Qt.Orientation.Horizontal
    return next(
        c for c in range(model.columnCount()) if model.headerData(c, across).startswith(title)
    )


def screen(window: MainWindow) -> dict[str, Any]:
    """What the trader sees of the blotter and the watchlist's last prices."""
    blotter = window.blotter_panel
    watch = window.watchlist_model
    last, age = column(watch, "Last"), watch.AGE_COLUMN
    rows = texts(watch)
    return {
        "working": texts(blotter.working),
        "completed": texts(blotter.completed),
        "fills": texts(blotter.fills),
        "last": {row[0]: row[last] for row in rows},
        # The quotes' age, on the desk's clock: the tape's time in a replay.
        "age": {row[0]: row[age] for row in rows},
    }


class Sockets:
    """Every connect attempted in this process while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[Any] = []
        real = socket.socket.connect

        def connect(sock: socket.socket, address: Any) -> Any:
            self.attempts.append(address)
            return real(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        loop_connect = asyncio.BaseEventLoop.create_connection

        async def create_connection(loop: Any, *args: Any, **kw: Any) -> Any:
            self.attempts.append(args[1:3])
            return await loop_connect(loop, *args, **kw)

        monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", create_connection)


def replay_window(tmp_path: Path, name: str = "replay.ini") -> MainWindow:
    state = tmp_path / name
    QSettings(str(state), QSettings.Format.IniFormat).setValue("charts/list", "")
    window = MainWindow(state)
    window.show()
    return window


async def close_replay(replay: Replay) -> None:
    replay.bar.close_player()
    await replay.desk.close()
    replay.reader.close()
    replay.desk.window.close()
    replay.desk.window.deleteLater()


async def record_a_session(make_desk: Any, sim: SimThread, tmp_path: Path) -> tuple[Path, list]:
    """A demo session on the simulator with checkpoints of what the window showed."""
    desk = await make_desk()
    await wait_until(lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15)
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    await wait_until(lambda: len(desk.watchlist.items) >= 3, timeout=15, what="the watchlist")
    await wait_until(
        lambda: all(desk.quotes.get(i.con_id) for i in desk.watchlist.items[:3]), what="quotes"
    )
    checkpoints = [(desk.clock(), screen(desk.window))]
    working = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, limit_price=6700))
    filled = desk.place(OrderIntent(es, Side.BUY, 2, OrderType.MARKET, TICKET))
    assert working.accepted and filled.accepted
    await wait_until(
        lambda: (
            desk.orders.get(filled.refs[0]).state is OrderState.FILLED
            and desk.orders.get(working.refs[0]).state is OrderState.WORKING
        ),
        what="one order working, one filled",
    )
    await asyncio.sleep(0.3)  # the quotes move on: the next checkpoint has other prices
    checkpoints.append((desk.clock(), screen(desk.window)))
    desk.cancel_order(working.refs[0])
    await wait_until(
        lambda: desk.orders.get(working.refs[0]).state is OrderState.CANCELLED, what="cancelled"
    )
    checkpoints.append((desk.clock(), screen(desk.window)))
    await desk.close()
    (tape,) = tapes_in(tmp_path / "tapes")
    return tape, checkpoints


async def test_a_recorded_session_replays_with_the_same_blotter_rows_and_last_prices(
    make_desk: Any, sim: SimThread, tmp_path: Path, settings_for: Any
) -> None:
    tape, checkpoints = await record_a_session(make_desk, sim, tmp_path)
    assert checkpoints[1][1]["fills"] and checkpoints[2][1]["completed"]
    replay = build_replay(replay_window(tmp_path), settings_for(), tape, tmp_path / "rj.sqlite")
    try:
        await asyncio.sleep(1.5)  # a replay later than the session: ages must not grow
        window = replay.desk.window
        for when, shown in checkpoints:
            replay.player.advance_to(when)
            assert screen(window) == shown
        assert replay.reader.problem is None
    finally:
        await close_replay(replay)


async def test_replay_mode_refuses_every_order_and_opens_no_socket(
    make_desk: Any, sim: SimThread, tmp_path: Path, settings_for: Any, monkeypatch: Any
) -> None:
    tape, _ = await record_a_session(make_desk, sim, tmp_path)
    sockets = Sockets(monkeypatch)
    replay = build_replay(replay_window(tmp_path), settings_for(), tape, tmp_path / "rj.sqlite")
    desk = replay.desk
    try:
        replay.player.set_speed(MAX)
        replay.player.play()
        await wait_until(lambda: replay.player.finished, what="the tape played")
        es = next(i for i in desk.watchlist.items if i.symbol == "ES")
        intent = OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET)
        refused = [
            desk.place(intent),
            desk.judge(intent),
            desk.cancel_all(),
            desk.cancel_order(next(iter(desk.orders.orders))),
            desk.modify_order(next(iter(desk.orders.orders)), qty=3),
        ]
        assert all(not d.accepted and d.check == CHECK and "REPLAY" in d.reason for d in refused)
        # The gate behind it refuses too, whoever reaches it (a strategy).
        assert not desk.gate.submit(intent).accepted
        report = await desk.kill("test")
        assert not report.verified and "REPLAY" in report.problems[0]
        with pytest.raises(RuntimeError, match="REPLAY"):
            desk.start()
        desk.reconnect(desk.settings.connection)
        await asyncio.sleep(0.2)
        assert not desk.session.ib.isConnected()
        assert sockets.attempts == []
        assert desk.window.windowTitle().count("REPLAY")
        assert replay.bar.banner.isVisible() and replay.bar.banner.text().strip() == "REPLAY"
    finally:
        await close_replay(replay)


async def test_replay_offers_no_send_and_says_why(
    make_desk: Any, sim: SimThread, tmp_path: Path, settings_for: Any
) -> None:
    """The ticket and the Quick strip do not look live in a replay: their sends are off,
    with the reason, before anything is pressed."""
    tape, _ = await record_a_session(make_desk, sim, tmp_path)
    replay = build_replay(replay_window(tmp_path), settings_for(), tape, tmp_path / "rj.sqlite")
    window = replay.desk.window
    try:
        replay.player.set_speed(MAX)
        replay.player.play()
        await wait_until(lambda: replay.player.finished, what="the tape played")
        for button in (window.quick_ticket.buy, window.quick_ticket.sell):
            assert not button.isEnabled() and "REPLAY" in button.toolTip()
        ticket = window.ticket_panel
        assert await ticket.set_symbol("ES") is not None
        await wait_until(ticket.entry.text, what="the entry at the tape's bid")
        assert not ticket.submit_button.isEnabled()
        assert ticket.gate_verdict.isVisibleTo(ticket) and "REPLAY" in ticket.gate_verdict.text()
    finally:
        await close_replay(replay)


async def test_the_transport_steps_jumps_and_plays_on_the_tape_clock(
    make_desk: Any, sim: SimThread, tmp_path: Path, settings_for: Any
) -> None:
    tape, checkpoints = await record_a_session(make_desk, sim, tmp_path)
    replay = build_replay(replay_window(tmp_path), settings_for(), tape, tmp_path / "rj.sqlite")
    bar, player = replay.bar, replay.player
    try:
        start = player.clock()
        bar.step()
        assert player.applied == 1 and not player.playing
        bar.jump_to(checkpoints[1][0])
        assert player.clock() == checkpoints[1][0]
        # The watchlist ages its quotes on the tape's clock: none is stale at the checkpoint.
        watch = replay.desk.window.watchlist_model
        assert all(watch.background(k) != "stale" for k in watch.row_keys())
        bar.set_speed(MAX)
        bar.toggle()
        await wait_until(lambda: player.finished, what="the end")
        assert player.clock() > start
        assert "End of the tape" in bar.message.text()
    finally:
        await close_replay(replay)


async def test_a_cut_tape_replays_up_to_the_cut_and_says_so(
    qapp: Any, tmp_path: Path, settings_for: Any
) -> None:
    from tests.unit.test_tape import a_session, record

    _, tape = record(tmp_path, a_session)
    # The recording cut before its close: the last commit is what the file holds.
    import sqlite3

    with sqlite3.connect(tape) as db:
        db.execute("DELETE FROM meta WHERE key = 'closed'")
    replay = build_replay(replay_window(tmp_path), settings_for(), tape, tmp_path / "rj.sqlite")
    try:
        assert "cut" in replay.bar.message.text()
        replay.player.set_speed(MAX)
        replay.player.play()
        await wait_until(lambda: replay.player.finished, what="the end")
        text = replay.bar.message.text()
        assert "cut" in text and "Replayed up to" in text
        assert TapeReader(tape).info().events == replay.player.applied
    finally:
        await close_replay(replay)


def test_settings_of_a_replay_never_connect_nor_alert() -> None:
    from ibdesk.replaying import replay_settings

    s = replay_settings(dataclasses.replace(Settings()))
    assert s.connection.read_only and not s.connection.auto_connect
    assert not s.record.enabled and s.alerts.push == ()


async def test_a_jump_back_opens_the_replay_again_at_that_time(
    make_desk: Any, sim: SimThread, tmp_path: Path, settings_for: Any
) -> None:
    from ibdesk.replaying import ReplaySession

    tape, checkpoints = await record_a_session(make_desk, sim, tmp_path)
    state = tmp_path / "replay.ini"
    QSettings(str(state), QSettings.Format.IniFormat).setValue("charts/list", "")
    session = ReplaySession(settings_for(), tape, tmp_path, state)
    try:
        first = session.open(None, play=False)
        first.player.advance_to(checkpoints[2][0])
        assert screen(first.desk.window) == checkpoints[2][1]
        first.bar.jump_to(checkpoints[1][0])
        await wait_until(lambda: session.replay is not first and not session.reopening)
        again = session.replay
        assert again is not None and not again.player.playing
        assert again.player.clock() == checkpoints[1][0]
        assert screen(again.desk.window) == checkpoints[1][1]
        assert first.desk.closed  # the first window went with its desk
    finally:
        await session.close()


def test_the_demo_records_a_tape_that_ibdesk_replay_shows(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import private_env

    def ibdesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ibdesk", *args],
            env=private_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    demo = ibdesk("--demo", "--screenshot", str(tmp_path / "demo.png"), "--exit-after", "4")
    assert demo.returncode == 0, demo.stderr[-2000:]
    (tape,) = tapes_in(tmp_path / "ibdesk" / "demo" / "tapes")
    info = TapeReader(tape).info()
    assert info.closed and info.events > 10
    shot = tmp_path / "replay.png"
    shown = ibdesk(
        "replay", str(tape), "--speed", "0", "--screenshot", str(shot), "--exit-after", "3"
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shot.stat().st_size > 10_000
