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
    """IB's what-if answer for an order or a bracket: the margin it would use and its
    commission, each side as IB answered it.

    A bracket is asked twice: its entry (the margin: the exits only ever reduce the position;
    and the entry's ``commission``) and its exit at the stop, the worst case, asked on its own
    (``exit_commission``; NaN when the broker gave no answer for it). A single order is one
    side: ``exit_commission`` is None, and nothing is doubled into a "round trip".
    """

    init_margin_change: float
    maint_margin_change: float
    commission: float
    currency: str = ""
    warning: str = ""
    exit_commission: float | None = None

    @property
    def total_commission(self) -> float:
        """Entry plus exit for a bracket (NaN when either is unknown); the order's own
        commission otherwise."""
        if self.exit_commission is None:
            return self.commission
        return self.commission + self.exit_commission
