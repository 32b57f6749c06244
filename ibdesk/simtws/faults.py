"""Fault injection on the outgoing byte stream: stalls, latency with jitter, sliced frames,
corrupted frames, and order reports (orderStatus, execDetails) sent twice or late.

Connection-level faults (drop every client, restart, error codes) live on the server; this
module only bends the bytes (and, for the order reports, picks frames by their message id),
so every message type is covered the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibdesk.simtws.session import ClientSession

log = logging.getLogger("ibdesk.simtws.faults")

#: The order reports the duplicate and late faults pick: orderStatus (3) and execDetails (11).
ORDER_REPORTS = (b"3\0", b"11\0")


def is_order_report(frame: bytes) -> bool:
    """Whether one framed message is an orderStatus or an execDetails."""
    return frame[4:7].startswith(ORDER_REPORTS)


@dataclass(slots=True)
class _Lane:
    """Bytes held back for one session, in order."""

    chunks: deque[bytes] = field(default_factory=deque)
    draining: bool = False
    size: int = 0


@dataclass(slots=True)
class Faults:
    """What is being done to outgoing bytes right now.

    Attributes:
        stall_until: monotonic time until which nothing is sent (held in order).
        slice_bytes: when > 0, frames go out in pieces of this size, a millisecond apart.
        corrupt_fields: number of coming frames whose first field is replaced by garbage
            (the frame stays well-formed; the client's decoder must reject the message).
        corrupt_length: number of coming frames whose length prefix is made huge (the
            stream is broken from there on, as with a bad network device).
        latency_ms, jitter_ms: every frame waits ``latency_ms`` plus up to ``jitter_ms``
            (uniform, from ``rng``) before it goes; frames keep their order, as on TCP.
        duplicate_reports: number of coming orderStatus/execDetails frames sent twice in a
            row (IB repeats both; a client must not count a fill twice).
        late_reports: number of coming orderStatus/execDetails frames held ``late_ms`` while
            later frames pass them (an execution reported after the status that says
            Filled, a stale Submitted after a Cancelled).
    """

    loop: asyncio.AbstractEventLoop
    stall_until: float = 0.0
    slice_bytes: int = 0
    corrupt_fields: int = 0
    corrupt_length: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate_reports: int = 0
    late_reports: int = 0
    late_ms: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: per session (the object, never its ``id()``: a new session may get a freed one's)
    lanes: dict[ClientSession, _Lane] = field(default_factory=dict)
    #: per session: frames waiting out their latency, (when due, bytes), oldest first
    _delayed: dict[ClientSession, deque[tuple[float, bytes]]] = field(default_factory=dict)

    def stall(self, ms: float) -> None:
        """Hold every outgoing byte for ``ms`` milliseconds."""
        self.stall_until = max(self.stall_until, time.monotonic() + ms / 1000)

    def clear(self) -> None:
        """Stop every fault (held bytes still go out, in order)."""
        self.stall_until = 0.0
        self.slice_bytes = self.corrupt_fields = self.corrupt_length = 0
        self.latency_ms = self.jitter_ms = self.late_ms = 0.0
        self.duplicate_reports = self.late_reports = 0

    def write(self, session: ClientSession, data: bytes) -> None:
        """Send ``data`` (one frame) to ``session`` through the current faults."""
        if self.corrupt_fields or self.corrupt_length:
            data = self._corrupt(data)
        if (self.duplicate_reports or self.late_reports) and is_order_report(data):
            if self.late_reports:
                self.late_reports -= 1
                self.loop.call_later(self.late_ms / 1000, self._late, session, data)
                return
            self.duplicate_reports -= 1
            self._timed(session, data)
        self._timed(session, data)

    def _timed(self, session: ClientSession, data: bytes) -> None:
        """Latency and jitter: the frame leaves after its delay, never before the one ahead
        (one queue per session: timers due at the same moment may run in any order)."""
        queue = self._delayed.get(session)
        if not (self.latency_ms or self.jitter_ms or queue):
            self._pass(session, data)
            return
        if queue is None:
            queue = self._delayed[session] = deque()
        delay = (self.latency_ms + self.rng.uniform(0, self.jitter_ms)) / 1000
        due = max(queue[-1][0] if queue else 0.0, self.loop.time() + delay)
        queue.append((due, data))
        if len(queue) == 1:
            self.loop.call_at(due, self._release, session, queue)

    def _release(self, session: ClientSession, queue: deque[tuple[float, bytes]]) -> None:
        """Pass on every delayed frame that is due, in order; wait for the next one."""
        now = self.loop.time()
        while queue and queue[0][0] <= now:
            data = queue.popleft()[1]
            if not session.closed:
                self._pass(session, data)
        if queue:
            self.loop.call_at(queue[0][0], self._release, session, queue)
        elif self._delayed.get(session) is queue:
            del self._delayed[session]

    def _late(self, session: ClientSession, data: bytes) -> None:
        if not session.closed:
            self._pass(session, data)

    def _pass(self, session: ClientSession, data: bytes) -> None:
        """Stalls and slicing, then the socket."""
        lane = self.lanes.get(session)
        held = lane is not None and (lane.chunks or lane.draining)
        if not held and not self.slice_bytes and time.monotonic() >= self.stall_until:
            session.raw_write(data)
            return
        if lane is None:
            lane = self.lanes[session] = _Lane()
        step = self.slice_bytes
        if step:
            lane.chunks.extend(data[i : i + step] for i in range(0, len(data), step))
        else:
            lane.chunks.append(data)
        lane.size += len(data)
        if not lane.draining:
            lane.draining = True
            self._schedule(session, lane)
        # Held bytes are queued for the client too: they count against its cap.
        session.check_queue()

    def held(self, session: ClientSession) -> int:
        """Bytes held back for a session."""
        lane = self.lanes.get(session)
        delayed = sum(len(d) for _, d in self._delayed.get(session, ()))
        return (lane.size if lane is not None else 0) + delayed

    def forget(self, session: ClientSession) -> None:
        """Drop what was held for a closed session."""
        self.lanes.pop(session, None)
        self._delayed.pop(session, None)

    def _schedule(self, session: ClientSession, lane: _Lane) -> None:
        wait = max(0.0, self.stall_until - time.monotonic())
        self.loop.call_later(
            wait if wait else (0.001 if self.slice_bytes else 0.0), self._drain, session, lane
        )

    def _drain(self, session: ClientSession, lane: _Lane) -> None:
        if session.closed:
            self.forget(session)
            return
        if time.monotonic() < self.stall_until:
            self._schedule(session, lane)
            return
        if self.slice_bytes:
            chunk = lane.chunks.popleft()
        else:
            chunk = b"".join(lane.chunks)
            lane.chunks.clear()
        lane.size -= len(chunk)
        session.raw_write(chunk)
        if lane.chunks:
            self._schedule(session, lane)
        else:
            lane.draining = False

    def _corrupt(self, data: bytes) -> bytes:
        if self.corrupt_length:
            self.corrupt_length -= 1
            log.info("corrupting a frame's length prefix")
            return b"\x7f\xff\xff\xff" + data[4:]
        self.corrupt_fields -= 1
        end = data.find(b"\0", 4)
        if end < 0:
            return data
        log.info("corrupting a frame's first field")
        return data[:4] + b"?" * (end - 4) + data[end:]
