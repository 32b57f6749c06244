"""What a click or a drag on a chart means, as orders (no Qt: the chart calls these).

Click rules, as on a price ladder: a click below the market buys at a limit and above it sells
at a limit; with Shift, a click above the market buys on a stop and below it sells on a stop.
The context menu offers, at a price, the limit and the stop that make sense on that side of
the market and a bracket entered there; they pre-fill the ticket and send nothing.
"""

from __future__ import annotations

import math

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.order_lines import OrderLine
from ibdesk.domain.orders import OrderIntent, OrderType, Side, Source
from ibdesk.domain.ticket import TicketRequest
from ibdesk.trading.checks import price_text

CHART = Source("chart")


def moved_prices(line: OrderLine, price: float) -> dict[str, float]:
    """The price changes that put the order's line at ``price``: the limit of a limit order,
    the trigger of a stop; a stop-limit keeps the distance between its trigger and limit."""
    order = line.order
    if line.moves == "limit":
        return {"limit_price": price}
    changes = {"stop_price": price}
    if order.order_type is OrderType.STOP_LIMIT and order.limit_price is not None:
        shift = price - (order.stop_price or price)
        changes["limit_price"] = order.instrument.round_to_tick(order.limit_price + shift)
    return changes


def click_intent(
    inst: Instrument, price: float, market: float, stop: bool, qty: float
) -> OrderIntent | None:
    """The order a click at ``price`` places (see the module's click rules); None when
    there is no market to compare with or the click is on it."""
    price = inst.round_to_tick(price)
    if not math.isfinite(market) or abs(price - market) < inst.min_tick / 2 or qty <= 0:
        return None
    above = price > market
    if stop:
        side = Side.BUY if above else Side.SELL
        return OrderIntent(inst, side, qty, OrderType.STOP, CHART, stop_price=price)
    side = Side.SELL if above else Side.BUY
    return OrderIntent(inst, side, qty, OrderType.LIMIT, CHART, limit_price=price)


def ticket_requests(
    inst: Instrument, price: float, market: float
) -> list[tuple[str, TicketRequest]]:
    """The context menu's "… here" entries at a price: the limit and the stop that make
    sense on that side of the market, and a bracket entered there."""
    price = inst.round_to_tick(price)
    at = price_text(inst, price)
    below = not math.isfinite(market) or price < market
    limit_side, stop_side = (Side.BUY, Side.SELL) if below else (Side.SELL, Side.BUY)
    return [
        (
            f"{limit_side.value.title()} limit here ({at})",
            TicketRequest(inst, limit_side, order_type=OrderType.LIMIT, price=price, bracket=False),
        ),
        (
            f"{stop_side.value.title()} stop here ({at})",
            TicketRequest(inst, stop_side, order_type=OrderType.STOP, price=price, bracket=False),
        ),
        (
            f"Bracket here: {limit_side.value.lower()} at {at} with the template's exits",
            TicketRequest(inst, limit_side, order_type=OrderType.LIMIT, price=price, bracket=True),
        ),
    ]
