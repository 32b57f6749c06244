"""Typed access to the fields of one client request, with errors that say what was wrong."""

from __future__ import annotations

import math

from ibdesk.simtws.catalog import ContractQuery
from ibdesk.simtws.throttle import show
from ibdesk.simtws.wire import UNSET_DOUBLE, UNSET_INTEGER


class RequestError(ValueError):
    """A request whose fields cannot be read; TWS answers such requests with error 320."""


#: Where each request carries its reqId (or orderId), for errors about a request whose
#: handler failed: the client's pending future for that id must end, not wait forever.
REQ_ID_FIELD = {
    1: 2,
    3: 1,
    4: 2,
    7: 2,
    9: 2,
    10: 2,
    11: 2,
    19: 4,
    20: 1,
    21: 2,
    22: 1,
    23: 2,
    25: 2,
    50: 2,
    51: 2,
    52: 2,
    53: 2,
    54: 2,
    55: 2,
    56: 2,
    57: 2,
    62: 2,
    63: 2,
    67: 2,
    68: 2,
    69: 2,
    70: 2,
    74: 2,
    75: 2,
    76: 2,
    77: 2,
    78: 1,
    79: 1,
    81: 1,
    83: 1,
    84: 1,
    86: 1,
    87: 1,
    88: 1,
    89: 1,
    90: 1,
    92: 1,
    93: 1,
    94: 1,
    95: 1,
    96: 1,
    97: 1,
    98: 1,
    100: 1,
    101: 1,
    102: 1,
    103: 1,
    104: 1,
    106: 1,
    107: 1,
}


class Request:
    """The fields of one request message; ``fields[0]`` is the message id."""

    __slots__ = ("fields", "msg_id")

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        try:
            self.msg_id = int(fields[0])
        except (ValueError, IndexError) as exc:
            raise RequestError(f"message id {show(fields[:1])} is not a number") from exc

    def __len__(self) -> int:
        return len(self.fields)

    def req_id(self) -> int:
        """The request's own id when this kind of request has one and it reads as an int;
        -1 (a system-wide error) otherwise."""
        index = REQ_ID_FIELD.get(self.msg_id)
        if index is None:
            return -1
        try:
            return self.integer(index, -1)
        except RequestError:
            return -1

    def need(self, count: int) -> None:
        """Require at least ``count`` fields (the id included)."""
        if len(self.fields) < count:
            raise RequestError(
                f"message {self.msg_id} has {len(self.fields)} fields, needs {count}"
            )

    def text(self, i: int, default: str = "") -> str:
        """Field ``i`` as text (``default`` when the message is shorter)."""
        return self.fields[i] if i < len(self.fields) else default

    def integer(self, i: int, default: int = 0) -> int:
        """Field ``i`` as an int (empty = ``default``)."""
        value = self.text(i)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            try:
                number = int(float(value))
            except (ValueError, OverflowError) as exc:
                # OverflowError: "inf" and "1e999" parse as floats but are no int.
                raise RequestError(
                    f"field {i} of message {self.msg_id} is not an int: {show(value)}"
                ) from exc
        return default if number == UNSET_INTEGER else number

    def number(self, i: int, default: float = 0.0) -> float:
        """Field ``i`` as a float (empty or UNSET = ``default``)."""
        value = self.text(i)
        if not value:
            return default
        try:
            number = float(value)
        except ValueError as exc:
            raise RequestError(
                f"field {i} of message {self.msg_id} is not a number: {show(value)}"
            ) from exc
        if math.isnan(number):
            raise RequestError(f"field {i} of message {self.msg_id} is not a number: {show(value)}")
        return default if number >= UNSET_DOUBLE else number

    def flag(self, i: int) -> bool:
        """Field ``i`` as a bool (``1``/``0``; ``True``/``False`` tolerated)."""
        value = self.text(i).strip().lower()
        return value not in ("", "0", "false")

    def contract(self, i: int) -> ContractQuery:
        """The 12-field contract block starting at field ``i``."""
        self.need(i + 12)
        try:
            return ContractQuery.from_fields(self.fields[i : i + 12])
        except ValueError as exc:
            raise RequestError(f"bad contract in message {self.msg_id}: {exc}") from exc
