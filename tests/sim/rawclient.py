"""Clients for abuse tests: a raw TWS API socket that sends what no library would, and a
well-behaved bystander whose ticks must keep flowing whatever the raw client does."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ibdesk.simtws import SimThread
from ibdesk.simtws.wire import frame, split_fields
from tests.helpers import wait_until

_client_ids = itertools.count(100)


def encode(*fields: str) -> bytes:
    """One client message: NUL-terminated fields, framed."""
    return frame("".join(f + "\0" for f in fields).encode())


class RawClient:
    """A TWS API client on a plain blocking socket, for sending what no library would.

    Every read has a timeout, so a server that neither answers nor hangs up fails the test
    instead of stalling it.
    """

    def __init__(self, port: int, timeout: float = 3.0, rcvbuf: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Set before connecting, so the TCP window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self._buf = b""
        self.client_id = -1

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def send_bytes(self, data: bytes) -> None:
        """Put raw bytes on the wire."""
        self.sock.sendall(data)

    def send(self, *fields: str) -> None:
        """Send one well-framed message."""
        self.sock.sendall(encode(*fields))

    def _fill(self, size: int) -> bool:
        while len(self._buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self._buf += chunk
        return True

    def read(self) -> list[str] | None:
        """The next message's fields, or None once the server has closed the socket."""
        try:
            if not self._fill(4):
                return None
            (size,) = struct.unpack(">I", self._buf[:4])
            if not self._fill(4 + size):
                return None
        except ConnectionResetError:
            return None
        payload, self._buf = self._buf[4 : 4 + size], self._buf[4 + size :]
        return split_fields(payload)

    def expect(self, wanted: Callable[[list[str]], bool], what: str) -> list[str]:
        """Read until a message matches; fail if the socket closes or the read times out."""
        while True:
            try:
                msg = self.read()
            except TimeoutError:
                pytest.fail(f"timed out waiting for {what}")
            if msg is None:
                pytest.fail(f"server closed the socket while we waited for {what}")
            if wanted(msg):
                return msg

    def expect_error(self, code: int, req_id: int = -1) -> str:
        """Read until error ``code`` for ``req_id`` arrives; returns its text."""
        msg = self.expect(
            lambda m: m[0] == "4" and m[3] == str(code) and m[2] == str(req_id),
            f"error {code} for reqId {req_id}",
        )
        return msg[4]

    def expect_closed(self) -> None:
        """Read until the server hangs up; fail if it keeps the socket open."""
        try:
            while self.read() is not None:
                pass
        except TimeoutError:
            pytest.fail("the server kept the socket open")

    def greet(self, hello: bytes = b"v157..176") -> int:
        """Send the API sign and version range; returns the server version."""
        self.send_bytes(b"API\0" + frame(hello))
        reply = self.read()
        assert reply is not None and len(reply) == 2, reply
        return int(reply[0])

    def start(self) -> RawClient:
        """Handshake and startApi with a fresh client id; the greeting messages are read."""
        self.greet()
        self.client_id = next(_client_ids)
        self.send("71", "2", str(self.client_id), "")
        self.expect(lambda m: m[0] == "9", "nextValidId")
        # The farm notices follow nextValidId; a round trip reads past them.
        assert self.answers()
        return self

    def exchange(self, *fields: str) -> list[list[str]]:
        """Send a request, then reqCurrentTime; return every message that came before it."""
        self.send(*fields)
        self.send("49", "1")
        replies = []
        while (msg := self.expect(lambda m: True, "a reply")) and msg[0] != "49":
            replies.append(msg)
        return replies

    def answers(self) -> bool:
        """Whether reqCurrentTime is still answered (False: the server hung up instead)."""
        self.send("49", "1")
        while True:
            msg = self.read()
            if msg is None:
                return False
            if msg[0] == "49":
                return True


@dataclass
class Bystander:
    """A well-behaved client that must not notice anyone else's bad input.

    ``stamps`` holds the monotonic time of every ticker update it saw.
    """

    ib: Any
    contract: Any
    updates: int = 0
    stamps: list[float] = field(default_factory=list)

    def on_tickers(self, tickers: Any) -> None:
        """pendingTickersEvent listener."""
        self.updates += 1
        self.stamps.append(time.monotonic())

    async def still_fine(self) -> None:
        """Its requests are answered and its ticker keeps streaming."""
        assert self.ib.isConnected()
        when = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), 3)
        assert when is not None
        seen = self.updates
        await wait_until(lambda: self.updates >= seen + 3, what="the bystander's ticks")

    def longest_gap(self, since: float, until: float) -> float:
        """The longest time in ``[since, until]`` without an update (edges included)."""
        inside = [t for t in self.stamps if since <= t <= until]
        edges = [since, *inside, until]
        return max(b - a for a, b in itertools.pairwise(edges))


def contract_fields(sim: SimThread, symbol: str = "ES") -> list[str]:
    """The 12-field contract block of a real instrument, by conId."""
    inst = sim.control.instrument(symbol)
    head = [str(inst.con_id), inst.symbol, inst.sec_type, "", "0", "", "", inst.exchange]
    return [*head, "", inst.currency, "", ""]
