"""What trading needs from the broker, as a protocol (ibdesk.broker.orders implements it), and
the door a desk offers to whoever trades through it (:class:`OrderDoor`)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ibdesk.domain.orders import (
    BLOTTER,
    BracketIntent,
    GateDecision,
    OrderIntent,
    OrderSnapshot,
    Source,
)


class OrderPort(Protocol):
    """Sends order messages; every call returns at once (the message may wait in the pacer).

    Ids are allocated by trading (ids.py); the port only makes sure the client library's own
    request-id counter stays above them.
    """

    @property
    def connected(self) -> bool:
        """Whether orders can be sent now."""

    @property
    def client_id(self) -> int:
        """The API client id orders are placed under."""

    @property
    def account(self) -> str:
        """The account an order without one goes to ("" before the first connection)."""

    def next_valid_id(self) -> int:
        """The broker's nextValidId as last announced (and raised by requests since)."""

    def reserve_ids(self, above: int) -> None:
        """Make the library's request ids start above ``above`` (ids must never collide)."""

    def place(
        self,
        intent: OrderIntent,
        ref: str,
        order_id: int,
        parent_id: int = 0,
        transmit: bool = True,
        oca_group: str = "",
        oca_type: int = 0,
    ) -> None:
        """Place one order (a bracket is three calls with parent ids and transmit flags)."""

    def modify(
        self, snap: OrderSnapshot, qty: float, limit_price: float | None, stop_price: float | None
    ) -> None:
        """Re-place a working order with new terms.

        Raises:
            LookupError: the broker holds it done (a fill crossed the modify): nothing sent.
        """

    def cancel(self, snap: OrderSnapshot) -> None:
        """Cancel one order (through the priority lane)."""

    def cancel_all(self) -> None:
        """reqGlobalCancel: every open order in the account, whoever placed it."""

    def withdraw(self, order_ids: set[int] | None = None) -> set[int]:
        """Take order messages still queued (not on the wire) out of the queue; None means
        all of them. Returns the order ids withdrawn."""


class JournalWriter(Protocol):
    """The journal calls the gate makes (ibdesk.trading.journal.Journal)."""

    def intent(
        self,
        ref: str,
        kind: str,
        source: str,
        account: str,
        details: Mapping[str, Any],
        parent_ref: str = "",
    ) -> None:
        """Record an intent."""

    def order(self, snap: OrderSnapshot) -> None:
        """Record an order's state."""

    def knows(self, ref: str) -> bool:
        """Whether an order with this orderRef was ever journaled."""

    def batch(self) -> AbstractContextManager[None]:
        """The writes of a ``with`` block as one transaction (one commit)."""

    def action(self, who: str, action: str, detail: str = "") -> None:
        """Record a user action or a gate decision."""


class OrderBook(Protocol):
    """The order store calls the gate makes (ibdesk.state.orders.OrderStore)."""

    def get(self, ref: str) -> OrderSnapshot | None:
        """An order by orderRef."""

    def put(self, snap: OrderSnapshot) -> bool:
        """Store a snapshot."""

    def merge(self, ref: str, **changes: Any) -> OrderSnapshot | None:
        """Change fields of an order."""

    def live(self) -> list[OrderSnapshot]:
        """Orders that may still trade."""


class OrderDoor(Protocol):
    """Orders through a desk's one gate: what the window's panels (``desk.api.OrderOps``)
    and the strategy runner (``strategies.host.StrategyHost``) both trade through."""

    def place(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Send an order or bracket through the gate."""

    def modify_order(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """Change a working order through the gate."""

    def cancel_order(self, ref: str, source: Source = BLOTTER) -> GateDecision:
        """Cancel one order."""
