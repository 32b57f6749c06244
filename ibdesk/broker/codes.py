"""Every code TWS sends, logged once by ibdesk at the level it deserves.

The client libraries log each code themselves, at levels a trader cannot use: ib_async logs
the 202 that follows every cancel ibdesk sends ("Order Canceled") at ERROR, and both log the
farm notices that say all is well as warnings. So ``ibdesk.logs`` keeps the library's own
lines about codes out of the log file and the panel, and this module says each code again,
at :func:`ibdesk.domain.notices.code_severity`'s level: a 202 is INFO when ibdesk sent that
cancel and a WARNING when it did not (the TWS screen, another client's global cancel, the
broker). Whether ibdesk sent it is the order router's knowledge: it answers
:attr:`CodeLog.cancel_asked`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ibdesk.domain.connection import Severity
from ibdesk.domain.notices import CANCELLED, code_severity

log = logging.getLogger("ibdesk.broker.codes")

LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING}


def _never(_order_id: int) -> bool:
    return False


class CodeLog:
    """Logs the codes a session receives.

    ``cancel_asked(order_id)`` says whether ibdesk asked to cancel that order (the router
    sets it; a session without one treats every 202 as unasked).
    """

    def __init__(self) -> None:
        self.cancel_asked: Callable[[int], bool] = _never

    def record(self, req_id: int, code: int, text: str) -> None:
        """Log one code (``text`` already bounded by the caller)."""
        asked = code == CANCELLED and req_id > 0 and self.cancel_asked(req_id)
        level = LEVELS.get(code_severity(code, asked), logging.ERROR)
        where = f" (id {req_id})" if req_id > 0 else ""
        note = ""
        if code == CANCELLED:
            note = (
                " [a cancel asked for on this connection]"
                if asked
                else " [not asked for on this connection: the TWS screen, another API client "
                "(ibdesk kill, the watchdog) or IB]"
            )
        # One flood kind per code and request: a hostile stream of one is summarised (and
        # at most ten kinds per window pass: ibdesk.logs.FloodGuard), distinct orders are not.
        key = f"{code} {req_id}" if req_id > 0 else str(code)
        log.log(level, "TWS %d%s: %s%s", code, where, text, note, extra={"flood_key": key})
