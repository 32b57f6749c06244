"""Orders as the simulated TWS holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ibdesk.simtws.catalog import Instrument


class Status(StrEnum):
    """IB's order statuses, plus HELD for orders waiting for their group's transmit flag."""

    HELD = "Held"  # never reported: IB shows nothing until the group is transmitted
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"
    API_CANCELLED = "ApiCancelled"

    @property
    def done(self) -> bool:
        """Whether the order can no longer trade."""
        return self in (Status.CANCELLED, Status.FILLED, Status.INACTIVE, Status.API_CANCELLED)


SUPPORTED_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL", "MIT", "LIT", "REL", "MOC", "LOC")
SUPPORTED_TIFS = ("DAY", "GTC", "IOC", "GTD", "OPG")


@dataclass(slots=True)
class SimOrder:
    """One order at the simulated TWS.

    ``raw`` keeps every field the client sent, by IB's field name, so that openOrder can echo
    the order back exactly as placed; the typed attributes are what the engine acts on.
    """

    perm_id: int
    client_id: int
    order_id: int
    inst: Instrument
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    raw: dict[str, str]
    oca_group: str = ""
    oca_type: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    what_if: bool = False
    manual: bool = False
    status: Status = Status.HELD
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    triggered: bool = False
    created: float = 0.0
    completed_time: float = 0.0
    completed_status: str = ""
    auction_at: float = 0.0
    children: list[SimOrder] = field(default_factory=list)
    parent: SimOrder | None = None

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.action == "BUY" else -1

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(0.0, self.total_qty - self.filled)

    @property
    def working(self) -> bool:
        """Live at the exchange: transmitted, not done (children of unfilled parents wait)."""
        return self.status in (Status.SUBMITTED, Status.PRE_SUBMITTED, Status.PENDING_CANCEL)

    @property
    def active(self) -> bool:
        """Able to fill now: submitted, and its parent (if any) has filled something."""
        if self.status is not Status.SUBMITTED:
            return False
        return self.parent is None or self.parent.filled > 0

    @property
    def fillable(self) -> float:
        """How much may fill now: a bracket child only covers what its parent filled."""
        if self.parent is None:
            return self.remaining
        return max(0.0, min(self.total_qty, self.parent.filled) - self.filled)


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill, as execDetails and commissionReport report it."""

    exec_id: str
    time: float
    account: str
    inst: Instrument
    side: str
    shares: float
    price: float
    perm_id: int
    client_id: int
    order_id: int
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float
    liquidity: int
