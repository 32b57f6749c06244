"""Fault injection on the outgoing byte stream: stalls, sliced frames, corrupted frames.

Connection-level faults (drop every client, restart, error codes) live on the server; this
module only bends the bytes, so every message type is covered the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibdesk.simtws.session import ClientSession

log = logging.getLogger("ibdesk.simtws.faults")


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
    """

    loop: asyncio.AbstractEventLoop
    stall_until: float = 0.0
    slice_bytes: int = 0
    corrupt_fields: int = 0
    corrupt_length: int = 0
    lanes: dict[int, _Lane] = field(default_factory=dict)

    def stall(self, ms: float) -> None:
        """Hold every outgoing byte for ``ms`` milliseconds."""
        self.stall_until = max(self.stall_until, time.monotonic() + ms / 1000)

    def clear(self) -> None:
        """Stop every fault (held bytes still go out, in order)."""
        self.stall_until = 0.0
        self.slice_bytes = self.corrupt_fields = self.corrupt_length = 0

    def write(self, session: ClientSession, data: bytes) -> None:
        """Send ``data`` to ``session`` through the current faults."""
        if self.corrupt_fields or self.corrupt_length:
            data = self._corrupt(data)
        lane = self.lanes.get(id(session))
        held = lane is not None and (lane.chunks or lane.draining)
        if not held and not self.slice_bytes and time.monotonic() >= self.stall_until:
            session.raw_write(data)
            return
        if lane is None:
            lane = self.lanes[id(session)] = _Lane()
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
        lane = self.lanes.get(id(session))
        return lane.size if lane is not None else 0

    def forget(self, session: ClientSession) -> None:
        """Drop what was held for a closed session."""
        self.lanes.pop(id(session), None)

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
