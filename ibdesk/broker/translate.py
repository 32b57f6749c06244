"""Library objects to frozen domain snapshots: the one place camelCase becomes snake_case,
and where what the broker sends is checked before anything stores it as fact.

Nothing the client library mutates in place (Ticker, Trade, PortfolioItem) ever leaves the
broker layer; other layers get these snapshots instead. A hostile or broken stream carries
junk (issue 12: a 1 MiB error text, a high of 1e23, NaN and infinite prices): texts are
clamped (:func:`text`, :func:`name`), and prices are judged by :func:`absurd_price`; each
refusal is logged with a ``flood_key`` naming its kind, so the broker's FloodGuard keeps it to
one line per kind per window.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from ibdesk import clock as clocks
from ibdesk.broker import ib as shim
from ibdesk.clock import Clock
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import (
    BROKER_STATES,
    FillSnapshot,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Tif,
)

log = logging.getLogger("ibdesk.broker.translate")

#: IB's "no value" markers, which must never reach a table as a price.
UNSET_DOUBLE = 1.7976931348623157e308

MAX_TEXT = 500
""" characters kept of a free text (an error, a reason); IB's longest are about 300 """
MAX_NAME = 64
""" characters kept of a name (symbol, exchange, account, status) """
MAX_PRICE = 1e9
""" no instrument IB quotes is priced anywhere near a billion """
BAND = 10.0
""" a price more than this factor away from the instrument's reference is absurd """
NEAR_ZERO_TICKS = 1000
""" a future this close to zero (in ticks) may trade at or below it, as CL did in 2020 """

SELL_ACTIONS = frozenset({"SELL", "SSHORT", "SSHORTX", "SLONG"})
""" IB's order actions that sell: a sale, a short sale (exempt or not), a sale of a long """
EXECUTION_SIDES = {"BOT": Side.BUY, "SLD": Side.SELL}


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """A free text from the broker, cut to ``limit`` characters with a note of the cut."""
    s = value if isinstance(value, str) else "" if value is None else str(value)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}... [{len(s) - limit:,} characters cut]"


def name(value: Any, limit: int = MAX_NAME) -> str:
    """A name from the broker (symbol, exchange, account), cut to ``limit`` characters."""
    s = value if isinstance(value, str) else "" if value is None else str(value)
    return s[:limit]


def refused(kind: str, message: str, *args: Any) -> None:
    """Log one refusal; ``kind`` keys the FloodGuard's one line per kind per window."""
    log.warning("refused from the broker: " + message, *args, extra={"flood_key": kind})


def side_of_action(action: Any) -> Side | None:
    """An order's action as a Side (SSHORT, SSHORTX and SLONG sell); None for junk."""
    if action == "BUY":
        return Side.BUY
    return Side.SELL if action in SELL_ACTIONS else None


def num(value: Any) -> float:
    """A price or size as a float; NaN for None, UNSET, -1 ("no quote") and junk."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    if math.isinf(x) or abs(x) >= UNSET_DOUBLE:
        return math.nan
    return x


def price(value: Any) -> float:
    """A price: like :func:`num`, and IB's -1 (no quote) becomes NaN."""
    x = num(value)
    return math.nan if x == -1 else x


def instrument(contract: shim.Contract, details: shim.ContractDetails | None = None) -> Instrument:
    """A qualified Contract (and its ContractDetails, which carry the tick) as an Instrument,
    with every string clamped."""
    sec_type = (
        SecType(contract.secType)
        if contract.secType in SecType.__members__.values()
        else SecType.STOCK
    )
    if sec_type is SecType.CONTINUOUS_FUTURE:
        sec_type = SecType.FUTURE
    multiplier = num(contract.multiplier) if contract.multiplier else 1.0
    min_tick = num(details.minTick) if details is not None else math.nan
    if math.isnan(min_tick) or min_tick <= 0:
        min_tick = 0.01
    return Instrument(
        con_id=int(contract.conId),
        symbol=name(contract.symbol),
        sec_type=sec_type,
        exchange=name(contract.exchange),
        currency=name(contract.currency, 8),
        local_symbol=name(contract.localSymbol or contract.symbol),
        multiplier=1.0 if math.isnan(multiplier) or sec_type is not SecType.FUTURE else multiplier,
        min_tick=min_tick,
        expiry=name(contract.lastTradeDateOrContractMonth, 8),
        trading_class=name(contract.tradingClass),
        primary_exchange=name(contract.primaryExchange),
        long_name=name(getattr(details, "longName", ""), 200),
        # A week of sessions is about 300 characters; anything near the cut is junk anyway.
        liquid_hours=name(getattr(details, "liquidHours", ""), 4000),
        time_zone=name(getattr(details, "timeZoneId", "")),
    )


QUOTE_PRICES = ("bid", "ask", "last", "close", "high", "low")
QUOTE_SIZES = ("bid_size", "ask_size", "last_size", "volume")
_TOP = math.nextafter(MAX_PRICE, 0.0)
_POSITIVE = math.ulp(0.0)


def sane_band(reference: float, inst: Instrument | None) -> tuple[float, float]:
    """The closed range of sane prices for an instrument around its reference price.

    The rule: a price is absurd when it is infinite or beyond :data:`MAX_PRICE`; at or below
    zero, unless the instrument is a future within :data:`NEAR_ZERO_TICKS` ticks of zero (CL
    traded at -37.63 on 20 April 2020; a stock or a currency never does); or more than
    :data:`BAND` times above or below the reference (the instrument's last sane price), or,
    for a future near zero, more than :data:`BAND` times that near-zero zone away from it.
    With no reference (NaN) only the absolute rules apply.
    """
    top, positive = _TOP, _POSITIVE
    zone = NEAR_ZERO_TICKS * (inst.min_tick if inst is not None else 0.01)
    future = inst is not None and inst.sec_type is SecType.FUTURE
    if math.isnan(reference):
        return (-top if future else positive), top
    if future and abs(reference) <= zone:
        return max(-top, reference - BAND * zone), min(top, reference + BAND * zone)
    if reference > 0:
        return max(positive, reference / BAND), min(top, reference * BAND)
    return positive, top


def absurd_price(p: float, reference: float, inst: Instrument | None) -> str | None:
    """Why a price is absurd (see :func:`sane_band`), or None when it is sane; NaN, "no
    price", is sane."""
    lo, hi = sane_band(reference, inst)
    return None if math.isnan(p) or lo <= p <= hi else _why_absurd(p, lo)


def _why_absurd(p: float, lo: float) -> str:
    if math.isinf(p) or abs(p) >= MAX_PRICE:
        return "not a price"
    return "at or below zero" if p <= 0 < lo else "too far from the reference"


def reference_price(previous: Quote | None, candidates: list[float]) -> float:
    """The price a new quote is judged against: the last sane quote's last (or mid, or
    close); with none, the lower median of the new quote's own prices (one junk field
    among four cannot move it)."""
    if previous is not None:
        for p in (previous.last, previous.mid, previous.close):
            if not math.isnan(p):
                return p
    sane = sorted(p for p in candidates if not math.isnan(p) and abs(p) < MAX_PRICE)
    return sane[(len(sane) - 1) // 2] if sane else math.nan


def judge_quote(
    con_id: int,
    ticker: shim.Ticker,
    previous: Quote | None = None,
    inst: Instrument | None = None,
    self_reference: bool = False,
    clock: Clock = clocks.system,
) -> tuple[Quote, tuple[str, ...]]:
    """A Ticker's current state as a Quote, and the names of the fields refused (each kept
    at its value in ``previous``, the last sane quote, or NaN). ``self_reference`` judges
    against the quote's own prices instead of ``previous`` (a reference gone stale).
    ``clock`` stamps a ticker the library has not stamped.

    This runs for every ticker update, so the sane case is a few comparisons.
    """
    t = ticker
    prices = [_quoted(t.bid), _quoted(t.ask), _quoted(t.last)]
    prices += (_quoted(t.close), _quoted(t.high), _quoted(t.low))
    sizes = [num(t.bidSize), num(t.askSize), num(t.lastSize), num(t.volume)]
    ref = reference_price(None if self_reference else previous, prices[:4])
    lo, hi = sane_band(ref, inst)
    refusals: tuple[str, ...] = ()
    sane = not (sizes[0] < 0 or sizes[1] < 0 or sizes[2] < 0 or sizes[3] < 0)  # NaN is sane
    for p in prices:
        if not (lo <= p <= hi or math.isnan(p)):
            sane = False
            break
    if not sane:
        refusals = _refuse_absurd(con_id, prices, sizes, lo, hi, previous)
    bid, ask, last, close, high, low = prices
    bid_size, ask_size, last_size, volume = sizes
    stamp = t.time.timestamp() if t.time is not None else clock()
    quote = Quote(
        con_id, bid, ask, last, bid_size, ask_size, last_size, volume, close, high, low, stamp
    )
    return quote, refusals


def _refuse_absurd(
    con_id: int,
    prices: list[float],
    sizes: list[float],
    lo: float,
    hi: float,
    previous: Quote | None,
) -> tuple[str, ...]:
    """Replace absurd prices and negative sizes (in place) by the last sane quote's values,
    log each, and return the names of the fields refused."""
    refusals: list[str] = []
    for i, field in enumerate(QUOTE_PRICES):
        p = prices[i]
        if lo <= p <= hi or math.isnan(p):
            continue
        why = _why_absurd(p, lo)
        refusals.append(field)
        refused(f"quote:{field}:{why}", "a %s of %r for conId %d (%s)", field, p, con_id, why)
        prices[i] = getattr(previous, field) if previous is not None else math.nan
    for i, field in enumerate(QUOTE_SIZES):
        if sizes[i] < 0:
            refusals.append(field)
            refused(f"quote:{field}", "a %s of %r for conId %d (negative)", field, sizes[i], con_id)
            sizes[i] = getattr(previous, field) if previous is not None else math.nan
    return tuple(refusals)


def _quoted(value: Any) -> float:
    """A quoted price as sent: NaN for "no quote" (None, -1, IB's unset), infinities kept
    so that :func:`absurd_price` refuses them instead of taking them for "no quote"."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return math.nan if x in (-1, UNSET_DOUBLE) else x


def quote(
    con_id: int, ticker: shim.Ticker, previous: Quote | None = None, inst: Instrument | None = None
) -> Quote:
    """A Ticker's current state as a Quote, absurd values refused (see :func:`judge_quote`)."""
    return judge_quote(con_id, ticker, previous, inst)[0]


def position(item: shim.PortfolioItem, inst: Instrument) -> PositionSnapshot | None:
    """A PortfolioItem (updatePortfolio) as a PositionSnapshot; None (and a log line) when
    its quantity is not a number."""
    qty = num(item.position)
    if math.isnan(qty):
        refused("position:quantity", "a position of %r in %s", item.position, inst.local_symbol)
        return None
    return PositionSnapshot(
        account=name(item.account),
        instrument=inst,
        qty=qty,
        avg_cost=num(item.averageCost),
        market_price=price(item.marketPrice),
        market_value=num(item.marketValue),
        unrealized_pnl=num(item.unrealizedPNL),
        realized_pnl=num(item.realizedPNL),
    )


#: accountValue tags (currency USD or BASE) -> AccountSnapshot fields.
ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "AvailableFunds": "available_funds",
    "ExcessLiquidity": "excess_liquidity",
    "InitMarginReq": "init_margin",
    "MaintMarginReq": "maint_margin",
    "BuyingPower": "buying_power",
    "TotalCashValue": "cash",
}


# ---- orders and fills -------------------------------------------------------------------------

BROKER_DONE = frozenset({OrderState.FILLED, OrderState.CANCELLED})
"""Final states the broker's own status gave: nothing later reopens them."""
STILL_WORKING = frozenset({OrderState.WORKING, OrderState.PARTIAL})
REJECT_CODES = frozenset({200, 201})
"""Errors that mean the broker refused the order: the library's local Cancelled is right."""
UNTRUSTED_CODES = frozenset({10147, 10148, 202})
"""Errors after which the library marks an order Cancelled without the broker saying so."""

MAX_REF = 80
""" an orderRef longer than this is cut and tagged with a digest of the whole (still unique) """


def clamp_ref(ref: str) -> str:
    """An orderRef as a key: cut when too long, with a digest of the whole so that two long
    refs stay two keys."""
    if len(ref) <= MAX_REF:
        return ref
    return f"{ref[:64]}~{hashlib.sha1(ref.encode(errors='replace')).hexdigest()[:12]}"


def ref_of(trade: shim.Trade) -> str:
    """The orderRef ibdesk files an order under (``ext:...`` for orders it did not make)."""
    order = trade.order
    if order.orderRef:
        return clamp_ref(str(order.orderRef))
    if order.permId:
        return f"ext:{order.permId}"
    return f"ext:{order.clientId}:{order.orderId}"


def order_of(
    intent: OrderIntent, ref: str, order_id: int, parent_id: int = 0, transmit: bool = True
) -> shim.Order:
    """The library's Order for an intent."""
    order = shim.Order(
        orderId=order_id,
        action=intent.side.value,
        totalQuantity=intent.qty,
        orderType=intent.order_type.value,
        tif=intent.tif.value,
        outsideRth=intent.outside_rth,
        orderRef=ref,
        transmit=transmit,
        parentId=parent_id,
        account=intent.account,
    )
    if intent.limit_price is not None:
        order.lmtPrice = intent.limit_price
    if intent.stop_price is not None:
        order.auxPrice = intent.stop_price  # a TRAIL's trailing amount
    if intent.trailing_percent is not None:
        order.trailingPercent = intent.trailing_percent
    if intent.trail_stop_price is not None:
        order.trailStopPrice = intent.trail_stop_price
    return order


def what_if_number(value: Any) -> float:
    """A what-if figure: ib_insync sends strings, IB's "unset" is a huge double."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) and abs(x) < 1e300 else math.nan


def _price(value: Any) -> float | None:
    x = num(value)
    return None if math.isnan(x) or x == 0 else x


def _filled(trade: shim.Trade, known: OrderSnapshot | None) -> float:
    """How much of the order has filled. The status says so, except for an order the library
    rebuilt from IB's completed orders (after a reconnect): its status has no quantities and
    the figure is in the order (``filledQuantity``). A filled quantity never goes back, so
    what the desk knew already is a floor."""
    figures = (num(trade.orderStatus.filled), num(getattr(trade.order, "filledQuantity", None)))
    floor = known.filled if known is not None else 0.0
    return max([floor, *(f for f in figures if not math.isnan(f))])


def _avg_fill_price(status: shim.OrderStatus, known: OrderSnapshot | None) -> float:
    """The status's average fill price; a completed order's status has none (0), and then
    the one the desk knew stands."""
    avg = num(status.avgFillPrice)
    if avg > 0:
        return avg
    return known.avg_fill_price if known is not None else math.nan


def snapshot_of(
    trade: shim.Trade, inst: Instrument, known: OrderSnapshot | None, now: float
) -> OrderSnapshot | None:
    """A library Trade as an OrderSnapshot, with the local-cancel caveat applied; None (and
    a log line) for an order no book should hold: an unknown action, a quantity that is not
    a number or below zero, no contract."""
    order, status = trade.order, trade.orderStatus
    side = side_of_action(order.action)
    qty = num(order.totalQuantity)
    if side is None:
        refused("order:action", "an order with action %r", name(order.action))
        return None
    if math.isnan(qty) or qty < 0:  # 0 is a cash-quantity order
        refused("order:quantity", "an order of quantity %r", order.totalQuantity)
        return None
    if int(trade.contract.conId or 0) <= 0:
        refused("order:contract", "an order for no contract (conId %r)", trade.contract.conId)
        return None
    state = BROKER_STATES.get(status.status, OrderState.UNKNOWN)
    reason = known.reason if known is not None else ""
    last = trade.log[-1] if trade.log else None
    code = int(last.errorCode) if last is not None else 0
    said = _error_text(last.message) if last is not None else ""
    # The library's own cancel on an error: its log entry has the code, or (code 0, which
    # no TWS sends but a broken one may) the "Error <code>, reqId" text it writes.
    local = code != 0 or (last is not None and str(last.message).startswith("Error "))
    if local and state is OrderState.CANCELLED:
        if code in REJECT_CODES:
            state, reason = OrderState.REJECTED, said
        else:
            state, reason = OrderState.UNKNOWN, f"{said} Checking with the broker."
    filled = _filled(trade, known)
    if state is OrderState.FILLED and not filled >= qty:
        # IB's Filled means nothing remains. A trade the library made from an openOrder
        # (its orderStatus found no trade yet) says Filled with no quantities at all.
        filled = qty
    if state is OrderState.WORKING and filled > 0:
        state = OrderState.PARTIAL
    if known is not None and known.state in BROKER_DONE and state in STILL_WORKING:
        # A status overtaken by a later one (IB's reports can arrive out of order): the
        # broker already said this order is done, and a done order does not come back.
        return known
    limit, stop = _price(order.lmtPrice), _price(order.auxPrice)
    if (
        known is not None
        and reason in ("modify sent", "cancel sent")
        and ((qty, limit, stop) != (known.qty, known.limit_price, known.stop_price) or state.final)
    ):
        reason = ""  # the broker has answered what was sent
    try:
        order_type = OrderType(order.orderType)
    except ValueError:
        order_type = OrderType.LIMIT
    return OrderSnapshot(
        ref=ref_of(trade),
        instrument=inst,
        side=side,
        qty=qty,
        order_type=order_type,
        state=state,
        account=name(order.account) or status_account(trade) or (known.account if known else ""),
        limit_price=limit,
        stop_price=stop,
        tif=Tif(order.tif) if order.tif in Tif.__members__.values() else Tif.DAY,
        order_id=int(order.orderId),
        perm_id=int(order.permId or 0),
        client_id=int(order.clientId),
        parent_ref=known.parent_ref if known else "",
        why=known.why if known else "",
        filled=filled,
        avg_fill_price=_avg_fill_price(status, known) if filled else math.nan,
        broker_status=name(status.status),
        reason=text(reason),
        created=known.created if known is not None else now,
        updated=now,
    )


def status_account(trade: shim.Trade) -> str:
    """The account of a trade whose order does not name one (the first fill's)."""
    return name(trade.fills[0].execution.acctNumber) if trade.fills else ""


def _error_text(message: str) -> str:
    # The library logs "Error 201, reqId 7: Order rejected - reason:..."; keep IB's words
    # (clamped first: the message may be a megabyte of junk).
    message = text(message)
    return message.split(": ", 1)[1] if ": " in message else message


def fill_of(fill: shim.Fill, inst: Instrument, ref: str) -> FillSnapshot | None:
    """A library Fill as a FillSnapshot filed under ``ref``; None (and one log line per kind
    of junk) for an execution no book should hold."""
    e = fill.execution
    why = _junk_fill(fill, inst, ref)
    if why is not None:
        kind, detail = why
        refused(
            f"fill:{kind}",
            "a fill (exec %s, %s): %s",
            name(e.execId),
            inst.local_symbol,
            detail,
        )
        return None
    report = fill.commissionReport
    reported = bool(report.execId)
    return FillSnapshot(
        exec_id=e.execId,
        time=e.time.timestamp(),
        ref=clamp_ref(ref),
        order_id=int(e.orderId),
        perm_id=int(e.permId),
        instrument=inst,
        side=EXECUTION_SIDES[e.side],
        qty=float(e.shares),
        price=float(e.price),
        account=name(e.acctNumber),
        commission=num(report.commission) if reported else math.nan,
        realized_pnl=num(report.realizedPNL) if reported else math.nan,
    )


def _junk_fill(fill: shim.Fill, inst: Instrument, ref: str) -> tuple[str, str] | None:
    """(kind, what is wrong) for an execution that is junk, or None.

    An execution must name itself (an execId of sane length), tie to an order (a permId or
    an orderRef: IB gives every order a permId), be for a contract, say BOT or SLD, and
    carry a positive, finite quantity and a sane price (see absurd_price; with no
    reference, since a fill is the market's word, only the absolute rules apply).
    """
    e = fill.execution
    if not e.execId or len(str(e.execId)) > MAX_NAME:
        return "exec-id", f"no usable execution id ({len(str(e.execId or ''))} characters)"
    if int(e.permId or 0) <= 0 and not e.orderRef and int(e.orderId or 0) <= 0:
        return "order", "no order to file it under (no permId, orderId or orderRef)"
    if int(fill.contract.conId or 0) <= 0:
        return "contract", f"no contract (conId {fill.contract.conId!r})"
    if e.side not in EXECUTION_SIDES:
        return "side", f"side {name(e.side, 16)!r} is neither BOT nor SLD"
    qty = num(e.shares)
    if math.isnan(qty) or qty <= 0:
        return "quantity", f"quantity {e.shares!r} is not a positive number"
    price = num(e.price)
    absurd = absurd_price(price, math.nan, inst)
    if math.isnan(price) or absurd is not None or not math.isfinite(float(e.price)):
        return "price", f"price {e.price!r} is {absurd or 'not a number'}"
    return None
