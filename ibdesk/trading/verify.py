"""When a kill may say "verified": the broker's book stays empty, and nothing new turns up.

One empty answer to reqAllOpenOrders proves little while another client is still placing
orders: seen once, a kill caught the book empty between two of a runaway client's orders,
printed "0 working orders ..., verified" and exited 0 with 56 orders working. So a kill is
verified only when nothing is working **and** no order the kill had not seen before has
appeared for a settle window. Orders that appear after the global cancel are counted by
client, so the report can name who kept placing them, and they ask for the cancel again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ibdesk.domain.risk import OpenOrderLine

WORKING_STATUSES = frozenset(
    {"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"}
)
SETTLE = 0.5
""" seconds of an empty book with no new order before a kill counts as verified: two polls
of the kill's verification, long enough to see a client placing orders several times a
second, short enough not to hold up a trader reading the result """


def _key(line: OpenOrderLine) -> tuple[int, int, int]:
    return (line.perm_id, line.client_id, line.order_id)


class QuietBook:
    """Follows the broker's answers during a kill's verification.

    Args:
        known: the orders the kill knew of when its cancel went out (they are not "new").
        started: when the cancel went out (the caller's clock, in seconds).
        settle: seconds the book must stay empty with nothing new.
    """

    def __init__(
        self, known: Iterable[OpenOrderLine], started: float, settle: float = SETTLE
    ) -> None:
        self.known = {_key(line) for line in known}
        self.settle = settle
        self.working: list[OpenOrderLine] = []
        self.late: Counter[int] = Counter()
        """ client id -> orders it placed after the global cancel """
        self._last_change = started
        self._new_since_cancel = False

    def observe(self, lines: Sequence[OpenOrderLine], now: float) -> None:
        """One answer from the broker (every open order of the account, every client)."""
        self.working = [o for o in lines if o.status in WORKING_STATUSES]
        for line in lines:
            key = _key(line)
            if key not in self.known:
                self.known.add(key)
                self.late[line.client_id] += 1
                self._new_since_cancel = True
                self._last_change = now
        if self.working:
            self._last_change = now

    def take_cancel_request(self) -> bool:
        """Whether orders turned up after the last cancel, so it must go out again (asked
        once per batch: the answer resets it)."""
        again, self._new_since_cancel = self._new_since_cancel, False
        return again

    def quiet(self, now: float) -> bool:
        """Nothing working, and nothing new for the settle window."""
        return not self.working and now - self._last_change >= self.settle

    def notes(self) -> tuple[str, ...]:
        """Who kept placing orders after the global cancel, in words."""
        return tuple(
            f"client {client} placed {count} order{'s' * (count != 1)} after the global cancel"
            for client, count in sorted(self.late.items())
        )
