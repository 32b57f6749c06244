"""A hostile man in the middle: a TCP proxy between API clients and a TWS (the simulator).

The proxy runs on a thread with its own asyncio loop, so whatever the client under test does
to its own loop (a stall, a flood it cannot keep up with) never slows the proxy down, and the
proxy's work never counts against the client's loop. It understands the TWS API framing in
both directions, which lets a test:

* learn each connection's client id (from ``startApi``) and its market-data request ids
  (from ``reqMktData``), so injected frames hit live subscriptions;
* inject frames (or raw bytes) into one client's stream, in order with the real traffic;
* rewrite the server's frames of one message id on their way through (``rewrite``);
* hold a client's stream for a while (``hold``) or cut it (``cut``).

The frame builders below make the hostile messages of issue 12 (long strings, malformed
fields, a flood of undecodable ticks). The chaos tests reuse all of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Rewrite = Callable[[list[str]], list[str] | None]
""" the fields of one server frame -> new fields, or None to drop the frame """

_LEN = struct.Struct(">I")
START_API = 71
REQ_MKT_DATA = 1


def frame(*fields: object) -> bytes:
    """One framed message from raw fields (no encoding rules: hostile values pass as given)."""
    payload = "".join(f"{f}\0" for f in fields).encode()
    return _LEN.pack(len(payload)) + payload


def error_frame(req_id: int, code: int, text: str) -> bytes:
    """An error message as TWS sends it at server version 176 (with the empty reject JSON)."""
    return frame(4, 2, req_id, code, text, "")


def tick_price_frame(req_id: int, tick_type: int, price: object, size: object = 1) -> bytes:
    """A tickPrice with whatever price and size text is given."""
    return frame(1, 6, req_id, tick_type, price, size, 0)


def tick_size_frame(req_id: int, tick_type: int, size: object) -> bytes:
    """A tickSize with whatever size text is given."""
    return frame(2, 6, req_id, tick_type, size)


def tick_string_frame(req_id: int, tick_type: int, value: str) -> bytes:
    """A tickString (type 32/33 are the bid/ask exchanges, 45 the last timestamp)."""
    return frame(46, 6, req_id, tick_type, value)


def malformed_ticks(req_id: int, count: int) -> bytes:
    """``count`` tickPrice frames whose price is not a number: each one is a decoder
    exception in the client library (a traceback per frame, unless something bounds it)."""
    return tick_price_frame(req_id, 1, "not-a-price", "x") * count


@dataclass
class Link:
    """One client connection through the proxy."""

    down: asyncio.StreamWriter
    """ towards the client """
    up: asyncio.StreamWriter
    """ towards the server """
    client_id: int | None = None
    market_req_ids: dict[int, int] = field(default_factory=dict)
    """ conId -> reqId of the client's reqMktData """
    held_until: float = 0.0
    held: list[bytes] = field(default_factory=list)
    frames_down: int = 0


class WireProxy(threading.Thread):
    """A TWS API proxy on its own thread: ``with WireProxy(sim.port) as proxy: proxy.port``."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        super().__init__(name="wire-proxy", daemon=True)
        self.host = host
        self.upstream_port = upstream_port
        self.port = 0
        self.links: list[Link] = []
        self.rewrites: dict[int, Rewrite] = {}
        """ message id -> rewrite of the server's frames with that id """
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None

    # ---- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> WireProxy:
        self.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self) -> None:
        """The thread: serve until :meth:`stop`."""
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._accept, self.host, 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self._server.close()
        for link in self.links:
            link.down.close()
            link.up.close()
        # Let every connection's task end here, its sockets closed: one left pending is
        # "destroyed" (an asyncio error) when the loop goes. Not cancelled: asyncio's stream
        # server reports a cancelled connection task as an error of its own.
        pending = asyncio.all_tasks(self.loop)
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending, timeout=5))
        self.loop.close()

    def stop(self) -> None:
        """Close every connection and end the thread."""
        if self.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.join(10)

    # ---- what a test does (thread-safe) ----------------------------------------------------

    def link(self, client_id: int, timeout: float = 10.0) -> Link:
        """The live connection of a client id (waits for it to start its API session)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [k for k in self.links if k.client_id == client_id and not k.down.is_closing()]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no connection from client {client_id} through the proxy")
            time.sleep(0.01)

    def send(self, client_id: int, *chunks: bytes) -> None:
        """Write frames (or any bytes) to a client, after what the server already sent it."""
        link = self.link(client_id)
        self._call(lambda: self._down(link, b"".join(chunks)))

    def rewrite(self, msg_id: int, fn: Rewrite | None) -> None:
        """Rewrite (or with None, stop rewriting) the server's frames of one message id."""
        self._call(
            lambda: (
                self.rewrites.__setitem__(msg_id, fn)
                if fn is not None
                else self.rewrites.pop(msg_id, None)
            )
        )

    def hold(self, client_id: int, seconds: float) -> None:
        """Hold everything the server sends a client for ``seconds`` (then release it in order)."""
        link = self.link(client_id)
        self._call(lambda: self._hold(link, seconds))

    def cut(self, client_id: int) -> None:
        """Close one client's connection at once (both sides)."""
        link = self.link(client_id)
        self._call(lambda: (link.down.close(), link.up.close()))

    def _call(self, fn: Callable[[], Any]) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        self.loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise TimeoutError("the proxy's loop did not answer")

    # ---- the proxy's loop ------------------------------------------------------------------

    async def _accept(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            down_w.close()
            return
        link = Link(down_w, up_w)
        self.links.append(link)
        await asyncio.gather(
            self._client_to_server(link, down_r),
            self._server_to_client(link, up_r),
            return_exceptions=True,
        )
        down_w.close()
        up_w.close()

    async def _client_to_server(self, link: Link, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            link.up.write(await reader.readexactly(4))  # b"API\0", then framed messages
            while (raw := await _read_frame(reader)) is not None:
                link.up.write(raw)
                fields = _fields(raw)
                if fields[:1] == [str(START_API)] and len(fields) > 2:
                    link.client_id = int(fields[2])
                elif fields[:1] == [str(REQ_MKT_DATA)] and len(fields) > 3:
                    with contextlib.suppress(ValueError):
                        link.market_req_ids[int(fields[3])] = int(fields[2])
        link.up.close()

    async def _server_to_client(self, link: Link, reader: asyncio.StreamReader) -> None:
        while (raw := await _read_frame(reader)) is not None:
            fn = self.rewrites.get(_msg_id(raw))
            if fn is not None:
                new = fn(_fields(raw))
                if new is None:
                    continue
                raw = frame(*new)
            self._down(link, raw)
            link.frames_down += 1
        link.down.close()

    def _down(self, link: Link, data: bytes) -> None:
        if link.held or time.monotonic() < link.held_until:
            link.held.append(data)
        else:
            link.down.write(data)

    def _hold(self, link: Link, seconds: float) -> None:
        link.held_until = time.monotonic() + seconds

        def release() -> None:
            if time.monotonic() < link.held_until:
                return
            data, link.held = b"".join(link.held), []
            if data and not link.down.is_closing():
                link.down.write(data)

        self.loop.call_later(seconds, release)


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One whole frame (length prefix included), or None at the end of the stream."""
    try:
        head = await reader.readexactly(4)
        return head + await reader.readexactly(_LEN.unpack(head)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _fields(raw: bytes) -> list[str]:
    return raw[4:].decode(errors="replace").split("\0")[:-1]


def _msg_id(raw: bytes) -> int:
    end = raw.find(b"\0", 4)
    try:
        return int(raw[4 : end if end >= 0 else len(raw)])
    except ValueError:
        return -1
