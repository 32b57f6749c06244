"""The connection of the desk without its window: restarts, client id fallback."""

from __future__ import annotations

import logging

import pytest

from ibdesk.broker import ib as shim
from ibdesk.domain.connection import LinkState
from ibdesk.simtws import SimConfig, SimThread
from tests.conftest import ExpectedFaults
from tests.desk.kit import connected
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(account_update_interval=0.2, pnl_interval=0.2, positions=(("MES", 2.0),))


def market_lines(sim: SimThread, client_id: int = 1) -> int | None:
    """Market-data lines the simulator holds for one client (the desk is client 1; its
    watchdog has a connection of its own)."""
    return next(
        (c["market_lines"] for c in sim.control.clients() if c["client_id"] == client_id), None
    )


async def test_restart_reconnects_and_resubscribes_within_5_s(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: not desk.tasks, what="initial watchlist")
    lines = len(desk.market_data.wanted)
    assert lines >= 5
    sim.control.restart(down_seconds=1.5)
    await wait_until(lambda: desk.link.status.state is LinkState.RECONNECTING, what="reconnecting")
    await wait_until(lambda: not sim.control.status()["restarting"], what="port reopened")
    await wait_until(lambda: connected(desk), timeout=5.0, what="reconnected within 5 s")
    await wait_until(
        lambda: market_lines(sim) == lines,
        timeout=5.0,
        what="every subscription back",
    )


async def test_client_id_in_use_falls_back_to_the_next(make_desk: MakeDesk, sim: SimThread) -> None:
    squatter = shim.IB()
    await squatter.connectAsync("127.0.0.1", sim.port, clientId=1)
    try:
        desk = await make_desk(client_id=1)
        await wait_until(lambda: connected(desk), timeout=8, what="connected on another id")
        assert desk.session.client_id == 2
        assert any(c["client_id"] == 2 for c in sim.control.clients())
    finally:
        squatter.disconnect()


async def test_a_reconcile_that_fails_is_logged_when_it_fails(
    make_desk: MakeDesk, caplog: pytest.LogCaptureFixture, expected_faults: ExpectedFaults
) -> None:
    """The reconcile at connect runs as a background task: its failure must reach the log
    at once, naming what failed, not vanish with the task (issue 13: one task helper)."""
    expected_faults.allow_errors("ibdesk.broker.orders")
    desk = await make_desk(start=False)

    async def broken() -> dict[str, int]:
        raise RuntimeError("the journal is on a full disk")

    desk.router.reconcile = broken  # type: ignore[method-assign]
    desk.start()

    def reported() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name.startswith("ibdesk.") and "the journal is on a full disk" in r.getMessage()
        ]

    await wait_until(reported, what="the reconcile's failure in ibdesk's log")
    assert reported()[0].levelname == "ERROR"
    assert "order router: reconcile failed" in reported()[0].getMessage()
