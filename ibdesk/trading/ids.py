"""Order ids that are never reused, across app and gateway restarts.

The next id is above the broker's nextValidId and above every id this client has used,
which is persisted in the journal: gateways have been seen to announce a lower nextValidId
after a restart, and reusing an id either modifies an unrelated order or is refused (103).
"""

from __future__ import annotations

from typing import Protocol

from ibdesk.trading.ports import OrderPort


class IdFloorStore(Protocol):
    """Where the floor is persisted (the journal)."""

    def id_floor(self, client_id: int) -> int:
        """The lowest id not yet used by this client."""

    def raise_id_floor(self, client_id: int, next_id: int) -> int:
        """Persist a higher floor; returns the floor."""


class OrderIds:
    """Allocates order ids for one API client id."""

    def __init__(self, port: OrderPort, floors: IdFloorStore) -> None:
        self.port = port
        self.floors = floors

    def take(self, count: int = 1) -> list[int]:
        """``count`` consecutive fresh ids, persisted before they are used."""
        client_id = self.port.client_id
        first = max(self.port.next_valid_id(), self.floors.id_floor(client_id))
        ids = list(range(first, first + count))
        self.floors.raise_id_floor(client_id, first + count)
        self.port.reserve_ids(first + count)
        return ids

    def seen(self, order_id: int) -> None:
        """An id this client used (reported by the broker): the floor moves above it."""
        if order_id > 0:
            self.floors.raise_id_floor(self.port.client_id, order_id + 1)
