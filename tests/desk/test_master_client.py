"""The desk finds out whether TWS treats it as its Master API client, against the simulator.

Another API client (an ``ibdesk run`` on a server, here a plain client with id 7) trades a
strategy; the desk (client 1) sees its orders only when it is the master, and says once, in
plain words, how to make it so when it is not.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.broker.master import NOTICE_KEY
from ibdesk.domain.connection import MasterClient, Notice
from ibdesk.domain.orders import OrderState
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import Connect, quick_sim, wait_until

from .conftest import MakeDesk
from .kit import connected

pytestmark = pytest.mark.sim

RUNNER = 7
REF = "strategy:sma_cross#7.1"


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    master = getattr(request, "param", 1)
    return quick_sim(master_client_id=master)


async def watching_desk(make_desk: MakeDesk, posted: list[Notice] | None = None) -> Any:
    """A desk that watches other clients (as the desktop's does); ``posted`` collects the
    master client notices it posts from the start."""
    desk = await make_desk(start=False)
    desk.watch_other_clients()
    if posted is not None:
        desk.link.notice += lambda n: posted.append(n) if n.key == NOTICE_KEY else None
    desk.start()
    await wait_until(lambda: connected(desk), timeout=15, what="connected")
    return desk


async def runner_order(connect: Connect, sim: SimThread) -> Any:
    """The runner's working buy, far under the market, under its strategy's orderRef."""
    runner = await connect(client_id=RUNNER)
    [es] = await shim.qualify(runner, shim.ContFuture("ES", exchange=""))
    es = shim.Future(conId=es.conId, exchange="CME")
    sim.control.set_price(es.conId, 6800.0)
    trade = runner.placeOrder(es, shim.LimitOrder("BUY", 1, 6700.0, orderRef=REF))
    await wait_until(lambda: trade.orderStatus.status == "Submitted", what="the runner's order")
    return trade


def first_look_done(desk: Any) -> bool:
    task = desk.master._checking
    return task is not None and task.done()


async def test_the_master_desk_sees_the_runners_order_and_says_nothing(
    make_desk: MakeDesk, connect: Connect, sim: SimThread
) -> None:
    await runner_order(connect, sim)
    desk = await watching_desk(make_desk)
    await wait_until(lambda: desk.master.status is MasterClient.MASTER, what="found master")
    snap = desk.orders.get(REF)
    assert snap is not None and snap.state is OrderState.WORKING and snap.client_id == RUNNER
    assert NOTICE_KEY not in desk.link.notices


async def test_unknown_until_another_clients_order_turns_up(
    make_desk: MakeDesk, connect: Connect, sim: SimThread
) -> None:
    desk = await watching_desk(make_desk)
    await wait_until(lambda: first_look_done(desk), what="the first look")
    assert desk.master.status is MasterClient.UNKNOWN  # nobody else has an order open
    await runner_order(connect, sim)
    await wait_until(lambda: desk.master.status is MasterClient.MASTER, what="found master")
    assert NOTICE_KEY not in desk.link.notices


@pytest.mark.parametrize("sim_config", [None], indirect=True)
async def test_a_desk_that_is_not_the_master_says_how_once(
    make_desk: MakeDesk, connect: Connect, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ibdesk.broker.master")
    await runner_order(connect, sim)
    posted: list[Notice] = []
    desk = await watching_desk(make_desk, posted)
    await wait_until(lambda: desk.master.status is MasterClient.NOT_MASTER, what="not master")
    notice = desk.link.notices[NOTICE_KEY]
    assert '"Master API client ID" to 1' in notice.text
    assert "Global Configuration > API > Settings" in notice.text
    # The runner's order, listed once by reqAllOpenOrders, is not shown as working: its
    # updates will never come.
    snap = desk.orders.get(REF)
    assert snap is not None and snap.state is OrderState.GONE
    assert "not the Master API client" in snap.reason
    # Another look (a reconnect's) finds the same, and does not say it again.
    await desk.router.reconcile()
    assert await desk.master.look() is MasterClient.NOT_MASTER
    assert desk.orders.get(REF).state is OrderState.GONE
    said = [r for r in caplog.records if "Master API client ID" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert len(posted) == 1
