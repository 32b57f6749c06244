"""One client connection: handshake, request dispatch, and the outgoing byte stream.

The session owns what a client subscribed to; the server owns everything shared. Outgoing
bytes go through :meth:`ClientSession.write`, which is where fault injection (stalls, sliced
and corrupted frames) and flow control live. Two bounds keep one client from costing the
others anything:

* Outbound: when the client reads slowly, market data is conflated (only the newest values
  are sent once it catches up); whatever else is queued for it (tick-by-tick, orders,
  account updates) counts against ``max_outbound_bytes``, and a client over that cap is
  disconnected as TWS disconnects a client that does not read. Its queue is discarded.
* Inbound: at most :data:`REQUESTS_PER_TURN` requests are handled per turn of the event loop;
  the rest wait with reading paused, so a burst of thousands of requests from one client
  shares the loop with the market clock and every other client instead of holding it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.wire import (
    FrameReader,
    ProtocolError,
    frame,
    negotiate,
    parse_hello,
    split_fields,
)

if TYPE_CHECKING:
    from ibdesk.simtws.scanner import ScanSpec
    from ibdesk.simtws.server import SimServer

log = logging.getLogger("ibdesk.simtws.session")

#: Requests handled per event-loop turn before the rest wait for the next turn.
REQUESTS_PER_TURN = 64
#: How long a closed socket may keep unsent bytes before they are discarded.
CLOSE_LINGER = 5.0


@dataclass(slots=True)
class MarketSub:
    """A reqMktData subscription."""

    req_id: int
    inst: Instrument
    generic: frozenset[int]
    prefix_price: str = ""
    prefix_size: str = ""

    def __post_init__(self) -> None:
        self.prefix_price = f"1\x006\x00{self.req_id}\x00"
        self.prefix_size = f"2\x006\x00{self.req_id}\x00"


@dataclass(slots=True)
class BarsSub:
    """A keepUpToDate historical request or a real-time bars request."""

    req_id: int
    inst: Instrument
    bar_seconds: int
    what: str
    format_date: int = 2
    last_sent: float = 0.0


@dataclass(slots=True)
class Subscriptions:
    """Everything one client has asked to be kept informed about."""

    market: dict[int, MarketSub] = field(default_factory=dict)
    tick_by_tick: dict[int, tuple[Instrument, str]] = field(default_factory=dict)
    realtime_bars: dict[int, BarsSub] = field(default_factory=dict)
    keep_up_to_date: dict[int, BarsSub] = field(default_factory=dict)
    pnl: dict[int, str] = field(default_factory=dict)
    pnl_single: dict[int, tuple[str, int]] = field(default_factory=dict)
    account_updates: str | None = None
    account_multi: dict[int, tuple[str, ...]] = field(default_factory=dict)
    positions_multi: dict[int, tuple[str, ...]] = field(default_factory=dict)
    account_summary: dict[int, tuple[str, ...]] = field(default_factory=dict)
    positions: bool = False
    scanners: dict[int, ScanSpec] = field(default_factory=dict)
    display_groups: dict[int, int] = field(default_factory=dict)
    bulletins: bool = False


class ClientSession(asyncio.Protocol):
    """The server side of one TWS API connection."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.version = 0
        self.client_id: int | None = None
        self.started = False
        self.closed = False
        self.subs = Subscriptions()
        self.market_data_type = 1
        self.auto_open_orders = False
        self.write_paused = False
        self.conflated: set[int] = set()
        self.msg_times: deque[float] = deque()
        self.connected_at = time.time()
        self.received = 0
        self.inbox: deque[bytes] = deque()
        self._turn_scheduled = False
        self._reading_paused = False

    # ---- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accept the socket (or refuse it while the server is 'restarting')."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        # Conflation starts well below the cap, so a slow reader never reaches it.
        high = max(64 << 10, min(4 << 20, self.server.config.max_outbound_bytes // 4))
        transport.set_write_buffer_limits(high=high, low=high // 4)
        self.server.on_connect(self)

    def data_received(self, data: bytes) -> None:
        """Split the stream into messages and queue them for handling."""
        self.received += len(data)
        try:
            payloads = self.reader.feed(data)
        except ProtocolError as exc:
            self.kill(f"unreadable stream: {exc}")
            return
        if payloads:
            self.inbox.extend(payloads)
            if not self._turn_scheduled:
                self._handle_some()

    def _handle_some(self) -> None:
        """Handle up to REQUESTS_PER_TURN queued messages; leave the rest for the next turn.

        While messages wait, reading is paused: the client's own socket buffers fill and its
        sends block, which is the back-pressure a flooding client should feel.
        """
        self._turn_scheduled = False
        inbox = self.inbox
        for _ in range(REQUESTS_PER_TURN):
            if not inbox or self.closed:
                break
            self._handle(inbox.popleft())
        transport = self.transport
        if self.closed or transport is None:
            return
        if inbox:
            if not self._reading_paused:
                transport.pause_reading()
                self._reading_paused = True
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._handle_some)
        elif self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _handle(self, payload: bytes) -> None:
        """One message: the hello first, then requests."""
        if not self.version:
            self._hello(payload)
            return
        try:
            fields = split_fields(payload)
        except ProtocolError as exc:
            self.server.noisy.warning("%s sent a bad message: %s", self.describe(), exc)
            self.send(out.error(-1, 320, f"Error reading request: {exc}", self.version))
            return
        self.server.dispatch(self, fields)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the client, and everything waiting to or from it."""
        self.closed = True
        self.inbox.clear()
        self.conflated.clear()
        self.server.on_disconnect(self)

    def pause_writing(self) -> None:
        """The client is not reading fast enough: start conflating market data."""
        self.write_paused = True

    def resume_writing(self) -> None:
        """The client caught up: send the newest values of everything conflated."""
        self.write_paused = False
        pending, self.conflated = self.conflated, set()
        for req_id in pending:
            sub = self.subs.market.get(req_id)
            if sub is not None:
                self.server.send_market_snapshot(self, sub)

    # ---- handshake --------------------------------------------------------------------------

    def _hello(self, payload: bytes) -> None:
        try:
            hello = parse_hello(payload)
        except ProtocolError as exc:
            self.kill(f"bad hello: {exc}")
            return
        version = negotiate(hello)
        cap = self.server.config.max_version
        if version is not None:
            version = min(version, cap)
        if version is None or version < max(hello.min_version, 157):
            self.kill(f"no common version with v{hello.min_version}..{hello.max_version}")
            return
        self.version = version
        stamp = time.strftime("%Y%m%d %H:%M:%S", time.gmtime()) + " Greenwich Mean Time"
        self.write(frame(f"{version}\0{stamp}\0".encode()))

    # ---- output -----------------------------------------------------------------------------

    def send(self, fields: list[str]) -> None:
        """Frame and send one message."""
        self.write(out.pack(fields))

    def write(self, data: bytes) -> None:
        """Send bytes, through whatever fault is being injected."""
        if self.closed or self.transport is None:
            return
        self.server.faults.write(self, data)

    def raw_write(self, data: bytes) -> None:
        """Put bytes on the socket now (or in its buffer), within the outbound cap."""
        transport = self.transport
        if not self.closed and transport is not None and not transport.is_closing():
            transport.write(data)
            if transport.get_write_buffer_size() > self.server.config.max_outbound_bytes:
                self.check_queue()

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting for this client: in the socket's buffer and held by a fault."""
        transport = self.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        return buffered + self.server.faults.held(self)

    def check_queue(self) -> None:
        """Disconnect the client if more is queued for it than the cap allows."""
        cap = self.server.config.max_outbound_bytes
        queued = self.queued_bytes
        if cap and queued > cap and not self.closed:
            self.kill(
                f"not reading: {queued / 2**20:.1f} MiB queued for it, "
                f"over the {cap / 2**20:.1f} MiB cap",
                discard=True,
            )

    def kill(self, reason: str, discard: bool = False) -> None:
        """Drop this client (logged with the reason).

        Args:
            reason: why, for the log line.
            discard: throw away what is queued for it instead of trying to send it first
                (a client that does not read would otherwise hold it for ever).
        """
        if self.closed:
            return
        self.server.noisy_drops.warning("dropping client %s: %s", self.describe(), reason)
        self.closed = True
        self.inbox.clear()
        transport = self.transport
        if transport is None:
            return
        if discard:
            transport.abort()
            return
        transport.close()
        if transport.get_write_buffer_size():
            # Whatever cannot be sent within the linger time is not worth keeping.
            asyncio.get_running_loop().call_later(CLOSE_LINGER, transport.abort)

    def describe(self) -> str:
        """``clientId 3 at 127.0.0.1:5555`` for log lines."""
        who = f"clientId {self.client_id}" if self.client_id is not None else "unregistered"
        return f"{who} at {self.peer}"
