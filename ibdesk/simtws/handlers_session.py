"""Request handlers for the connection itself: startApi, time, accounts, ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.registry import handles
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer


@handles(71)
def start_api(server: SimServer, s: ClientSession, req: Request) -> None:
    """startApi: ``71, 2, clientId, optionalCapabilities``."""
    req.need(3)
    if s.started:
        raise RequestError("startApi sent twice")
    server.start_api(s, req.integer(2))


@handles(49)
def req_current_time(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqCurrentTime (the round-trip probe)."""
    s.send(out.current_time(server.clock()))


@handles(17)
def req_managed_accts(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqManagedAccts."""
    s.send(out.managed_accounts(list(server.config.accounts)))


@handles(8)
def req_ids(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqIds, answered with nextValidId."""
    assert s.client_id is not None
    s.send(out.next_valid_id(server.next_valid_id(s.client_id)))


@handles(59)
def req_market_data_type(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMarketDataType: remembered; the simulator always has live data to give."""
    kind = req.integer(2, 1)
    if kind not in (1, 2, 3, 4):
        raise RequestError(f"market data type {kind} is not 1..4")
    s.market_data_type = kind
