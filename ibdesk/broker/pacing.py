"""One message budget for everything ibdesk sends, with a priority lane for cancels.

IB accepts at most 50 messages a second from a client (then error 100, then a disconnect).
Both client libraries throttle every message through one queue at 45/s, so a cancel waits
behind whatever is queued (150 orders: about 3 s; FIELD_NOTES.md §2), and the queue is
dropped without a word when the socket breaks. ibdesk turns the library's throttle off and
sends through this pacer instead:

* ordinary messages use at most ``normal_rate`` slots per second;
* cancels and global cancels (the priority lane) go before anything queued and may use the
  headroom up to ``total_rate``, so they never wait behind ordinary traffic;
* on a disconnect the queue is handed back, so every order in it can be marked "not sent";
* ``hold_orders`` keeps every placeOrder from the wire until a kill purges them;
* ``order_guard`` is asked before any queued or new placeOrder can be written, and a False
  sets ``hold_orders``: the desk answers False when its own heartbeat shows that its loop has
  just woken from a stall past the watchdog's threshold (the watchdog process has fired or is
  firing), so nothing a frozen loop queued goes out before the desk adopts the halt.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("ibdesk.broker.pacing")

PRIORITY_MESSAGE_IDS = frozenset({"4", "58"})  # cancelOrder, reqGlobalCancel
PLACE_ORDER = "3"
_LEN = struct.Struct(">I")


def message_id(msg: str) -> str:
    """The message id of an outgoing message (its first field)."""
    return msg.split("\0", 1)[0]


def order_id_of(msg: str) -> int:
    """The order id of a placeOrder message (0 for other messages)."""
    parts = msg.split("\0", 2)
    if parts[0] != PLACE_ORDER or len(parts) < 2:
        return 0
    try:
        return int(parts[1])
    except ValueError:
        return 0


class Pacer:
    """Sends library messages within IB's budget; install() hooks it into a client."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        is_open: Callable[[], bool],
        normal_rate: int = 40,
        total_rate: int = 48,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < normal_rate <= total_rate:
            raise ValueError("need 0 < normal_rate <= total_rate")
        self._write = write
        self._is_open = is_open
        self.normal_rate = normal_rate
        self.total_rate = total_rate
        self.window = window
        self.clock = clock
        self.normal: deque[str] = deque()
        self.priority: deque[str] = deque()
        self.sent_times: deque[float] = deque()
        self.on_sent: list[Callable[[str, float], None]] = []
        """ called with (message, monotonic send time) for every message written """
        self.sent_total = 0
        self.hold_orders = False
        self.order_guard: Callable[[], bool] | None = None
        """ asked before placeOrder messages may be written; False: hold them (above) """
        self.held: list[str] = []
        """ placeOrder messages kept back while ``hold_orders`` is set """
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def install(cls, client: object, **kwargs: object) -> Pacer:
        """Route every message a library Client sends through a new pacer."""
        conn = client.conn  # type: ignore[attr-defined]

        def write(frame: bytes) -> None:
            conn.sendMsg(frame)

        def is_open() -> bool:
            return bool(client.isConnected())  # type: ignore[attr-defined]

        pacer = cls(write, is_open, **kwargs)  # type: ignore[arg-type]
        client.MaxRequests = 0  # type: ignore[attr-defined]  # the library must not throttle too
        client.sendMsg = pacer.submit  # type: ignore[attr-defined]
        return pacer

    # ---- the two lanes ----------------------------------------------------------------------

    def submit(self, msg: str | None) -> None:
        """Send a message now if the budget allows, else queue it in its lane."""
        if not msg:
            return
        kind = message_id(msg)
        if kind in PRIORITY_MESSAGE_IDS:
            self.priority.append(msg)
        elif kind == PLACE_ORDER and self.hold_orders:
            self.held.append(msg)
        else:
            self.normal.append(msg)
        self._drain()

    def _drain(self) -> None:
        if not self._is_open():
            return
        if self.normal and not self.hold_orders and not self._orders_may_go():
            self.hold_orders = True
        if self.hold_orders:
            self._hold_queued_orders()
        now = self.clock()
        times = self.sent_times
        while times and now - times[0] >= self.window:
            times.popleft()
        while self.priority and len(times) < self.total_rate:
            self._send(self.priority.popleft(), now)
        while self.normal and not self.priority and len(times) < self.normal_rate:
            self._send(self.normal.popleft(), now)
        if (self.normal or self.priority) and self._timer is None and times:
            delay = max(0.0, times[0] + self.window - now)
            self._timer = asyncio.get_running_loop().call_later(delay, self._wake)

    def _orders_may_go(self) -> bool:
        guard = self.order_guard
        return guard is None or guard()

    def _hold_queued_orders(self) -> None:
        kept: deque[str] = deque()
        for msg in self.normal:
            (self.held if message_id(msg) == PLACE_ORDER else kept).append(msg)
        self.normal = kept

    def _wake(self) -> None:
        self._timer = None
        self._drain()

    def _send(self, msg: str, now: float) -> None:
        data = msg.encode()
        self._write(_LEN.pack(len(data)) + data)
        self.sent_times.append(now)
        self.sent_total += 1
        for hook in self.on_sent:
            hook(msg, now)

    # ---- taking messages back ---------------------------------------------------------------

    def withdraw(self, order_ids: set[int] | None = None) -> set[int]:
        """Take queued placeOrder messages out (all when ``order_ids`` is None).

        Returns the order ids withdrawn: those orders never reach the wire.
        """
        taken: set[int] = set()

        def keep(msg: str) -> bool:
            oid = order_id_of(msg)
            if oid and (order_ids is None or oid in order_ids):
                taken.add(oid)
                return False
            return True

        self.normal = deque(m for m in self.normal if keep(m))
        self.held = [m for m in self.held if keep(m)]
        return taken

    def purge(self) -> list[str]:
        """Drop every queued ordinary message and every held order (a kill: nothing queued
        may go out after it), and lift the hold: the kill has decided their fate."""
        dropped = self.held + list(self.normal)
        self.held = []
        self.normal.clear()
        self.hold_orders = False
        return dropped

    def reset(self) -> list[str]:
        """The connection dropped: hand back everything queued, start afresh."""
        dropped = list(self.priority) + self.held + list(self.normal)
        self.held = []
        self.priority.clear()
        self.normal.clear()
        self.sent_times.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if dropped:
            log.warning("connection lost with %d messages still queued", len(dropped))
        return dropped

    @property
    def queued(self) -> int:
        """Messages waiting in both lanes."""
        return len(self.normal) + len(self.priority) + len(self.held)

    def rate(self) -> float:
        """Messages sent in the last window, per second."""
        now = self.clock()
        return sum(1 for t in self.sent_times if now - t < self.window) / self.window
