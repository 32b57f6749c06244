"""The order ticket's rules, without Qt: what the trader typed becomes either an order (with
its figures) or a message beside each field that is wrong. Nothing here sends anything.

Prices and quantities arrive as the text typed, so that a decimal comma, ``nan`` or an empty
field gets a message of its own instead of a silent zero. The ticket panel calls
``evaluate`` on every keystroke; Submit is enabled only when no field has a message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import (
    BracketIntent,
    OrderIntent,
    OrderType,
    Side,
    Source,
    Tif,
)
from ibdesk.domain.ticket import OffsetUnit
from ibdesk.trading.checks import num_text, price_text
from ibdesk.trading.ticket_fields import FieldError as _FieldError
from ibdesk.trading.ticket_fields import parse_number
from ibdesk.trading.trail import trail_of

TICKET = Source("ticket")
#: Entry types the ticket offers (TRAIL is not a bracket entry).
ENTRY_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)
#: Without a configured limit, a quantity above this is a typo, not an order.
ABSURD_QTY = 1_000_000.0
#: The field names ``TicketResult.errors`` uses.
FIELDS = ("instrument", "qty", "risk", "entry", "limit", "take_profit", "stop_loss", "trail")


@dataclass(frozen=True, slots=True)
class TicketForm:
    """What is in the ticket, as typed.

    ``entry`` is the limit price of LMT, the trigger of STP and STP LMT; ``limit`` the limit of
    STP LMT. ``exits`` says how take-profit and stop-loss are given: ``price``, or an offset
    from the entry in ``ticks``, ``points`` or ``dollars`` (per contract). A non-empty
    ``risk`` (dollars) sets the quantity. ``stop_type`` TRAIL makes the stop-loss a trailing
    stop that starts there and trails by ``trail`` in ``trail_unit`` (``ticks``, ``points``,
    ``dollars`` a contract, or ``percent``).
    """

    instrument: Instrument | None
    side: Side = Side.BUY
    qty: str = "1"
    order_type: OrderType = OrderType.LIMIT
    entry: str = ""
    limit: str = ""
    bracket: bool = True
    take_profit: str = ""
    stop_loss: str = ""
    exits: str = OffsetUnit.TICKS.value
    risk: str = ""
    tif: Tif = Tif.DAY
    outside_rth: bool = False
    account: str = ""
    source: Source = TICKET
    """ who the order is from: the ticket, or whoever builds a form (a hotkey, a strategy) """
    stop_type: OrderType = OrderType.STOP
    trail: str = ""
    trail_unit: str = OffsetUnit.TICKS.value


@dataclass(frozen=True, slots=True)
class TicketMarket:
    """The instrument's market as the ticket sees it (NaN when unknown)."""

    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan

    @property
    def reference(self) -> float:
        """Last, else the mid, else NaN: what collars are measured from."""
        if math.isfinite(self.last):
            return self.last
        if math.isfinite(self.bid) and math.isfinite(self.ask):
            return (self.bid + self.ask) / 2
        return math.nan

    def join(self, side: Side) -> float:
        """Where a passive order joins the market: the bid for a buy, the ask for a sell."""
        price = self.bid if side is Side.BUY else self.ask
        return price if math.isfinite(price) else self.last

    def cross(self, side: Side) -> float:
        """Where a market order is expected to fill: the ask for a buy, the bid for a sell."""
        price = self.ask if side is Side.BUY else self.bid
        return price if math.isfinite(price) else self.last


@dataclass(frozen=True, slots=True)
class TicketRules:
    """Limits the ticket validates against (from the config)."""

    round_off_tick: bool = False
    max_qty: float = 0.0
    """ the instrument's ``[risk] max_order_qty`` (0: none, the absurd cap applies) """
    collar_pct: float = 0.0
    collar_ticks: float = 0.0


@dataclass(frozen=True, slots=True)
class TicketFigures:
    """What the bracket means in money, before it is sent."""

    tick_value: float
    """ money per tick per contract (ES: 12.50) """
    entry: float
    """ the expected entry price (the limit, the trigger, or the far touch for MKT) """
    qty: float
    take_profit: float = math.nan
    stop_loss: float = math.nan
    risk: float = math.nan
    """ money lost at the stop for the whole quantity """
    reward: float = math.nan
    """ money made at the take-profit for the whole quantity """
    qty_from_risk: float | None = None
    """ the quantity the ``risk`` field gave """

    @property
    def reward_risk(self) -> float:
        """R:R, reward over risk (NaN without both)."""
        if math.isfinite(self.risk) and self.risk > 0 and math.isfinite(self.reward):
            return self.reward / self.risk
        return math.nan


@dataclass(frozen=True, slots=True)
class TicketResult:
    """Either an intent (nothing wrong) or a message per wrong field; figures when known."""

    intent: OrderIntent | BracketIntent | None
    errors: Mapping[str, str] = field(default_factory=dict)
    figures: TicketFigures | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    """ what the ticket did for the trader, per field (a price rounded to the tick) """

    @property
    def ok(self) -> bool:
        """Whether Submit may send it."""
        return self.intent is not None and not self.errors


def tick_value(inst: Instrument) -> float:
    """Money per tick per contract (per share for stocks)."""
    return inst.min_tick * inst.multiplier


def offset_distance(inst: Instrument, offset: float, unit: str) -> float:
    """An exit's distance from the entry in price points."""
    if unit == OffsetUnit.TICKS:
        return offset * inst.min_tick
    if unit == OffsetUnit.POINTS:
        return offset
    if unit == OffsetUnit.DOLLARS:
        return offset / inst.multiplier
    raise ValueError(f"unknown offset unit {unit!r}")


def qty_for_risk(inst: Instrument, risk: float, entry: float, stop: float) -> float:
    """Whole contracts (or shares) whose loss from entry to stop stays within ``risk``."""
    per_unit = abs(entry - stop) * inst.multiplier
    if per_unit <= 0:
        return 0.0
    # A hair of tolerance: $150 at $75 a contract is 2 contracts, not 1.999….
    return float(math.floor(risk / per_unit + 1e-9))


def evaluate(form: TicketForm, market: TicketMarket, rules: TicketRules) -> TicketResult:
    """Check every field, work out the figures, and build the intent if nothing is wrong."""
    errors: dict[str, str] = {}
    notes: dict[str, str] = {}
    inst = form.instrument
    if inst is None:
        return TicketResult(None, {"instrument": "Choose an instrument."})
    sign = form.side.sign

    def price(name: str, text: str, what: str) -> float | None:
        try:
            value = parse_number(text, what)
            if value <= 0:
                raise _FieldError(f"The {what} must be above 0.")
            return _on_tick(inst, value, what, rules, notes, name)
        except _FieldError as exc:
            errors[name] = str(exc)
            return None

    # The entry: the price the figures start from.
    entry: float | None = None
    limit: float | None = None
    if form.order_type is OrderType.MARKET:
        entry = market.cross(form.side)
        if not math.isfinite(entry):
            entry = None
            if form.bracket:
                errors["entry"] = "No market price yet to set the exits from; wait or use LMT."
    else:
        label = "limit price" if form.order_type is OrderType.LIMIT else "stop price"
        entry = price("entry", form.entry, label)
        if form.order_type is OrderType.STOP_LIMIT:
            limit = price("limit", form.limit, "limit price")
            if entry is not None and limit is not None and sign * (limit - entry) < 0:
                errors["limit"] = (
                    f"A {form.side.value.lower()} stop-limit's limit must be "
                    f"{'at or above' if sign > 0 else 'at or below'} its stop ({entry:g})."
                )
        if entry is not None and "entry" not in errors:
            problem = _entry_problem(form, entry, market, rules)
            if problem:
                errors["entry"] = problem
        if limit is not None and "limit" not in errors:
            problem = _collar_problem(inst, limit, market.reference, rules)
            if problem:
                errors["limit"] = problem

    # The exits.
    take = stop = math.nan
    if form.bracket:
        take_v, stop_v = _exits(form, inst, entry, rules, errors, notes)
        take = take_v if take_v is not None else math.nan
        stop = stop_v if stop_v is not None else math.nan
        if form.order_type is OrderType.MARKET:
            # A market entry fills at the far touch, but the broker (and the gate) judge the
            # exits against the last price too: they must sit beyond both.
            _beyond_market(form, inst, market.reference, take, stop, errors)

    # A trailing stop-loss: how far it trails.
    trail = None
    if form.bracket and form.stop_type is OrderType.TRAIL:
        try:
            trail = trail_of(inst, form.trail, form.trail_unit, rules.round_off_tick)
        except _FieldError as exc:
            errors["trail"] = str(exc)

    # The quantity: typed, or from the dollar risk.
    qty: float | None = None
    qty_from_risk: float | None = None
    if form.risk.strip():
        try:
            risk = parse_number(form.risk, "risk in dollars")
            if risk <= 0:
                raise _FieldError("The risk must be above $0.")
            if not form.bracket or not math.isfinite(stop) or entry is None:
                raise _FieldError("Quantity from risk needs an entry and a stop-loss.")
            qty_from_risk = qty_for_risk(inst, risk, entry, stop)
            if qty_from_risk < 1:
                one = abs(entry - stop) * inst.multiplier
                raise _FieldError(f"${risk:,.2f} is less than one contract's risk (${one:,.2f}).")
            qty = _checked_qty(qty_from_risk, inst, rules)
        except _FieldError as exc:
            errors["risk"] = str(exc)
    else:
        try:
            qty = _quantity(form.qty, inst, rules)
        except _FieldError as exc:
            errors["qty"] = str(exc)

    figures = None
    if entry is not None:
        n = qty or 0.0
        figures = TicketFigures(
            tick_value(inst),
            entry,
            n,
            take,
            stop,
            risk=abs(entry - stop) * inst.multiplier * n if math.isfinite(stop) else math.nan,
            reward=abs(take - entry) * inst.multiplier * n if math.isfinite(take) else math.nan,
            qty_from_risk=qty_from_risk,
        )
    if errors or qty is None:
        return TicketResult(None, errors, figures, notes)
    order = OrderIntent(
        inst,
        form.side,
        qty,
        form.order_type,
        form.source,
        limit_price=limit if form.order_type is OrderType.STOP_LIMIT else _limit_of(form, entry),
        stop_price=entry if form.order_type.needs_stop else None,
        tif=form.tif,
        outside_rth=form.outside_rth,
        account=form.account,
    )
    intent: OrderIntent | BracketIntent = (
        BracketIntent(order, take, stop, trail) if form.bracket else order
    )
    return TicketResult(intent, {}, figures, notes)


def _limit_of(form: TicketForm, entry: float | None) -> float | None:
    return entry if form.order_type is OrderType.LIMIT else None


def _quantity(text: str, inst: Instrument, rules: TicketRules) -> float:
    return _checked_qty(parse_number(text, "quantity"), inst, rules)


def _checked_qty(qty: float, inst: Instrument, rules: TicketRules) -> float:
    if qty <= 0:
        raise _FieldError("The quantity must be above 0.")
    if not qty.is_integer():
        unit = {"FUT": "contracts", "STK": "shares"}.get(inst.sec_type.value, "units")
        raise _FieldError(f"Whole {unit} only, not {qty:g}.")
    if rules.max_qty > 0 and qty > rules.max_qty:
        raise _FieldError(
            f"{num_text(qty)} is over the {num_text(rules.max_qty)} limit for "
            f"{inst.symbol} ([risk] max_order_qty)."
        )
    if qty > ABSURD_QTY:
        raise _FieldError(f"{num_text(qty)} is not a sensible quantity.")
    return qty


def _on_tick(
    inst: Instrument,
    value: float,
    what: str,
    rules: TicketRules,
    notes: dict[str, str],
    name: str,
) -> float:
    if inst.on_tick(value):
        return float(inst.round_to_tick(value))
    rounded = float(inst.round_to_tick(value))
    if rules.round_off_tick and rounded > 0:
        notes[name] = f"Rounded to {price_text(inst, rounded)} ({inst.min_tick:g} tick)."
        return rounded
    below = rounded if rounded < value else rounded - inst.min_tick
    raise _FieldError(
        f"{value:g} is not on {inst.display}'s {inst.min_tick:g} tick: "
        f"{price_text(inst, below)} or {price_text(inst, below + inst.min_tick)}?"
    )


def _entry_problem(
    form: TicketForm, entry: float, market: TicketMarket, rules: TicketRules
) -> str | None:
    """A stop on the wrong side of the market, or a price outside the collar."""
    inst = form.instrument
    assert inst is not None
    ref = market.reference
    if not math.isfinite(ref):
        return None
    sign = form.side.sign
    if form.order_type.needs_stop and sign * (entry - ref) <= 0:
        where = "above" if sign > 0 else "below"
        return (
            f"A {form.side.value.lower()} stop must be {where} the market "
            f"({price_text(inst, ref)}), or it triggers at once; use LMT to "
            f"{form.side.value.lower()} {'below' if sign > 0 else 'above'} it."
        )
    return _collar_problem(inst, entry, ref, rules)


def _collar_problem(inst: Instrument, price: float, ref: float, rules: TicketRules) -> str | None:
    """A price further from the market than the collar allows (None without a market)."""
    if not math.isfinite(ref):
        return None
    away = abs(price - ref)
    if rules.collar_ticks > 0:
        ticks = away / inst.min_tick
        if ticks > rules.collar_ticks + 1e-9:
            return (
                f"{price_text(inst, price)} is {ticks:,.0f} ticks from the market "
                f"{price_text(inst, ref)}; the collar is {num_text(rules.collar_ticks)} ticks."
            )
    elif rules.collar_pct > 0 and away > abs(ref) * rules.collar_pct / 100 * (1 + 1e-9):
        return (
            f"{price_text(inst, price)} is {away / abs(ref) * 100:.2f}% from the market "
            f"{price_text(inst, ref)}; the collar is {num_text(rules.collar_pct)}%."
        )
    return None


def _beyond_market(
    form: TicketForm,
    inst: Instrument,
    ref: float,
    take: float,
    stop: float,
    errors: dict[str, str],
) -> None:
    if not math.isfinite(ref):
        return
    sign = form.side.sign
    side = form.side.value.lower()
    if math.isfinite(take) and sign * (take - ref) <= 0:
        where = "above" if sign > 0 else "below"
        errors["take_profit"] = (
            f"A {side}'s take-profit must be {where} the market ({price_text(inst, ref)})."
        )
    if math.isfinite(stop) and sign * (ref - stop) <= 0:
        where = "below" if sign > 0 else "above"
        errors["stop_loss"] = (
            f"A {side}'s stop-loss must be {where} the market ({price_text(inst, ref)})."
        )


def _exits(
    form: TicketForm,
    inst: Instrument,
    entry: float | None,
    rules: TicketRules,
    errors: dict[str, str],
    notes: dict[str, str],
) -> tuple[float | None, float | None]:
    """Take-profit and stop-loss prices (None where wrong or not computable)."""
    sign = form.side.sign
    out: dict[str, float | None] = {}
    for name, text, what, direction in (
        ("take_profit", form.take_profit, "take-profit", +1),
        ("stop_loss", form.stop_loss, "stop-loss", -1),
    ):
        try:
            if form.exits == "price":
                value = parse_number(text, what)
            else:
                offset = parse_number(text, f"{what} offset in {form.exits}")
                if offset <= 0:
                    raise _FieldError(f"The {what} offset must be above 0 {form.exits}.")
                if entry is None:
                    out[name] = None
                    continue
                distance = offset_distance(inst, offset, form.exits)
                value = entry + direction * sign * distance
                if form.exits == OffsetUnit.DOLLARS:
                    # Dollars rarely land on the tick: round toward the entry, so the money at
                    # stake is never more than the trader typed.
                    ticks = math.floor(distance / inst.min_tick + 1e-9)
                    if ticks < 1:
                        raise _FieldError(
                            f"${offset:g} is less than one tick (${tick_value(inst):g})."
                        )
                    value = entry + direction * sign * ticks * inst.min_tick
            if value <= 0:
                raise _FieldError(f"The {what} would be {value:g}; it must be above 0.")
            value = _on_tick(inst, value, what, rules, notes, name)
            if entry is not None and direction * sign * (value - entry) <= 0:
                where = "above" if direction * sign > 0 else "below"
                raise _FieldError(
                    f"A {form.side.value.lower()}'s {what} must be {where} the entry "
                    f"({price_text(inst, entry)})."
                )
            out[name] = value
        except _FieldError as exc:
            errors[name] = str(exc)
            out[name] = None
    return out["take_profit"], out["stop_loss"]
