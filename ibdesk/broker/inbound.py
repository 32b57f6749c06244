"""What TWS sends, between the socket and the client library: framed in linear time, handed
over within a time budget per loop turn, and a garbled stream noticed.

The client library frames in its socket callback, and three of its habits let a hostile or
broken stream freeze the desk (issue 12; FIELD_NOTES.md §2): it copies the rest of its
buffer after every message (quadratic in a burst); it decodes every frame of a read in one
callback (a 256 KiB read of undecodable frames is 8,000 decoder exceptions in one go); and
it waits forever for a frame whose length prefix says 2 GiB, with the socket open and no
event. :class:`InboundGuard` takes the socket's bytes instead, frames them by offset, hands
the library whole frames in batches until ``TURN_BUDGET`` is spent and leaves the rest for
the next loop turn (pausing the socket when far behind), stamps when the last whole frame
arrived (the session's data-silence watchdog reads :attr:`InboundGuard.last_frame`), and
reports a length prefix no TWS would send as a garbled stream.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ibdesk.broker.inbound")

MAX_FRAME = 0xFFFFFF
""" IB's own API refuses messages longer than this (16 MiB): a longer prefix is garbage """
BATCH_BYTES = 16 << 10
""" whole frames handed to the library per call """
TURN_BUDGET = 0.008
""" seconds of decoding per loop turn; what is left waits for the next turn """
PAUSE_ABOVE = 32 << 20
""" bytes waiting before the socket is paused (resumed below ``RESUME_BELOW``) """
RESUME_BELOW = 4 << 20
_LEN = struct.Struct(">I")


class InboundGuard:
    """Installs itself between the library's Connection and its Client.

    ``on_garbled(length)`` is called (on the next loop turn) when a frame announces more
    than :data:`MAX_FRAME` bytes; nothing more is handed to the library until :meth:`reset`.
    """

    def __init__(
        self,
        client: Any,
        on_garbled: Callable[[int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.on_garbled = on_garbled
        self.clock = clock
        self.frames = 0
        """ whole frames received since the guard was made """
        self.last_frame = clock()
        """ when the last whole frame arrived (monotonic) """
        self._buf = bytearray()
        self._fed = 0
        """ bytes of ``_buf`` already handed to the library """
        self._framed = 0
        """ bytes of ``_buf`` known to be whole frames """
        self._broken = False
        self._scheduled = False
        self._paused = False
        conn = client.conn
        conn.hasData -= client._onSocketHasData
        conn.hasData += self._on_data
        conn.disconnected -= client._onSocketDisconnected
        conn.disconnected += self._on_disconnected

    @property
    def waiting(self) -> int:
        """Bytes received and not yet handed to the library."""
        return len(self._buf) - self._fed

    def reset(self) -> None:
        """Forget everything half-read (a new connection, or a drop on purpose)."""
        self._buf = bytearray()
        self._fed = self._framed = 0
        self._broken = False
        self.last_frame = self.clock()
        self._resume()

    # ---- the socket's side ------------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        if self._broken:
            return
        self._buf += data
        self._frame()
        if not self._scheduled:
            self._feed()

    def _frame(self) -> None:
        """Advance ``_framed`` over every whole frame now in the buffer."""
        buf, at, end = self._buf, self._framed, len(self._buf)
        count = 0
        garbled = 0
        while end - at >= 4:
            length = _LEN.unpack_from(buf, at)[0]
            if length > MAX_FRAME:
                garbled = length
                break
            if end - at - 4 < length:
                break
            at += 4 + length
            count += 1
        if count:
            self._framed = at
            self.frames += count
            self.last_frame = self.clock()
        if garbled:
            self._garbled(garbled)

    def _garbled(self, length: int) -> None:
        """The frames before the garbage are still decoded; nothing after it is."""
        self._broken = True
        del self._buf[self._framed :]
        log.warning("TWS sent a frame of %s bytes: the stream is garbled", f"{length:,}")
        asyncio.get_running_loop().call_soon(self.on_garbled, length)

    def _on_disconnected(self, msg: str) -> None:
        # Whole frames already here go first (TWS says "client id in use" and then closes),
        # unless ibdesk dropped the connection itself (the library is reset already).
        if self.client.connState != self.client.DISCONNECTED:
            self._feed(budget=None)
        self.reset()
        self.client._onSocketDisconnected(msg)

    # ---- the library's side -----------------------------------------------------------------

    def _feed(self, budget: float | None = TURN_BUDGET) -> None:
        """Hand whole frames to the library in batches until ``budget`` seconds are spent."""
        self._scheduled = False
        deadline = time.perf_counter() + budget if budget is not None else None
        while self._fed < self._framed:
            end = self._batch_end()
            chunk = bytes(self._buf[self._fed : end])
            self._fed = end
            self.client._onSocketHasData(chunk)
            if self.client.connState == self.client.DISCONNECTED:
                return  # dropped while decoding: the rest belongs to a dead connection
            if deadline is not None and time.perf_counter() > deadline:
                break
        self._compact()
        if self._fed < self._framed:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._feed)
            if not self._paused and self.waiting > PAUSE_ABOVE:
                self._pause()
        elif self._paused and self.waiting < RESUME_BELOW:
            self._resume()

    def _batch_end(self) -> int:
        """The end of the whole frames after ``_fed`` that fit a batch (at least one)."""
        buf, at, stop = self._buf, self._fed, self._framed
        limit = at + BATCH_BYTES
        if stop <= limit:
            return stop  # the usual read: everything whole fits one batch
        while at < stop:
            at += 4 + _LEN.unpack_from(buf, at)[0]
            if at >= limit:
                break
        return at

    def _compact(self) -> None:
        if self._fed == len(self._buf):
            self._buf = bytearray()
            self._fed = self._framed = 0
        elif self._fed > 1 << 20:
            del self._buf[: self._fed]
            self._framed -= self._fed
            self._fed = 0

    def _pause(self) -> None:
        transport = self.client.conn.transport
        if transport is not None:
            transport.pause_reading()
            self._paused = True
            log.info("%s bytes from TWS wait to be decoded; reading paused", f"{self.waiting:,}")

    def _resume(self) -> None:
        transport = self.client.conn.transport
        if self._paused and transport is not None and not transport.is_closing():
            transport.resume_reading()
        self._paused = False
