"""TWS's Master API client, as real clients see it over the socket.

TWS sends one API client's orders and fills to another only when that other is the Master
API client (Global Configuration > API > Settings > "Master API client ID"); everyone may list
every open order with reqAllOpenOrders, and IB's documentation says that only the master
receives the commission reports of other clients' executions.
"""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until

pytestmark = pytest.mark.sim

TRADER, MASTER, BYSTANDER = 7, 3, 4


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(master_client_id=MASTER)


def _order(answer: Any) -> Any:
    """An open-orders answer's order (ib_async answers with trades, ib_insync with orders)."""
    return getattr(answer, "order", answer)


def _theirs(ib: Any, perm_id: int) -> list[Any]:
    return [t for t in ib.trades() if t.order.permId == perm_id]


async def test_only_the_master_hears_of_another_clients_orders_and_fills(
    connect: Connect, sim: SimThread
) -> None:
    master = await connect(client_id=MASTER)
    bystander = await connect(client_id=BYSTANDER)
    trader = await connect(client_id=TRADER)
    es = await front_future(trader)
    sim.control.set_price(es.conId, 6800.0)
    resting = trader.placeOrder(es, shim.LimitOrder("BUY", 1, 6700.0, orderRef="strategy:x#7.1"))
    await wait_until(lambda: resting.orderStatus.status == "Submitted", what="resting order")
    filled = trader.placeOrder(es, shim.MarketOrder("BUY", 1, orderRef="strategy:x#7.2"))
    await wait_until(lambda: filled.orderStatus.status == "Filled", what="the fill")
    await wait_until(
        lambda: (
            _theirs(master, filled.order.permId)
            and _theirs(master, filled.order.permId)[0].orderStatus.status == "Filled"
        ),
        what="the master hears of the fill live",
    )
    [seen] = _theirs(master, resting.order.permId)
    assert seen.order.clientId == TRADER and seen.order.orderRef == "strategy:x#7.1"
    await wait_until(
        lambda: any(f.commissionReport.commission > 0 for f in master.fills()),
        what="the master's commission report of the trader's fill",
    )
    await bystander.reqCurrentTimeAsync()  # barrier: anything sent to it has arrived
    assert bystander.trades() == [] and bystander.fills() == []

    # reqOpenOrders: the master's answer holds the trader's order, the bystander's does not.
    assert [_order(o).permId for o in await master.reqOpenOrdersAsync()] == [resting.order.permId]
    assert await bystander.reqOpenOrdersAsync() == []
    everyone = await bystander.reqAllOpenOrdersAsync()
    assert [_order(t).clientId for t in everyone] == [TRADER]

    # The executions are listed to anyone who asks; their commissions only to the master.
    listed = await bystander.reqExecutionsAsync()
    assert [f.execution.clientId for f in listed] == [TRADER]
    await bystander.reqCurrentTimeAsync()
    assert [f.commissionReport.execId for f in bystander.fills()] == [""]
    assert [f.execution.clientId for f in await master.reqExecutionsAsync()] == [TRADER]
