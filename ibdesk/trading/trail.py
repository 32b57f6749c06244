"""The ticket's trailing stop: a bracket's stop-loss as IB's TRAIL, trailing by ticks, points,
dollars a contract or a percent of the price, read from what the trader typed.

The first stop is the stop-loss field as for any stop; this is only how far it trails. The
amount is checked as the gate checks it (above 0, on the tick grid; a percent between 0 and
100), so the ticket never offers a trail the gate would refuse.
"""

from __future__ import annotations

import math

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import Trail
from ibdesk.domain.ticket import OffsetUnit
from ibdesk.trading.checks import price_text
from ibdesk.trading.ticket_fields import FieldError, parse_number

PERCENT = "percent"
#: The units a trail is typed in.
TRAIL_UNITS = (OffsetUnit.TICKS.value, OffsetUnit.POINTS.value, OffsetUnit.DOLLARS.value, PERCENT)


def trail_of(inst: Instrument, text: str, unit: str, round_off_tick: bool = False) -> Trail:
    """The trail typed in ``unit``, or FieldError saying what is wrong.

    Dollars (a contract) rarely land on the tick: they are rounded down to whole ticks, so
    the stop never trails further than the trader typed. Other amounts off the tick are
    refused, or rounded when ``round_off_tick`` (``[ticket] off_tick = "round"``).
    """
    if unit == PERCENT:
        percent = parse_number(text, "trailing percent")
        if not 0 < percent < 100:
            raise FieldError(f"The trailing percent must be between 0 and 100, not {percent:g}.")
        return Trail(percent=percent)
    value = parse_number(text, "trailing amount")
    if value <= 0:
        raise FieldError(f"The trailing amount must be above 0 {unit}.")
    if unit == OffsetUnit.DOLLARS:
        ticks = math.floor(value / inst.tick_value + 1e-9)
        if ticks < 1:
            raise FieldError(f"${value:g} is less than one tick (${inst.tick_value:g}).")
        return Trail(amount=float(inst.round_to_tick(ticks * inst.min_tick)))
    if unit == OffsetUnit.TICKS:
        amount = value * inst.min_tick
    elif unit == OffsetUnit.POINTS:
        amount = value
    else:
        raise FieldError(f"Unknown trailing unit {unit!r}.")
    if inst.on_tick(amount) or round_off_tick:
        rounded = float(inst.round_to_tick(amount))
        if rounded <= 0:
            raise FieldError(f"The trailing amount is less than one tick ({inst.min_tick:g}).")
        return Trail(amount=rounded)
    below = math.floor(amount / inst.min_tick + 1e-9) * inst.min_tick
    raise FieldError(
        f"A trail of {amount:g} is not on {inst.display}'s {inst.min_tick:g} tick: "
        f"{price_text(inst, below)} or {price_text(inst, below + inst.min_tick)}?"
    )
