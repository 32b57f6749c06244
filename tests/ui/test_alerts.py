"""Alerts in the running desk: a fill at the simulated broker reaches a push service on
127.0.0.1 once, a hanging push service delays no order, and the window routes alerts to the
desktop and to sounds (played by a recording stand-in for the platform's player), with the
test dialog behind File > Send a test alert."""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ibdesk.config import AlertSettings, Settings, limits_off
from ibdesk.domain.alerts import Alert, AlertKind
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimThread
from tests.fake_push import PushServer, push_server
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
TICKET = Source("ticket")

RECORDER = """import pathlib, sys
with open(sys.argv[1], "a") as out:
    out.write(pathlib.Path(sys.argv[2]).stem + "\\n")
"""


def sound_recorder(tmp_path: Path) -> tuple[str, Path]:
    """A ``sound_player`` command that appends the name of each sound it is given to a
    file, and that file."""
    script, record = tmp_path / "player.py", tmp_path / "played.txt"
    script.write_text(RECORDER)
    command = " ".join(shlex.quote(p) for p in (sys.executable, str(script), str(record)))
    return command, record


def played(record: Path) -> list[str]:
    return record.read_text().split() if record.exists() else []


async def alert_desk(
    make_desk: MakeDesk,
    settings_for: Callable[..., Settings],
    sim: SimThread,
    tmp_path: Path,
    server: PushServer,
    **alerts: Any,
) -> tuple[Any, Any]:
    """A connected desk whose push URL points at ``server`` (from a private config file), and
    the ES front month at 6800."""
    path = tmp_path / "config.toml"
    path.write_text("")
    path.chmod(0o600)
    settings = dataclasses.replace(
        settings_for(risk=limits_off()),
        alerts=AlertSettings(push=(server.url(),), **alerts),
        path=path,
    )
    desk = await make_desk(settings=settings)
    await wait_until(
        lambda: desk.link.status.state is LinkState.CONNECTED, timeout=15, what="connected"
    )
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    return desk, es


def order(inst: Any, kind: OrderType = OrderType.MARKET, qty: float = 1, **kw: Any) -> OrderIntent:
    return OrderIntent(inst, Side.BUY, qty, kind, TICKET, **kw)


async def settled(desk: Any, server: PushServer, count: int) -> None:
    push = desk.alerts.push
    await wait_until(lambda: len(server.received) >= count, timeout=15, what=f"{count} pushes")
    desk.alerts.hub.flush()
    await wait_until(lambda: push.idle, timeout=15, what="push idle")


async def test_a_fill_at_the_broker_reaches_the_phone_once_and_rings_nothing(
    make_desk: MakeDesk,
    settings_for: Callable[..., Settings],
    sim: SimThread,
    tmp_path: Path,
) -> None:
    player, record = sound_recorder(tmp_path)
    with push_server() as server:
        desk, es = await alert_desk(
            make_desk, settings_for, sim, tmp_path, server, group_seconds=0.5, sound_player=player
        )
        [ref] = desk.place(order(es)).refs
        await wait_until(lambda: desk.orders.get(ref).state is OrderState.FILLED, what="filled")
        await settled(desk, server, 1)
        assert len(server.received) == 1
        [title] = server.titles()
        price = desk.orders.get(ref).avg_fill_price  # the market moves in this simulator
        assert title.startswith("Filled BUY 1 ES") and f"@ {price:,.2f}" in title
        status = desk.window.statusBar().currentMessage()
        assert status.startswith("Alert: Filled BUY 1 ES")  # offscreen has no tray
        # A reject is routed to the sound as well: only its sound plays.
        [big] = desk.place(order(es, OrderType.LIMIT, 501, limit_price=6790.0)).refs
        await wait_until(lambda: desk.orders.get(big).state is OrderState.REJECTED, what="reject")
        await settled(desk, server, 2)
        assert server.titles()[1].startswith("Rejected BUY 501 ES")
        assert "Size Limit" in server.received[1]["message"]
        await wait_until(lambda: played(record), timeout=10, what="a sound")
        assert played(record) == ["reject"]
        # The push URL is a secret: the journal, which saw both orders, never saw it.
        journal = b"".join(
            p.read_bytes() for p in desk.journal_path.parent.glob(desk.journal_path.name + "*")
        )
        assert b"ibdesk-secret-path" not in journal
        assert desk.orders.get(big).ref.encode() in journal  # (it is the journal)


async def test_a_hanging_push_service_delays_no_order(
    make_desk: MakeDesk,
    settings_for: Callable[..., Settings],
    sim: SimThread,
    tmp_path: Path,
) -> None:
    """The push thread is stuck in a request the service never answers; meanwhile the gate
    accepts orders as fast as ever, they fill at the broker (each fill an alert for the stuck
    push), and the loop keeps its beat."""
    with push_server(hang=True) as server:
        desk, es = await alert_desk(
            make_desk, settings_for, sim, tmp_path, server, group_seconds=0.2, push_timeout=8.0
        )
        [ref] = desk.place(order(es)).refs
        await wait_until(lambda: desk.orders.get(ref).state is OrderState.FILLED, what="filled")
        await wait_until(lambda: server.waiting == 1, timeout=10, what="the push held")
        push = desk.alerts.push
        assert push.busy_since is not None
        lags: list[float] = []
        stop = asyncio.Event()

        async def beat() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - t0 - 0.005)

        beating = asyncio.ensure_future(beat())
        submits, refs = [], []
        for i in range(20):
            t0 = time.perf_counter()
            side = Side.SELL if i % 2 else Side.BUY
            decision = desk.place(OrderIntent(es, side, 1, OrderType.MARKET, TICKET))
            submits.append(time.perf_counter() - t0)
            assert decision.accepted, decision.reason
            refs += decision.refs
            await asyncio.sleep(0.05)  # past the push window: each fill is a push of its own
        await wait_until(
            lambda: all(desk.orders.get(r).state is OrderState.FILLED for r in refs),
            timeout=10,
            what="the orders filled at the broker",
        )
        desk.alerts.hub.flush()
        stop.set()
        await beating
        assert push.busy_since is not None and server.waiting == 1  # still hanging throughout
        assert max(submits) < 0.05, max(submits)
        assert max(lags) < 0.25, max(lags)


async def test_the_window_routes_alerts_to_the_desktop_and_the_sounds(
    make_desk: MakeDesk,
    settings_for: Callable[..., Settings],
    sim: SimThread,
    tmp_path: Path,
) -> None:
    """Fills show but make no sound (the default); a halt shows and plays its own sound; a
    kind routed to nothing shows nothing."""
    player, record = sound_recorder(tmp_path)
    with push_server() as server:
        desk, _ = await alert_desk(
            make_desk,
            settings_for,
            sim,
            tmp_path,
            server,
            sound_player=player,
            routes={"partial_fill": []},
        )
        hub, bar = desk.alerts.hub, desk.window.statusBar()
        hub.post(Alert(AlertKind.FILL, "Filled BUY 1 ESZ6 @ 6,800.25", time=time.time()))
        hub.flush()
        assert bar.currentMessage() == "Alert: Filled BUY 1 ESZ6 @ 6,800.25"
        # A push still in flight when the next alert comes merges the two (by design); wait
        # for the fill's so that the two titles below are two messages.
        await wait_until(lambda: len(server.received) >= 1, timeout=15, what="the fill's push")
        hub.post(Alert(AlertKind.HALT, "Trading HALTED by test", "why", time.time()))
        hub.flush()
        assert bar.currentMessage() == "Alert: Trading HALTED by test"
        hub.post(Alert(AlertKind.PARTIAL_FILL, "Partial fill", time=time.time()))
        hub.flush()
        assert bar.currentMessage() == "Alert: Trading HALTED by test"
        await wait_until(lambda: played(record), timeout=10, what="the halt sound")
        sounds = desk.window.alerts_ui.sound.player
        await wait_until(lambda: sounds.playing == 0, what="the player done")
        assert played(record) == ["halt"]
        await settled(desk, server, 2)
        assert server.titles() == ["Filled BUY 1 ESZ6 @ 6,800.25", "Trading HALTED by test"]


async def test_the_test_alert_dialog_reaches_every_channel(
    make_desk: MakeDesk,
    settings_for: Callable[..., Settings],
    sim: SimThread,
    tmp_path: Path,
    qtbot: QtBot,
) -> None:
    player, record = sound_recorder(tmp_path)
    with push_server() as server:
        desk, _ = await alert_desk(
            make_desk, settings_for, sim, tmp_path, server, sound_player=player
        )
        desk.window.test_alert_action.trigger()
        dialog = desk.window.alerts_ui.dialog
        assert dialog is not None and dialog.isVisible()
        assert "push 1 (json)" in dialog.push_result.text()
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        assert "status bar" in dialog.desktop_result.text()
        assert dialog.sound_result.text().startswith("played the fill sound with python")
        await wait_until(lambda: "sent" in dialog.push_result.text(), timeout=15, what="sent")
        assert "push 1 (json): sent" in dialog.push_result.text()
        assert server.titles() == ["Test alert from ibdesk"]
        await wait_until(lambda: played(record) == ["fill"], timeout=10, what="the sound")
        dialog.close()
