"""Framing and field encoding of the TWS API, seen from the server.

Every message after the handshake, in both directions, is a 4-byte big-endian length followed
by NUL-terminated fields. The client's first bytes are different: ``b"API\\0"`` and one framed
version string such as ``"v157..176"``.

The encoding rules here are the ones the client decoders impose (TWS_PROTOCOL.md §3): an int
field is never sent as ``"1.0"`` (the decoder would drop the whole message), a bool is ``"1"`` or
``"0"``, and an unset float is ``""``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ibdesk.simtws.throttle import show

#: Largest frame we accept from a client. Real requests are well under 4 KiB; anything near
#: this is garbage or an attack, and we disconnect rather than buffer it.
MAX_FRAME = 1 << 20

API_SIGN = b"API\0"
MIN_CLIENT_VERSION = 157
MAX_SERVER_VERSION = 176

UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308

_LEN = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent bytes that cannot be a TWS API message; the connection should close."""


def frame(payload: bytes) -> bytes:
    """Prefix one payload with its 4-byte big-endian length."""
    return _LEN.pack(len(payload)) + payload


def fmt_int(value: int | None) -> str:
    """An int field: never with a decimal point; ``None`` and UNSET become ``""``."""
    if value is None or value == UNSET_INTEGER:
        return ""
    return str(int(value))


def fmt_float(value: float | None) -> str:
    """A float field: ``""`` when unset; integral values without a trailing ``.0``."""
    if value is None or value == UNSET_DOUBLE or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "Infinite"
    # repr() spells integral floats below 1e16 with a trailing ".0" and larger ones as
    # "1e+16", so below that bound the int form is both shorter and exact.
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def fmt_bool(value: bool) -> str:
    """A bool field: the decoders run ``bool(int(x))``, so never ``"True"``."""
    return "1" if value else "0"


def encode_fields(fields: Iterable[object]) -> bytes:
    """Encode one message's fields with the strict rules above and frame it.

    ``str`` passes through, ``bool`` becomes ``1``/``0``, ``int`` and ``float`` go through
    :func:`fmt_int` and :func:`fmt_float`, ``None`` becomes ``""``.
    """
    parts: list[str] = []
    for f in fields:
        if isinstance(f, str):
            parts.append(f)
        elif isinstance(f, bool):
            parts.append(fmt_bool(f))
        elif isinstance(f, int):
            parts.append(fmt_int(f))
        elif isinstance(f, float):
            parts.append(fmt_float(f))
        elif f is None:
            parts.append("")
        else:
            raise TypeError(f"cannot encode field of type {type(f).__name__}: {f!r}")
    parts.append("")
    return frame("\0".join(parts).encode())


@dataclass(frozen=True, slots=True)
class Hello:
    """The client's opening: the version range it speaks and any connect options."""

    min_version: int
    max_version: int
    options: str


def parse_hello(payload: bytes) -> Hello:
    """Parse ``v157..176``, ``v176`` or ``v157..176 +PACEAPI`` (TWS_PROTOCOL.md §2)."""
    try:
        text = payload.decode("ascii").strip("\0")
    except UnicodeDecodeError as exc:
        raise ProtocolError("version string is not ASCII") from exc
    head, _, options = text.partition(" ")
    if not head.startswith("v"):
        raise ProtocolError(f"version string must start with 'v': {show(text)}")
    lo, sep, hi = head[1:].partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError as exc:
        raise ProtocolError(f"bad version range {show(head)}") from exc
    if low > high:
        raise ProtocolError(f"empty version range {show(head)}")
    return Hello(low, high, options.strip())


def negotiate(hello: Hello) -> int | None:
    """The version a TWS answers: ``min(client max, 176)``, or None when there is no overlap."""
    version = min(hello.max_version, MAX_SERVER_VERSION)
    if version < max(hello.min_version, MIN_CLIENT_VERSION):
        return None
    return version


class FrameReader:
    """Turns a byte stream from one client into messages.

    The first thing a client sends is the ``API\\0`` sign and one frame with its version
    range; after that every frame is a list of fields. The reader keeps an offset into its
    buffer instead of slicing after every message, so a large burst parses in linear time
    (FIELD_NOTES.md §2 measured the slicing framer at half speed on 256 KiB reads).
    """

    __slots__ = ("_buf", "_pos", "greeted")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.greeted = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete payload (the hello first, unsplit).

        Raises:
            ProtocolError: the stream cannot be TWS API (bad sign, oversized frame).
        """
        buf = self._buf
        buf += data
        out: list[bytes] = []
        if not self.greeted:
            if len(buf) < len(API_SIGN):
                if not API_SIGN.startswith(bytes(buf)):
                    raise ProtocolError("client did not start with API\\0")
                return out
            if buf[:4] != API_SIGN:
                raise ProtocolError("client did not start with API\\0")
            self._pos = 4
            self.greeted = True
        pos = self._pos
        end = len(buf)
        while end - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME} limit")
            if end - pos - 4 < size:
                break
            out.append(bytes(buf[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf) - self._pos


def split_fields(payload: bytes) -> list[str]:
    """Split one payload into fields, as the clients do (drop the final empty element).

    Raises:
        ProtocolError: the payload is empty or not NUL-terminated.
    """
    if not payload:
        raise ProtocolError("empty message")
    text = payload.decode("utf-8", errors="backslashreplace")
    fields = text.split("\0")
    if fields[-1] != "":
        raise ProtocolError("message is not NUL-terminated")
    fields.pop()
    return fields
