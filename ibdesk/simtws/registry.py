"""The request registry: which handler answers which request message id, and the helpers
every handler module shares (contract resolution, IB's refusal texts).

Handler modules register themselves with :func:`handles` when imported;
:mod:`ibdesk.simtws.handlers` imports them all and is the one table the server reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.catalog import ContractQuery, Instrument
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

Handler = Callable[["SimServer", ClientSession, Request], None]

#: request message id -> handler
HANDLERS: dict[int, Handler] = {}

NO_DEFINITION = "No security definition has been found for the request"
AMBIGUOUS = "The contract description specified is ambiguous"


def handles(msg_id: int) -> Callable[[Handler], Handler]:
    """Register a handler for one request message id (one handler per id)."""

    def register(fn: Handler) -> Handler:
        if msg_id in HANDLERS:
            raise RuntimeError(f"message id {msg_id} already has a handler")
        HANDLERS[msg_id] = fn
        return fn

    return register


def resolve(
    server: SimServer, s: ClientSession, req_id: int, q: ContractQuery
) -> Instrument | None:
    """The one instrument a request names, or error 200 (none, or ambiguous)."""
    found = server.catalog.lookup(q)
    if len(found) == 1:
        return found[0]
    s.send(out.error(req_id, 200, AMBIGUOUS if found else NO_DEFINITION, s.version))
    return None
