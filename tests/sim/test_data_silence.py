"""The data-silence and desync watchdog of the broker session (issue 12, finding 7): a dead
stream is noticed, said in red, dropped and reconnected; a quiet or briefly frozen one is
left alone."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ibdesk.broker.session import BrokerSession
from ibdesk.config import ConnectionSettings
from ibdesk.domain.connection import LinkState, Notice, Severity
from ibdesk.domain.notices import DATA_SILENCE
from ibdesk.simtws import SimThread
from ibdesk.state.link import LinkStore
from tests.helpers import wait_until

pytestmark = pytest.mark.sim

SILENCE_AFTER = 0.5
ANSWER_WITHIN = 0.5


class Watched:
    """A session against the simulator, and every notice it posted."""

    def __init__(self, session: BrokerSession, link: LinkStore) -> None:
        self.session = session
        self.link = link
        self.notices: list[Notice] = []
        link.notice += self.notices.append
        self.connects = 0
        session.connected += self._count

    def _count(self) -> None:
        self.connects += 1

    def connected(self) -> bool:
        return self.link.status.state is LinkState.CONNECTED

    def red(self) -> list[Notice]:
        return [n for n in self.notices if n.key == DATA_SILENCE and n.severity is Severity.ERROR]


@pytest.fixture
async def watched(sim: SimThread) -> AsyncIterator[Callable[..., Any]]:
    made: list[BrokerSession] = []

    async def make(**fields: Any) -> Watched:
        settings = ConnectionSettings(
            port=sim.port,
            client_id=1,
            connect_timeout=3.0,
            silence_after=SILENCE_AFTER,
            answer_within=ANSWER_WITHIN,
        )
        settings = dataclasses.replace(settings, **fields)
        link = LinkStore()
        session = BrokerSession(settings, link)
        made.append(session)
        w = Watched(session, link)
        session.start()
        await wait_until(w.connected, what="connected")
        return w

    yield make
    for session in made:
        await session.stop()


async def test_a_stalled_stream_is_noticed_shown_red_and_reconnected(
    watched: Callable[..., Any], sim: SimThread
) -> None:
    w = await watched()
    started = time.monotonic()
    sim.control.stall(3000)
    await wait_until(w.red, timeout=5, what="a red notice")
    detected = time.monotonic() - started
    [notice] = w.red()
    assert notice.text.startswith("No data from TWS for ")
    # Silence (0.5 s), then no answer (0.5 s), then the grace: about 1.1 s, never the 3 s stall.
    assert detected < 2.5, f"noticed after {detected:.1f} s"
    assert w.link.status.state is not LinkState.CONNECTED
    assert not w.link.farms and w.link.rtt_ms is None  # grey while the link is down
    await wait_until(w.connected, timeout=10, what="reconnected after the stall")
    assert w.connects == 2
    back = w.link.notices[DATA_SILENCE]
    assert back.severity is Severity.WARNING and "reconnected" in back.text


async def test_a_garbled_stream_is_dropped_at_once_and_reconnected(
    watched: Callable[..., Any], sim: SimThread
) -> None:
    w = await watched(silence_after=60.0)  # the garble alone must be enough
    sim.control.corrupt_frames(1, mode="length")
    started = time.monotonic()
    probe = asyncio.ensure_future(w.session.ib.reqCurrentTimeAsync())  # its answer is garbled
    await wait_until(w.red, timeout=3, what="a red notice")
    assert time.monotonic() - started < 1.0
    assert "garbled" in w.red()[0].text and "2,147,483,647" in w.red()[0].text
    await wait_until(w.connected, timeout=10, what="reconnected")
    assert w.connects == 2
    probe.cancel()


async def test_a_quiet_stream_that_answers_is_left_alone(watched: Callable[..., Any]) -> None:
    w = await watched()
    await asyncio.sleep(4 * (SILENCE_AFTER + ANSWER_WITHIN))  # nothing subscribed: silence
    assert w.connected() and w.connects == 1
    assert not w.red()
    assert w.link.rtt_ms is not None and w.link.rtt_ms < 1000


async def test_a_frozen_loop_is_not_a_dead_stream(watched: Callable[..., Any]) -> None:
    w = await watched()
    await asyncio.sleep(SILENCE_AFTER + 0.1)  # a probe is on its way
    time.sleep(2 * (SILENCE_AFTER + ANSWER_WITHIN))  # the desk's loop frozen (the scenario)
    await asyncio.sleep(1.0)
    assert w.connected() and w.connects == 1
    assert not w.red()
