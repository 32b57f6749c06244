"""Order ids that are never reused, across app and gateway restarts.

The next id is above the broker's nextValidId and above every id this client has used,
which is persisted in the journal: gateways have been seen to announce a lower nextValidId
after a restart, and reusing an id either modifies an unrelated order or is refused (103).

An absurd nextValidId is refused, never persisted: TWS's order ids are 32-bit, so an id at
the top of that range leaves no room (a server announcing 2147483647 once made the desk send
2147483667 and keep that floor for every later session), and one that jumps by a hundred
million past the ids this client has used is a server gone wrong, not a trading day.
"""

from __future__ import annotations

from typing import Protocol

MAX_ORDER_ID = 2**31 - 1
""" TWS's order ids are signed 32-bit integers """
HEADROOM = 1_000_000
""" ids that must be left above the next one: a desk sends thousands a day, not millions """
MAX_JUMP = 100_000_000
""" how far nextValidId may be above this client's floor before it is taken for a fault """
BLOCK = 64
"""ids persisted ahead at a time: the journal commits the floor once per 64 orders, not
before each one (it cost every order a commit: 0.2 ms, 1-3 ms while a checkpoint ran). An
id reserved and never used is skipped after a restart, never reused."""


class OrderIdError(ValueError):
    """The broker's nextValidId cannot be trusted; nothing was taken or persisted."""


class IdPort(Protocol):
    """What the id allocator needs from the broker (ibdesk.trading.ports.OrderPort has it)."""

    @property
    def client_id(self) -> int:
        """The API client id orders are placed under."""

    def next_valid_id(self) -> int:
        """The broker's nextValidId as last announced (and raised by requests since)."""

    def reserve_ids(self, above: int) -> None:
        """Make the library's request ids start above ``above``."""


class IdFloorStore(Protocol):
    """Where the floor is persisted (the journal)."""

    def id_floor(self, client_id: int) -> int:
        """The lowest id not yet used by this client."""

    def raise_id_floor(self, client_id: int, next_id: int) -> int:
        """Persist a higher floor; returns the floor."""


class OrderIds:
    """Allocates order ids for one API client id (the desk's, or ``ibdesk kill``'s own)."""

    def __init__(self, port: IdPort, floors: IdFloorStore) -> None:
        self.port = port
        self.floors = floors
        self._next: dict[int, int] = {}
        """ client id -> the lowest id not handed out yet (this session) """
        self._persisted: dict[int, int] = {}
        """ client id -> the floor the journal holds: every id below it may have been used """

    def take(self, count: int = 1) -> list[int]:
        """``count`` consecutive fresh ids, persisted before they are used.

        Raises:
            OrderIdError: the broker announced an id with no 32-bit room left above it, or
                one absurdly far above the ids this client has used.
        """
        client_id = self.port.client_id
        announced = self.port.next_valid_id()
        if client_id not in self._persisted:
            self._persisted[client_id] = self._next[client_id] = self.floors.id_floor(client_id)
        floor = self._next[client_id]
        if announced + count > MAX_ORDER_ID - HEADROOM:
            raise OrderIdError(
                f"TWS announced order id {announced:,} for client {client_id}, at the top of "
                "its 32-bit range: nothing was sent. Reset the API order id sequence in TWS "
                "(Global Configuration > API > Settings) or use another client id."
            )
        if floor > 1 and announced - floor > MAX_JUMP:
            raise OrderIdError(
                f"TWS announced order id {announced:,} for client {client_id}, "
                f"{announced - floor:,} above the last one this desk used ({floor - 1:,}): "
                "nothing was sent. Check that this is the TWS you meant, or use another "
                "client id."
            )
        first = max(announced, floor)
        end = first + count
        if end > self._persisted[client_id]:  # persisted before any of them is used
            self._persisted[client_id] = self.floors.raise_id_floor(client_id, end + BLOCK)
        self._next[client_id] = end
        self.port.reserve_ids(end)
        return list(range(first, end))
