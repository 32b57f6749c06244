"""Fixtures for end-to-end tests: a simulated TWS on its own thread, real client connections.

These tests use only ``ibdesk.simtws`` and the installed client library (through the one
shim module), so CI runs them unchanged with ib_async and with ib_insync.
"""

from __future__ import annotations

from typing import Any

import pytest_asyncio

from ibdesk.broker import ib as shim
from tests.helpers import Connect, wait_until

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
