"""Which orders TWS takes, and how each order type decides when and at what price it trades.

Validation follows TWS's order of checks: a contract without an exchange is refused before
anything else (error 321), then the order type against the instrument (387; MOC and LOC
need DAY, 113), then side, quantity and the prices the order type uses. Price fields an
order type does not use are ignored when they are 0 or unset, as TWS ignores them: older
API versions send 0 in every unused price field.

Order types:

* MKT, LMT, STP, STP LMT, TRAIL as before.
* MIT / LIT (market / limit if touched): the mirror of a stop. A buy triggers when the last
  price falls to the trigger (``auxPrice``), a sell when it rises to it; then MKT or LMT.
* REL (relative, stocks): pegged to the own side of the book, a buy at bid + offset
  (``auxPrice``, 0 allowed), a sell at ask - offset, capped by ``lmtPrice`` when given;
  re-pegged on every quote.
* MOC / LOC (stocks): wait for the closing auction of the day, then trade at the closing
  price (LOC only if that is within its limit, else it expires unfilled).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from ibdesk.simtws.orders import SUPPORTED_TIFS, SUPPORTED_TYPES, SimOrder

if TYPE_CHECKING:
    from ibdesk.simtws.engine import EngineConfig
    from ibdesk.simtws.market import Market, Quote

REJECT = "Order rejected - reason:"
MISSING_EXCHANGE = "Error validating request.-'bN' : cause - Missing order exchange."
UNSUPPORTED = "Unsupported order type for this exchange and security type."
AUCTION_TIF = "The Tif option should be set to DAY for MOC and LOC orders."

#: Order types whose limit price is used (REL: as an optional cap).
LIMIT_TYPES = frozenset({"LMT", "STP LMT", "LIT", "LOC", "REL"})
#: Order types that need their limit price.
LIMIT_REQUIRED = frozenset({"LMT", "STP LMT", "LIT", "LOC"})
#: Order types that trigger on the last price and need their trigger price (auxPrice).
STOP_TYPES = frozenset({"STP", "STP LMT"})
TOUCH_TYPES = frozenset({"MIT", "LIT"})
TRIGGERED = STOP_TYPES | TOUCH_TYPES | {"TRAIL"}
AUCTION_TYPES = frozenset({"MOC", "LOC"})
#: Order types IB offers on stocks only, of those the simulator has.
STOCK_ONLY = AUCTION_TYPES | {"REL"}


def uses_aux(o: SimOrder) -> bool:
    """Whether the order type reads auxPrice (a TRAIL by percent does not)."""
    if o.order_type == "TRAIL":
        return o.trailing_percent is None
    return o.order_type in STOP_TYPES | TOUCH_TYPES | {"REL"}


def normalize_prices(o: SimOrder) -> None:
    """Forget price fields the order type does not use (0 or not), as TWS does."""
    if o.order_type not in LIMIT_TYPES or (o.order_type == "REL" and not o.lmt_price):
        o.lmt_price = None
    if not uses_aux(o):
        o.aux_price = None


def validate(o: SimOrder, config: EngineConfig, market: Market) -> tuple[int, str] | None:
    """Why TWS would refuse this order, or None: (error code, message)."""
    if o.order_type in STOCK_ONLY and o.inst.sec_type != "STK":
        return 387, UNSUPPORTED
    if o.order_type in AUCTION_TYPES and o.tif != "DAY":
        return 113, AUCTION_TIF
    if o.action not in ("BUY", "SELL"):
        return 201, f"{REJECT}Invalid side {o.action!r}"
    if o.order_type not in SUPPORTED_TYPES:
        return 201, f"{REJECT}Unsupported order type {o.order_type!r}"
    if o.tif not in SUPPORTED_TIFS:
        return 201, f"{REJECT}Unsupported time in force {o.tif!r}"
    qty = o.total_qty
    if not qty > 0:
        return 201, f"{REJECT}Order quantity must be positive, not {qty:g}"
    if o.inst.sec_type == "FUT" and not float(qty).is_integer():
        return 201, f"{REJECT}Futures quantity must be a whole number, not {qty:g}"
    limit = {
        "FUT": config.max_order_size_futures,
        "STK": config.max_order_size_stocks,
    }.get(o.inst.sec_type, config.max_order_size_fx)
    if qty > limit:
        return 201, f"{REJECT}The order size {qty:g} exceeds the Size Limit of {limit:g}"
    return validate_prices(o, config, market)


def validate_prices(o: SimOrder, config: EngineConfig, market: Market) -> tuple[int, str] | None:
    """The prices the order type uses: present, positive, on the tick grid, within the band."""
    kind = o.order_type
    if kind in LIMIT_REQUIRED and o.lmt_price is None:
        return 201, f"{REJECT}A {kind} order needs a limit price"
    if kind in STOP_TYPES | TOUCH_TYPES and o.aux_price is None:
        word = "stop" if kind in STOP_TYPES else "trigger"
        return 201, f"{REJECT}A {kind} order needs a {word} price"
    if kind == "TRAIL":
        if o.aux_price is None and o.trailing_percent is None:
            return 201, f"{REJECT}A TRAIL order needs a trailing amount or percent"
        if o.trailing_percent is not None and not 0 < o.trailing_percent < 100:
            return 201, (
                f"{REJECT}Trailing percent {o.trailing_percent:g} must be between 0 and 100"
            )
        if o.aux_price is not None and not 0 < o.aux_price < 1e9:
            return 201, f"{REJECT}Trailing amount {o.aux_price:g} is out of range"
    offset_only = kind in ("TRAIL", "REL")
    for price in (o.lmt_price, None if offset_only else o.aux_price):
        if price is None:
            continue
        if price <= 0:
            return 201, f"{REJECT}Price {price:g} must be positive"
        if price > 1e12:
            return 201, f"{REJECT}Price {price:g} is out of range"
        if not o.inst.on_tick(price):
            return 110, (
                "The price does not conform to the minimum price variation "
                f"for this contract (tick {o.inst.min_tick:g})."
            )
    if kind == "REL" and o.aux_price is not None and not 0 <= o.aux_price < 1e9:
        return 201, f"{REJECT}Offset {o.aux_price:g} is out of range"
    return _price_band(o, config, market)


def _price_band(o: SimOrder, config: EngineConfig, market: Market) -> tuple[int, str] | None:
    if o.lmt_price is None or not config.price_band_pct or o.order_type in AUCTION_TYPES:
        return None
    q = market.quote(o.inst.con_id)
    band = config.price_band_pct / 100
    if (o.sign > 0 and o.lmt_price > q.ask * (1 + band)) or (
        o.sign < 0 and o.lmt_price < q.bid * (1 - band)
    ):
        return 201, (
            f"{REJECT}The limit price {o.lmt_price:g} is more than "
            f"{config.price_band_pct:g}% through the market"
        )
    return None


def trigger_price(o: SimOrder) -> float | None:
    """The price a triggered order waits for (TRAIL: its current stop)."""
    return o.trail_stop_price if o.order_type == "TRAIL" else o.aux_price


def triggered_by(o: SimOrder, last: float) -> bool:
    """Whether the last price sets the order off: stops when the market moves against the
    order's side (a buy stop on a rise), touches when it moves in favour (a buy MIT on a fall).
    """
    trigger = trigger_price(o)
    if trigger is None or last <= 0:
        return False
    rising = o.sign > 0 if o.order_type not in TOUCH_TYPES else o.sign < 0
    return last >= trigger if rising else last <= trigger


def working_limit(o: SimOrder, q: Quote) -> float | None:
    """The limit the order works at now: its limit price, or a REL order's peg (None: a
    market order)."""
    if o.order_type == "REL":
        offset = o.aux_price or 0.0
        peg = q.bid + offset if o.sign > 0 else q.ask - offset
        peg = o.inst.round_to_tick(peg)
        if o.lmt_price is not None:
            peg = min(peg, o.lmt_price) if o.sign > 0 else max(peg, o.lmt_price)
        return peg
    if o.order_type in ("LMT", "STP LMT", "LIT", "LOC"):
        return o.lmt_price
    return None


def closing_auction(o: SimOrder, now: float) -> float:
    """When the closing auction an MOC/LOC placed at ``now`` takes part in: the next
    regular close of its instrument (epoch seconds)."""
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    for _, _, closed in o.inst.session.liquid_sessions(when.date() - dt.timedelta(days=1), 9):
        if closed is not None and closed.timestamp() > now:
            return closed.timestamp()
    return math.inf
