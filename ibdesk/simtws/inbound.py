"""The record of what clients sent: for tests and benchmarks that time requests at the server.

Bounded both in count and in bytes: a flood of large requests (a placeOrder is some 115
fields) must not turn the record into the server's largest use of memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

#: Rough cost of one record and of one field beyond their text (object headers, pointers).
_RECORD_OVERHEAD = 200
_FIELD_OVERHEAD = 56


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One message a client sent, as the server received it."""

    monotonic: float
    wall: float
    client_id: int | None
    msg_id: int
    fields: tuple[str, ...]

    @property
    def size(self) -> int:
        """Approximate bytes this record keeps alive."""
        return _RECORD_OVERHEAD + sum(_FIELD_OVERHEAD + len(f) for f in self.fields)


class InboundLog:
    """The newest inbound records, at most ``max_records`` and about ``max_bytes``."""

    def __init__(self, max_records: int = 200_000, max_bytes: int = 64 << 20) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.bytes = 0
        self._rows: deque[tuple[InboundRecord, int]] = deque()

    def append(self, record: InboundRecord) -> None:
        """Keep ``record``, forgetting the oldest ones beyond either bound."""
        size = record.size
        self._rows.append((record, size))
        self.bytes += size
        rows = self._rows
        while len(rows) > self.max_records or (self.bytes > self.max_bytes and len(rows) > 1):
            _, old = rows.popleft()
            self.bytes -= old

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[InboundRecord]:
        return (record for record, _ in self._rows)
