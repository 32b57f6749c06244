"""Orders as ibdesk thinks of them: intents (what someone wants) and snapshots (what the
broker says), with the honest states in between.

Every order carries an ``orderRef`` of the form ``<source>#<client id>.<order id>``
(``ticket#1.1042``, ``strategy:trend#1.1043``), so it can be attributed after a restart and
from other clients; it is unique because order ids never are reused (ibdesk.trading.ids).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from ibdesk.domain.instruments import Instrument


class Side(StrEnum):
    """Buy or sell."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The side that closes this one."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """The order types ibdesk sends."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAIL = "TRAIL"

    @property
    def needs_limit(self) -> bool:
        """Whether a limit price is required."""
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT)

    @property
    def needs_stop(self) -> bool:
        """Whether a stop (trigger) price is required."""
        return self in (OrderType.STOP, OrderType.STOP_LIMIT)


class Tif(StrEnum):
    """Time in force."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


SOURCE_KINDS = (
    "ticket",
    "chart",
    "hotkey",
    "strategy",
    "flatten",
    "kill",
    "blotter",
    "api",
    "external",
)


@dataclass(frozen=True, slots=True)
class Source:
    """Who asked for an order: ``ticket``, ``chart``, ``hotkey``, ``strategy:<id>``,
    ``flatten``, ``kill``, ``blotter``; ``external`` for orders placed outside ibdesk."""

    kind: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown order source {self.kind!r}")
        if self.kind == "strategy" and not self.name:
            raise ValueError("a strategy source needs the strategy's id")
        if any(c in self.name for c in "#\0"):
            raise ValueError(f"a source name may not contain '#': {self.name!r}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @classmethod
    def parse(cls, text: str) -> Source:
        """``strategy:trend`` -> Source("strategy", "trend"); unknown text is ``external``."""
        kind, _, name = text.partition(":")
        try:
            return cls(kind, name)
        except ValueError:
            return cls("external", text.replace("#", "")[:40])


BLOTTER = Source("blotter")
""" the orders panel's own edits, cancels and Cancel all """


def order_ref(source: Source, client_id: int, order_id: int) -> str:
    """The orderRef of an order: its source, ``#``, and the client and order ids that no
    other order of this journal ever had (random digits would clash: 6 hex digits do 3 %
    of the time within 1,000 refs)."""
    return f"{source}#{client_id}.{order_id}"


def source_of(ref: str) -> Source:
    """The source recorded in an orderRef (``external`` for refs ibdesk did not make)."""
    head, sep, _ = ref.rpartition("#")
    return Source.parse(head) if sep else Source("external", ref[:40] if ref else "")


def client_of(ref: str) -> int | None:
    """The API client id recorded in an orderRef ibdesk made (``strategy:trend#7.1043`` ->
    7); None for a ref it did not make."""
    _, sep, ids = ref.rpartition("#")
    client, dot, order = ids.partition(".")
    if not sep or not dot or not client.isdigit() or not order.isdigit():
        return None
    return int(client)


def attribution(ref: str, own_client_id: int | None = None) -> str:
    """Who placed an order, in words: its source (``strategy:trend``, ``ticket``), and for
    an order another API client made, that client too (``strategy sma_cross @ client 7``:
    an ``ibdesk run`` elsewhere, whose orders this desk only watches)."""
    source = source_of(ref)
    client = client_of(ref)
    if client is None or own_client_id is None or client == own_client_id:
        return str(source)
    who = f"{source.kind} {source.name}" if source.name else source.kind
    return f"{who} @ client {client}"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order someone wants placed.

    ``stop_price`` is the trigger of STP and STP LMT orders and the trailing amount of TRAIL
    (IB's auxPrice, in price points); a TRAIL may trail by ``trailing_percent`` instead, and
    ``trail_stop_price`` is where its stop starts (IB's trailStopPrice; None: IB starts it the
    trailing amount from the market). ``why`` is what the asker says of it (a strategy's
    signal and its values): kept with the order in the journal, the blotter and the chart.
    """

    instrument: Instrument
    side: Side
    qty: float
    order_type: OrderType
    source: Source
    limit_price: float | None = None
    stop_price: float | None = None
    tif: Tif = Tif.DAY
    outside_rth: bool = False
    account: str = ""
    why: str = ""
    trailing_percent: float | None = None
    trail_stop_price: float | None = None

    @property
    def signed_qty(self) -> float:
        """Quantity with the side's sign."""
        return self.side.sign * self.qty


@dataclass(frozen=True, slots=True)
class Trail:
    """How a trailing stop follows the market: by ``amount`` (price points) or by ``percent``
    of the price, one of the two (IB's TRAIL: auxPrice or trailingPercent)."""

    amount: float | None = None
    percent: float | None = None


@dataclass(frozen=True, slots=True)
class BracketIntent:
    """An entry with an attached take-profit (limit) and stop-loss (stop), one-cancels-other,
    sent as a native IB bracket so it survives an app crash.

    With ``trail`` the stop-loss is a trailing stop (TRAIL) that starts at ``stop_loss`` and
    follows the market in the position's favour by the trail's amount or percent.
    """

    entry: OrderIntent
    take_profit: float
    stop_loss: float
    trail: Trail | None = None

    @property
    def source(self) -> Source:
        """Who asked for the bracket."""
        return self.entry.source


@dataclass(frozen=True, slots=True)
class ModifyIntent:
    """Change the quantity and/or prices of a working order (None: keep)."""

    ref: str
    source: Source
    qty: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


@dataclass(frozen=True, slots=True)
class CancelIntent:
    """Cancel one order."""

    ref: str
    source: Source


class OrderState(StrEnum):
    """Where an order stands, honestly.

    QUEUED: accepted by the gate, waiting for the message budget.
    SENT: on the wire, not yet acknowledged.
    WORKING / PARTIAL: acknowledged by the broker (held bracket children are WORKING too).
    FILLED, CANCELLED, REJECTED, INACTIVE: final, as the broker said.
    NOT_SENT: never reached the wire (the connection dropped while it was queued); shown,
        never replayed automatically.
    UNKNOWN: sent, but the connection dropped before the broker answered, or restored from
        the journal and not yet confirmed; reconciliation settles it.
    GONE: the broker does not report it after a full sync (a different TWS or simulator,
        or another client's order this client is not told about): never shown as working,
        never counted as cover or risk; the broker's own report brings it back.
    """

    QUEUED = "Queued"
    SENT = "Sent"
    WORKING = "Working"
    PARTIAL = "Partially filled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    INACTIVE = "Inactive"
    NOT_SENT = "Not sent"
    UNKNOWN = "Unknown"
    GONE = "Gone"

    @property
    def final(self) -> bool:
        """Whether nothing more will happen to the order."""
        return self in (
            OrderState.FILLED,
            OrderState.CANCELLED,
            OrderState.REJECTED,
            OrderState.INACTIVE,
            OrderState.NOT_SENT,
            OrderState.GONE,
        )

    @property
    def live(self) -> bool:
        """Whether the order may still trade (or might, when UNKNOWN)."""
        return self in (
            OrderState.QUEUED,
            OrderState.SENT,
            OrderState.WORKING,
            OrderState.PARTIAL,
            OrderState.UNKNOWN,
        )


#: IB's order statuses mapped to states.
BROKER_STATES = {
    "PendingSubmit": OrderState.SENT,
    "ApiPending": OrderState.SENT,
    "PreSubmitted": OrderState.WORKING,
    "Submitted": OrderState.WORKING,
    "PendingCancel": OrderState.WORKING,
    "ApiCancelled": OrderState.CANCELLED,
    "Cancelled": OrderState.CANCELLED,
    "Filled": OrderState.FILLED,
    "Inactive": OrderState.INACTIVE,
}


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """One order as ibdesk knows it: the intent's terms, the broker's ids and status.

    ``ref`` is the orderRef (the key); orders placed outside ibdesk get ``ext:<permId>``.
    """

    ref: str
    instrument: Instrument
    side: Side
    qty: float
    order_type: OrderType
    state: OrderState
    account: str = ""
    limit_price: float | None = None
    stop_price: float | None = None
    tif: Tif = Tif.DAY
    order_id: int = 0
    perm_id: int = 0
    client_id: int = 0
    parent_ref: str = ""
    filled: float = 0.0
    avg_fill_price: float = math.nan
    broker_status: str = ""
    reason: str = ""
    created: float = 0.0
    updated: float = 0.0
    why: str = ""
    """ what its asker said of it (OrderIntent.why) """

    @property
    def source(self) -> Source:
        """Who placed it (from the orderRef)."""
        return source_of(self.ref)

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(0.0, self.qty - self.filled)


@dataclass(frozen=True, slots=True)
class FillSnapshot:
    """One execution with its commission (NaN until the commission report arrives)."""

    exec_id: str
    time: float
    ref: str
    order_id: int
    perm_id: int
    instrument: Instrument
    side: Side
    qty: float
    price: float
    account: str
    commission: float = math.nan
    realized_pnl: float = math.nan


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's answer to an intent: accepted (with the orderRefs made) or denied (why)."""

    accepted: bool
    refs: tuple[str, ...] = ()
    reason: str = ""
    check: str = ""
    details: dict[str, str] = field(default_factory=dict)

    @classmethod
    def deny(cls, check: str, reason: str) -> GateDecision:
        """A refusal by one named check."""
        return cls(False, (), reason, check)
