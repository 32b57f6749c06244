"""Fixtures for end-to-end tests: a simulated TWS on its own thread, real client connections.

These tests use only ``ibdesk.simtws`` and the installed client library (through the one
shim module), so CI runs them unchanged with ib_async and with ib_insync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimThread
from tests.helpers import Connect, wait_until

from .rawclient import Bystander, RawClient

__all__ = ["Connect", "front_future", "wait_until"]


@pytest_asyncio.fixture
async def ib(connect: Connect) -> Any:
    """One connected client with client id 1."""
    return await connect(client_id=1)


async def front_future(ib: Any, symbol: str = "ES") -> Any:
    """The front-month future of a root, qualified."""
    [contract] = await shim.qualify(ib, shim.ContFuture(symbol, exchange=""))
    assert contract is not None
    fut = shim.Future(conId=contract.conId)
    [qualified] = await shim.qualify(ib, fut)
    return qualified


@pytest_asyncio.fixture
async def bystander(connect: Connect) -> Bystander:
    """Client id 1 with a streaming ES ticker."""
    ib = await connect(client_id=1)
    contract = await front_future(ib)
    watcher = Bystander(ib, contract)
    ib.pendingTickersEvent += watcher.on_tickers
    ib.reqMktData(contract)
    await wait_until(lambda: watcher.updates >= 2, what="the first ticks")
    return watcher


@pytest.fixture
def raw(sim: SimThread) -> Iterator[Callable[..., RawClient]]:
    """A factory of raw clients (``raw()``, ``raw(rcvbuf=4096)``), all closed afterwards."""
    made: list[RawClient] = []

    def make(**options: Any) -> RawClient:
        client = RawClient(sim.port, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
