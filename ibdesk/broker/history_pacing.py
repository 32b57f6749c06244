"""IB's historical-data pacing, kept on our side so that IB never has to refuse a request.

IB's rules ("Historical Data Limitations"; FIELD_NOTES.md §1): no identical request within
15 s; fewer than six requests for one contract within 2 s; at most 60 requests in any 10
minutes. A violation is error 162 and, repeated, a disconnect. IB enforces the first two for
bars of 30 s or less only; keeping them for every bar size costs a chart nothing, so this
pacer does. Each limit has a little margin: IB's clock and ours are not the same.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable

IDENTICAL_GAP = 15.5
PER_CONTRACT = 5
CONTRACT_WINDOW = 2.5
PER_WINDOW = 60
WINDOW = 601.0


class HistoryPacer:
    """Says how long a historical request must wait, and books it when it goes.

    Args:
        clock: monotonic seconds (a test passes its own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.sent: deque[tuple[float, Hashable, int]] = deque()
        """ (time, request key, conId) of every request of the last window, oldest first """

    def delay(self, key: Hashable, con_id: int) -> float:
        """Seconds until a request with ``key`` for ``con_id`` may go (0: now)."""
        now = self.clock()
        while self.sent and now - self.sent[0][0] >= WINDOW:
            self.sent.popleft()
        wait = 0.0
        if len(self.sent) >= PER_WINDOW:
            wait = self.sent[-PER_WINDOW][0] + WINDOW - now
        same = [t for t, k, _ in self.sent if k == key]
        if same:
            wait = max(wait, same[-1] + IDENTICAL_GAP - now)
        mine = [t for t, _, c in self.sent if c == con_id and now - t < CONTRACT_WINDOW]
        if len(mine) >= PER_CONTRACT:
            wait = max(wait, mine[-PER_CONTRACT] + CONTRACT_WINDOW - now)
        return max(0.0, wait)

    def book(self, key: Hashable, con_id: int) -> None:
        """A request goes now."""
        self.sent.append((self.clock(), key, con_id))

    async def wait(self, key: Hashable, con_id: int) -> None:
        """Sleep until the request may go, then book it."""
        while (pause := self.delay(key, con_id)) > 0:
            await asyncio.sleep(pause)
        self.book(key, con_id)
