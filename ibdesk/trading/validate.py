"""Is an intent well-formed? Quantities, prices on the tick grid, the prices each order type
uses, a bracket's exits on the right sides of its entry (and its trailing stop's amount or
percent), and a modify's new terms.

Pure functions that return the intent as it will be sent or raise ValueError saying what is
wrong in plain words; the gate calls them before any check runs, the ticket's rules mirror them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import (
    BracketIntent,
    ModifyIntent,
    OrderIntent,
    OrderSnapshot,
    OrderType,
    Trail,
)

Intent = OrderIntent | BracketIntent


def validated(
    intent: Intent, last_price: Callable[[int], float], round_off_tick: bool = False
) -> Intent:
    """The intent with prices on the tick grid, or ValueError saying what is wrong."""
    if isinstance(intent, BracketIntent):
        entry = validated_order(intent.entry, round_off_tick)
        inst = entry.instrument
        take = on_tick(inst, intent.take_profit, "take-profit", round_off_tick)
        stop = on_tick(inst, intent.stop_loss, "stop-loss", round_off_tick)
        # A stop-limit enters near its trigger; its limit only bounds the fill.
        reference = entry.stop_price or entry.limit_price or last_price(inst.con_id)
        sign = entry.side.sign
        if sign * (take - stop) <= 0:
            raise ValueError(
                "The take-profit must be above the stop-loss for a buy (below it for a sell)."
            )
        if not math.isnan(reference) and (
            sign * (take - reference) <= 0 or sign * (reference - stop) <= 0
        ):
            raise ValueError(
                f"The take-profit ({take:g}) and stop-loss ({stop:g}) must be "
                f"on either side of the entry ({reference:g})."
            )
        trail = intent.trail and validated_trail(inst, intent.trail, round_off_tick)
        return BracketIntent(entry, take, stop, trail)
    return validated_order(intent, round_off_tick)


def validated_trail(inst: Instrument, trail: Trail, round_off_tick: bool = False) -> Trail:
    """A trailing stop's amount (price points, on the tick grid) or percent (between 0 and
    100), exactly one of them; or ValueError saying what is wrong."""
    amount, percent = trail.amount, trail.percent
    if amount is None and percent is None:
        raise ValueError("A trailing stop needs an amount or a percent to trail by.")
    if amount is not None and percent is not None:
        raise ValueError("A trailing stop trails by an amount or a percent, not both.")
    if amount is not None:
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"The trailing amount must be above 0, not {amount!r}.")
        return Trail(amount=on_tick(inst, amount, "trailing amount", round_off_tick))
    assert percent is not None
    if not (math.isfinite(percent) and 0 < percent < 100):
        raise ValueError(f"The trailing percent must be between 0 and 100, not {percent!r}.")
    return trail


def validated_order(o: OrderIntent, round_off_tick: bool = False) -> OrderIntent:
    """An order with its prices on the tick grid, or ValueError saying what is wrong."""
    if not (math.isfinite(o.qty) and o.qty > 0):
        raise ValueError(f"Quantity must be a positive number, not {o.qty!r}.")
    if o.instrument.sec_type is SecType.FUTURE and not float(o.qty).is_integer():
        raise ValueError(f"Futures trade in whole contracts, not {o.qty:g}.")
    limit, stop = o.limit_price, o.stop_price
    trail = o.order_type is OrderType.TRAIL
    uses_stop = o.order_type.needs_stop or trail
    # A price the type does not use would still go on the wire (lmtPrice/auxPrice):
    # refuse it rather than send something the trader did not mean.
    if limit is not None and not o.order_type.needs_limit:
        raise ValueError(f"A {o.order_type.value} order takes no limit price.")
    if stop is not None and not uses_stop:
        raise ValueError(f"A {o.order_type.value} order takes no stop price.")
    if not trail and (o.trailing_percent is not None or o.trail_stop_price is not None):
        raise ValueError(f"A {o.order_type.value} order takes no trailing stop.")
    if o.order_type.needs_limit:
        if limit is None:
            raise ValueError(f"A {o.order_type.value} order needs a limit price.")
        limit = on_tick(o.instrument, limit, "limit price", round_off_tick)
    first = o.trail_stop_price
    if trail:
        # By an amount (auxPrice, kept in stop_price) or by a percent, never both.
        by = Trail(stop, o.trailing_percent)
        checked = validated_trail(o.instrument, by, round_off_tick)
        stop = checked.amount
        if first is not None:
            first = on_tick(o.instrument, first, "trailing stop's first stop", round_off_tick)
    elif uses_stop:
        if stop is None:
            raise ValueError(f"A {o.order_type.value} order needs a stop price.")
        stop = on_tick(o.instrument, stop, "stop price", round_off_tick)
    if (limit, stop, first) == (o.limit_price, o.stop_price, o.trail_stop_price):
        return o
    return dataclasses.replace(o, limit_price=limit, stop_price=stop, trail_stop_price=first)


def on_tick(inst: Instrument, price: float, what: str, round_off_tick: bool = False) -> float:
    """A price on the instrument's tick grid (rounded when ``round_off_tick``), or ValueError
    naming the two nearest ticks."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"The {what} must be a positive price, not {price!r}.")
    if inst.on_tick(price):
        return float(inst.round_to_tick(price))
    rounded = float(inst.round_to_tick(price))
    if round_off_tick:
        return rounded
    below = rounded if rounded < price else rounded - inst.min_tick
    raise ValueError(
        f"The {what} {price:g} is not on {inst.display}'s {inst.min_tick:g} "
        f"tick: {below:g} or {below + inst.min_tick:g}?"
    )


def new_terms(
    snap: OrderSnapshot, m: ModifyIntent, round_off_tick: bool = False
) -> tuple[float, float | None, float | None]:
    """A modify's quantity and prices as the order would have them, or ValueError."""
    qty = snap.qty if m.qty is None else m.qty
    if not (math.isfinite(qty) and qty > 0):
        raise ValueError(f"Quantity must be a positive number, not {qty!r}.")
    if qty < snap.filled:
        raise ValueError(f"{snap.filled:g} already filled: the quantity cannot go below it.")
    if snap.instrument.sec_type is SecType.FUTURE and not float(qty).is_integer():
        raise ValueError(f"Futures trade in whole contracts, not {qty:g}.")
    limit = snap.limit_price if m.limit_price is None else m.limit_price
    stop = snap.stop_price if m.stop_price is None else m.stop_price
    if m.limit_price is not None:
        limit = on_tick(snap.instrument, m.limit_price, "limit price", round_off_tick)
    if m.stop_price is not None:
        stop = on_tick(snap.instrument, m.stop_price, "stop price", round_off_tick)
    if (qty, limit, stop) == (snap.qty, snap.limit_price, snap.stop_price):
        raise ValueError("Nothing to change: the order already has these terms.")
    return qty, limit, stop


def take_leg(b: BracketIntent) -> OrderIntent:
    """A bracket's take-profit: a limit on the exit side for the entry's quantity."""
    e = b.entry
    return OrderIntent(
        e.instrument,
        e.side.opposite,
        e.qty,
        OrderType.LIMIT,
        e.source,
        limit_price=b.take_profit,
        tif=e.tif,
        outside_rth=e.outside_rth,
        account=e.account,
        why=e.why,
    )


def stop_leg(b: BracketIntent) -> OrderIntent:
    """A bracket's stop-loss: a stop on the exit side for the entry's quantity; with a
    trail, a TRAIL that starts at the stop-loss and trails by the amount or percent."""
    e = b.entry
    leg = OrderIntent(
        e.instrument,
        e.side.opposite,
        e.qty,
        OrderType.STOP,
        e.source,
        stop_price=b.stop_loss,
        tif=e.tif,
        outside_rth=e.outside_rth,
        account=e.account,
        why=e.why,
    )
    if b.trail is None:
        return leg
    return dataclasses.replace(
        leg,
        order_type=OrderType.TRAIL,
        stop_price=b.trail.amount,
        trailing_percent=b.trail.percent,
        trail_stop_price=b.stop_loss,
    )
