"""Connection truth (issue 14): a connection that worked and dropped says it is reconnecting,
with the reconnect loop's own attempt number and delay, and never gives first-time setup
advice; the farm lights and the round trip go grey while it is down, and say why."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from ibdesk.broker.session import Backoff
from ibdesk.domain.connection import LinkState, Notice
from ibdesk.domain.notices import API_SETTINGS_HINT
from ibdesk.simtws import SimThread
from ibdesk.ui import theme
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

RECONNECTING = re.compile(r"Reconnecting to TWS \(attempt (\d+), next in ([\d.]+) s\)")


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


def lights_green(desk: Any) -> bool:
    """Every farm light green and a round trip in ms, as the status bar shows them."""
    bar = desk.window.status
    ok = theme.current().ok
    return bar.farms.text().count(ok) == 3 and re.search(r"rtt \d+ ms", bar.rtt.text()) is not None


def lights_grey(desk: Any) -> bool:
    """No farm light in a health colour, no round trip figure, and both say why."""
    bar = desk.window.status
    t = theme.current()
    farms, rtt = bar.farms.text(), bar.rtt.text()
    return (
        farms.count(t.dim) == 3
        and t.ok not in farms
        and t.error not in farms
        and "ms" not in rtt
        and "disconnected" in bar.farms.toolTip().lower()
        and "disconnected" in bar.rtt.toolTip().lower()
    )


async def test_a_dropped_connection_never_shows_the_setup_advice(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: lights_green(desk), what="green farm lights and a round trip")
    posted: list[Notice] = []
    desk.link.notice += posted.append
    greys: list[bool] = []

    def down_and_grey() -> bool:
        # Sampled on every poll while the link is down: the lights must never be green then.
        if desk.link.status.state is not LinkState.CONNECTED:
            greys.append(lights_grey(desk))
        return desk.link.status.state is LinkState.RECONNECTING

    sim.control.restart(down_seconds=2.5)
    await wait_until(down_and_grey, what="reconnecting")
    await wait_until(
        lambda: (
            down_and_grey() and any(RECONNECTING.search(t) for t in desk.window.banners.texts())
        ),
        what="a reconnecting banner",
    )
    await wait_until(
        lambda: down_and_grey() is False and connected(desk), timeout=10, what="reconnected"
    )
    assert greys and all(greys), "a farm light or the round trip stayed lit while down"
    await wait_until(lambda: lights_green(desk), what="the lights back once TWS says so")

    texts = [n.text for n in posted]
    assert not [t for t in texts if API_SETTINGS_HINT in t or "Is TWS" in t], texts
    shown = [RECONNECTING.search(t) for t in texts]
    steps = [(int(m[1]), float(m[2])) for m in shown if m]
    assert len(steps) >= 2, texts
    # The reconnect loop's own figures: attempts counted from 1, delays its backoff's.
    backoff = Backoff()
    assert steps == [(n, backoff.take()) for n in range(1, len(steps) + 1)], steps
    assert not any(RECONNECTING.search(t) for t in desk.window.banners.texts()), "banner stayed"


async def test_a_start_with_nothing_listening_gets_the_setup_advice(make_desk: MakeDesk) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    desk = await make_desk(port=free_port)
    await wait_until(
        lambda: any(API_SETTINGS_HINT in t for t in desk.window.banners.texts()),
        what="the setup advice",
    )
    assert not any(RECONNECTING.search(t) for t in desk.window.banners.texts())
    assert lights_grey(desk)
