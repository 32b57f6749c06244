"""The order ticket's vocabulary: a request to pre-fill it (from the positions panel or a
chart), bracket templates, and the ticket's figures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import OrderType, Side


class OffsetUnit(StrEnum):
    """How a take-profit or stop-loss offset from the entry is given."""

    TICKS = "ticks"
    POINTS = "points"
    DOLLARS = "dollars"
    """ money per contract (or per share) at the position's size of one """


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """Fill the ticket in for the trader (nothing is sent until Submit).

    ``bracket``: attach take-profit and stop-loss from the instrument's template; without it
    the ticket sends the one order (a close, a protective stop). ``price`` None: the ticket
    prefills from the market.
    """

    instrument: Instrument
    side: Side
    qty: float | None = None
    order_type: OrderType = OrderType.LIMIT
    price: float | None = None
    bracket: bool = True


@dataclass(frozen=True, slots=True)
class WhatIf:
    """IB's what-if answer for an order: the margin it would use and its commission.

    For a bracket it is asked for the entry (the exits only ever reduce the position);
    ``round_trip`` doubles the commission for the exit that will follow.
    """

    init_margin_change: float
    maint_margin_change: float
    commission: float
    currency: str = ""
    warning: str = ""

    @property
    def round_trip(self) -> float:
        """Entry and one exit."""
        return 2 * self.commission
