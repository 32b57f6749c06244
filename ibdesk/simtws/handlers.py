"""The dispatch table: request message id -> handler."""

from __future__ import annotations

from ibdesk.simtws.handlers_data import DATA_HANDLERS, Handler
from ibdesk.simtws.handlers_trading import TRADING_HANDLERS

HANDLERS: dict[int, Handler] = {**DATA_HANDLERS, **TRADING_HANDLERS}
