"""The pre-trade checks: small pure functions the OrderGate runs on every new order.

Each check takes the order and a read-only ``CheckContext`` and returns None to allow it or
the reason to deny it, in plain words with the numbers. Limits are keyword arguments, bound by
``build_checks`` with ``functools.partial`` (so the Risk panel can read them back from
``.keywords``). No I/O, no clock but ``ctx.now``, no Qt and no client library.

Exits must never be blocked by exposure limits: the quantity, notional, position,
orders-per-minute and trading-hours checks (and the daily loss limit) let through any order
for which ``reduces_position`` is True.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderIntent, OrderType
from ibdesk.trading.hours import Session, parse_sessions

if TYPE_CHECKING:
    from ibdesk.config import RiskSettings
    from ibdesk.trading.context import Check, CheckContext

#: How far back ``max_orders_per_minute`` looks, in seconds.
MINUTE = 60.0
_QTY_EPS = 1e-9  # fractional share quantities add up with float error
_DASH = "\u2013"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# ---- helpers ----------------------------------------------------------------------------------


def num_text(x: float) -> str:
    """A quantity or limit: ``6``, ``1,000``, ``0.5``."""
    if math.isfinite(x) and float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.6f}".rstrip("0").rstrip(".") if math.isfinite(x) else str(x)


def price_text(inst: Instrument, price: float) -> str:
    """A price with the instrument's tick precision, at least two decimals: ``6850.00``."""
    tick = f"{inst.min_tick:.10f}".rstrip("0").partition(".")[2]
    return f"{price:.{min(max(2, len(tick)), 10)}f}"


def _name(inst: Instrument) -> str:
    """How a denial names an instrument: the root for futures, else the display symbol."""
    return inst.symbol if inst.sec_type is SecType.FUTURE else inst.display


def limit_for(limits: Mapping[str, float], inst: Instrument) -> float:
    """The limit for an instrument: its root (``ES``), its display name (``EUR.USD``), its
    security type's default (``*FUT``, ``*STK``, ``*CASH``), else ``*``."""
    for key in (inst.symbol.upper(), inst.display.upper(), f"*{inst.sec_type.value}", "*"):
        if key in limits:
            return limits[key]
    return 0.0


def _same_account(a: str, b: str) -> bool:
    # An empty account means "the default one": matching it to any account errs toward more
    # working orders counted, i.e. toward the stricter answer in both places it is used.
    return not a or not b or a == b


def _working_same_side(intent: OrderIntent, ctx: CheckContext) -> float:
    """Remaining quantity of live orders on the intent's side, instrument and account; the
    legs of one bracket (one-cancels-other: only the larger can fill) count once."""
    alone = 0.0
    brackets: dict[str, float] = {}
    for o in ctx.working:
        if (
            o.state.live
            and o.side is intent.side
            and o.instrument.con_id == intent.instrument.con_id
            and _same_account(o.account, intent.account)
        ):
            if o.parent_ref:
                brackets[o.parent_ref] = max(brackets.get(o.parent_ref, 0.0), o.remaining)
            else:
                alone += o.remaining
    return alone + sum(brackets.values())


def reduces_position(intent: OrderIntent, ctx: CheckContext) -> bool:
    """Whether an order only reduces an existing position (an exit).

    True when its side is opposite to the position and its quantity is no more than the
    position less the remaining quantity of live working orders already reducing it (same
    side, instrument and account). An unknown (NaN) or flat position is never reduced.
    """
    position = ctx.position(intent.account, intent.instrument.con_id)
    if not math.isfinite(position) or position * intent.side.sign >= 0:
        return False
    return intent.qty <= abs(position) - _working_same_side(intent, ctx) + _QTY_EPS


def _stop_price(intent: OrderIntent) -> float | None:
    """Where an order's stop is: the trigger of a STP or STP LMT, a TRAIL's first stop (its
    ``stop_price`` is the trailing amount, not a price); None without one."""
    if intent.order_type is OrderType.TRAIL:
        return intent.trail_stop_price
    return intent.stop_price


def _order_price(intent: OrderIntent, ctx: CheckContext) -> float:
    """The price an order is valued at: its limit, else its stop, else the market (NaN)."""
    if intent.limit_price is not None:
        return intent.limit_price
    stop = _stop_price(intent)
    if stop is not None:
        return stop
    return ctx.last_price(intent.instrument.con_id)


# ---- the checks -------------------------------------------------------------------------------


def max_order_qty(
    intent: OrderIntent, ctx: CheckContext, *, limits: Mapping[str, float]
) -> str | None:
    """Deny an order larger than its root's limit (``*``: every other root; 0: off).

    Orders that only reduce a position are always allowed.
    """
    limit = limit_for(limits, intent.instrument)
    if limit <= 0 or intent.qty <= limit or reduces_position(intent, ctx):
        return None
    return (
        f"{_name(intent.instrument)} order quantity {num_text(intent.qty)} is over the limit "
        f"of {num_text(limit)}."
    )


def max_order_notional(intent: OrderIntent, ctx: CheckContext, *, limit: float) -> str | None:
    """Deny an order worth more than ``limit`` (qty x price x multiplier, in the
    instrument's currency), and one that cannot be valued because no price is known.

    Orders that only reduce a position are always allowed.
    """
    if limit <= 0 or reduces_position(intent, ctx):
        return None
    inst = intent.instrument
    price = _order_price(intent, ctx)
    if not math.isfinite(price):
        return (
            f"{_name(inst)} order cannot be valued for the notional limit: no market price "
            f"for {_name(inst)}; add it to the watchlist."
        )
    value = intent.qty * abs(price) * inst.multiplier
    if value <= limit:
        return None
    return (
        f"{_name(inst)} order value {value:,.2f} {inst.currency} ({num_text(intent.qty)} \u00d7 "
        f"{price_text(inst, price)} \u00d7 {num_text(inst.multiplier)}) is over the limit of "
        f"{limit:,.2f}."
    )


def _pct_text(x: float, limit: float) -> tuple[str, str]:
    """Two percentages with enough decimals to tell them apart (0.501% vs 0.50%)."""
    for places in (2, 3, 4, 6):
        a, b = f"{x:.{places}f}", f"{limit:.{places}f}"
        if a != b:
            break
    return a + "%", b + "%"


def price_collar(
    intent: OrderIntent, ctx: CheckContext, *, ticks: float = 0.0, pct: float = 0.0
) -> str | None:
    """Deny a limit or stop price farther from the market than ``ticks`` ticks (if > 0),
    else ``pct`` percent (if > 0). A priced order with no market price known is denied.

    Market orders pass, and so does a TRAIL left to start where IB puts it; a TRAIL's first
    stop (``trail_stop_price``) is a price like any stop's (its trailing amount is not).
    """
    prices = [
        (label, p)
        for label, p in (("Limit", intent.limit_price), ("Stop", _stop_price(intent)))
        if p is not None
    ]
    if not prices or (ticks <= 0 and pct <= 0):
        return None
    inst = intent.instrument
    market = ctx.last_price(inst.con_id)
    if not math.isfinite(market):
        return (
            f"No market price for {_name(inst)} to check the collar against; "
            "add it to the watchlist."
        )
    for label, p in prices:
        away = abs(p - market)
        if ticks > 0:
            in_ticks = away / inst.min_tick
            if in_ticks <= ticks + 1e-9:
                continue
            return (
                f"{label} {price_text(inst, p)} is {num_text(round(in_ticks, 2))} ticks from "
                f"the market {price_text(inst, market)}; the collar is {num_text(ticks)} ticks."
            )
        band = abs(market) * pct / 100
        if away <= band * (1 + 1e-9):
            continue
        shown, collar = _pct_text(away / abs(market) * 100 if market else math.inf, pct)
        return (
            f"{label} {price_text(inst, p)} is {shown} from the market {price_text(inst, market)}; "
            f"the collar is {collar}."
        )
    return None


def _side_word(qty: float) -> str:
    return (
        f"{num_text(abs(qty))} long"
        if qty > 0
        else f"{num_text(abs(qty))} short"
        if qty
        else "flat"
    )


def max_position(
    intent: OrderIntent, ctx: CheckContext, *, limits: Mapping[str, float]
) -> str | None:
    """Deny an order that could take the position in its instrument past its root's limit,
    counting every live working order on the same side as if it filled too.

    Orders that only reduce a position are always allowed.
    """
    inst = intent.instrument
    limit = limit_for(limits, inst)
    if limit <= 0 or reduces_position(intent, ctx):
        return None
    position = ctx.position(intent.account, inst.con_id)
    if not math.isfinite(position):
        known = f"{_name(inst)} position is not known"
        return f"{known}, so its limit of {num_text(limit)} cannot be checked."
    working = _working_same_side(intent, ctx)
    after = position + intent.side.sign * (working + intent.qty)
    if abs(after) <= limit:
        return None
    side = "buy" if intent.side.sign > 0 else "sell"
    return (
        f"{_name(inst)} position would be {_side_word(after)}; the limit is {num_text(limit)} "
        f"(now {_side_word(position)}, {num_text(working)} more in working {side} orders, "
        f"{num_text(intent.qty)} in this one)."
    )


def max_open_orders(intent: OrderIntent, ctx: CheckContext, *, limit: int) -> str | None:
    """Deny a new order when ``limit`` orders are already working (0: off). A bracket
    adds three (``ctx.new_orders``)."""
    count = sum(1 for o in ctx.working if o.state.live)
    if limit <= 0 or count + ctx.new_orders <= limit:
        return None
    adding = "" if ctx.new_orders == 1 else f" and this adds {ctx.new_orders}"
    return f"{count} orders are already working{adding}; the limit is {limit} open orders."


def max_orders_per_minute(intent: OrderIntent, ctx: CheckContext, *, limit: int) -> str | None:
    """Deny an order when its source (``str(intent.source)``) already had ``limit`` orders
    accepted in the last 60 s (an order exactly 60 s old no longer counts).

    Orders that only reduce a position are always allowed.
    """
    if limit <= 0:
        return None
    source = str(intent.source)
    times = sorted(t for t, src, _ in ctx.recent if src == source and ctx.now - t < MINUTE)
    if len(times) < limit or reduces_position(intent, ctx):
        return None
    wait = max(1, math.ceil(times[len(times) - limit] + MINUTE - ctx.now))
    return (
        f"{len(times)} orders from {source} in the last minute; the limit is {limit}. "
        f"The next can go in {wait} s."
    )


def _same_terms(a: OrderIntent, b: OrderIntent) -> bool:
    return (
        a.instrument.con_id == b.instrument.con_id
        and a.side is b.side
        and a.qty == b.qty
        and a.order_type is b.order_type
        and a.limit_price == b.limit_price
        and a.stop_price == b.stop_price
    )


def _describe(o: OrderIntent) -> str:
    inst = o.instrument
    text = f"{o.side.value} {num_text(o.qty)} {inst.display} {o.order_type.value}"
    for p in (o.stop_price, o.limit_price):
        if p is not None:
            text += f" {price_text(inst, p)}"
    return text


def duplicate_guard(intent: OrderIntent, ctx: CheckContext, *, window_ms: float) -> str | None:
    """Deny an order with the same instrument, side, quantity, type, limit and stop as one
    accepted at most ``window_ms`` milliseconds ago (a double click, a bouncing hotkey)."""
    if window_ms <= 0:
        return None
    for t, source, earlier in reversed(ctx.recent):
        elapsed_ms = (ctx.now - t) * 1000
        if elapsed_ms <= window_ms and _same_terms(intent, earlier):
            return (
                f"Looks like a duplicate of an order sent {max(0.0, elapsed_ms):.0f} ms ago "
                f"({source}: {_describe(earlier)}); the guard is {num_text(window_ms)} ms."
            )
    return None


# ---- trading hours ----------------------------------------------------------------------------


def _spans(sessions: list[Session]) -> str:
    return ", ".join(f"{s:%H:%M}{_DASH}{e:%H:%M}" for _, _, s, e in sessions)


def trading_hours(intent: OrderIntent, ctx: CheckContext) -> str | None:
    """Deny an order outside the instrument's regular (liquid) hours, read in its exchange's
    time zone. An instrument without an hours string passes; one that cannot be read is
    denied, since the check cannot vouch for it.

    Orders that only reduce a position are always allowed: "regular hours only" is about not
    opening risk after the close, never about trapping a trader in a position.
    """
    inst = intent.instrument
    if not inst.liquid_hours.strip() or reduces_position(intent, ctx):
        return None
    name = _name(inst)
    try:
        sessions = parse_sessions(inst.liquid_hours, inst.time_zone)
    except ValueError as exc:
        return f"{name}'s trading hours from IB cannot be read ({exc}), so it cannot be checked."
    if any(start <= ctx.now < end for start, end, _, _ in sessions):
        return None
    zone = ZoneInfo(inst.time_zone)
    today = dt.datetime.fromtimestamp(ctx.now, zone).date()
    todays = [s for s in sessions if s[2].date() == today]
    if todays:
        when = f"{_spans(todays)} {inst.time_zone}"
    else:
        ahead = [s for s in sessions if s[0] > ctx.now]
        when = "closed today"
        if ahead:
            day = ahead[0][2].date()
            same_day = [s for s in ahead if s[2].date() == day]
            when += (
                f"; next {_WEEKDAYS[day.weekday()]} {day:%Y-%m-%d} "
                f"{_spans(same_day)} {inst.time_zone}"
            )
    return f"{name} is outside its regular trading hours ({when})."


def daily_loss(intent: OrderIntent, ctx: CheckContext, *, limit: float) -> str | None:
    """Deny new risk once the day's P&L is at or below ``-limit`` (unknown P&L: allow).

    Orders that only reduce a position are allowed, so a trader can still get out. After a
    breach, a typed re-arm waives the limit until the next session (``ctx.loss_limit_waived``):
    the trader has decided, and the journal says who and why.
    """
    pnl = ctx.daily_pnl
    if limit <= 0 or math.isnan(pnl) or pnl > -limit or ctx.loss_limit_waived:
        return None
    if reduces_position(intent, ctx):
        return None
    return (
        f"Daily loss limit reached: {pnl:,.2f} of {-limit:,.2f}. "
        "Only orders that reduce a position are allowed."
    )


# ---- assembly ---------------------------------------------------------------------------------


def build_checks(risk: RiskSettings) -> list[tuple[str, Check]]:
    """The enabled checks, named, in the order the gate runs them.

    Desk-wide stops first (daily loss, trading hours), then the guards against runaway
    senders (duplicates, rate, open orders), then the order's own size and price, and last
    the exposure it adds; the first denial is the one the trader reads.
    """
    checks: list[tuple[str, Check]] = []
    if risk.daily_loss_limit > 0:
        checks.append(("daily_loss", functools.partial(daily_loss, limit=risk.daily_loss_limit)))
    if risk.trading_hours_only:
        checks.append(("trading_hours", trading_hours))
    if risk.duplicate_window_ms > 0:
        checks.append(
            (
                "duplicate_guard",
                functools.partial(duplicate_guard, window_ms=risk.duplicate_window_ms),
            )
        )
    if risk.max_orders_per_minute > 0:
        checks.append(
            (
                "max_orders_per_minute",
                functools.partial(max_orders_per_minute, limit=risk.max_orders_per_minute),
            )
        )
    if risk.max_open_orders > 0:
        checks.append(
            ("max_open_orders", functools.partial(max_open_orders, limit=risk.max_open_orders))
        )
    if any(v > 0 for v in risk.max_order_qty.values()):
        checks.append(
            ("max_order_qty", functools.partial(max_order_qty, limits=dict(risk.max_order_qty)))
        )
    if risk.collar_ticks > 0 or risk.collar_pct > 0:
        checks.append(
            (
                "price_collar",
                functools.partial(price_collar, ticks=risk.collar_ticks, pct=risk.collar_pct),
            )
        )
    if risk.max_order_notional > 0:
        checks.append(
            (
                "max_order_notional",
                functools.partial(max_order_notional, limit=risk.max_order_notional),
            )
        )
    if any(v > 0 for v in risk.max_position.values()):
        checks.append(
            ("max_position", functools.partial(max_position, limits=dict(risk.max_position)))
        )
    return checks


__all__ = [
    "MINUTE",
    "build_checks",
    "daily_loss",
    "duplicate_guard",
    "limit_for",
    "max_open_orders",
    "max_order_notional",
    "max_order_qty",
    "max_orders_per_minute",
    "max_position",
    "parse_sessions",
    "price_collar",
    "reduces_position",
    "trading_hours",
]
