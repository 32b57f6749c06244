"""One client connection: handshake, request dispatch, and the outgoing byte stream.

The session owns what a client subscribed to; the server owns everything shared. Outgoing
bytes go through :meth:`ClientSession.write`, which is where fault injection (stalls, sliced
and corrupted frames) and flow control live: when the client stops reading, market data is
conflated (only the newest values are sent once it catches up), never queued without bound.
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
    from ibdesk.simtws.server import SimServer

log = logging.getLogger("ibdesk.simtws.session")


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
    account_multi: dict[int, str] = field(default_factory=dict)
    account_summary: dict[int, tuple[str, ...]] = field(default_factory=dict)
    positions: bool = False


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
        transport.set_write_buffer_limits(high=4 << 20, low=1 << 20)
        self.server.on_connect(self)

    def data_received(self, data: bytes) -> None:
        """Split the stream into messages and hand each to the server."""
        self.received += len(data)
        try:
            payloads = self.reader.feed(data)
        except ProtocolError as exc:
            self.kill(f"unreadable stream: {exc}")
            return
        for payload in payloads:
            if self.closed:
                return
            if not self.version:
                self._hello(payload)
                continue
            try:
                fields = split_fields(payload)
            except ProtocolError as exc:
                log.warning("client %s sent a bad message: %s", self.describe(), exc)
                self.send(out.error(-1, 320, f"Error reading request: {exc}", self.version))
                continue
            self.server.dispatch(self, fields)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the client."""
        self.closed = True
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
        """Put bytes on the socket now."""
        if not self.closed and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def kill(self, reason: str) -> None:
        """Drop this client (logged with the reason)."""
        if self.closed:
            return
        log.warning("dropping client %s: %s", self.describe(), reason)
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def describe(self) -> str:
        """``clientId 3 at 127.0.0.1:5555`` for log lines."""
        who = f"clientId {self.client_id}" if self.client_id is not None else "unregistered"
        return f"{who} at {self.peer}"
