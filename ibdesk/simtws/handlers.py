"""The dispatch table: request message id -> handler.

Importing the handler modules registers their handlers in :data:`registry.HANDLERS`.
"""

from __future__ import annotations

from ibdesk.simtws import (  # noqa: F401  (imported for their registrations)
    handlers_account,
    handlers_contracts,
    handlers_history,
    handlers_market,
    handlers_news,
    handlers_reference,
    handlers_refusals,
    handlers_scanner,
    handlers_session,
    handlers_ticks,
    handlers_trading,
)
from ibdesk.simtws.registry import HANDLERS, Handler

__all__ = ["HANDLERS", "Handler"]
