"""placeOrder parsing and openOrder / completedOrder encoding (TWS_PROTOCOL.md §4.5, §5).

placeOrder is the one request whose layout depends on its own content: five conditional
groups (combo legs, delta-neutral, scale, hedge, algo) and the conditions sit before
``whatIf``, so the parser walks them by name. Every field is kept under IB's name so the
openOrder echo carries back exactly what the client sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ibdesk.simtws.catalog import ContractQuery
from ibdesk.simtws.orders import SimOrder
from ibdesk.simtws.throttle import show
from ibdesk.simtws.wire import UNSET_DOUBLE, fmt_float, fmt_int

#: Fields after condType for each condition type (order.py's dataclasses, minus condType).
CONDITION_FIELDS = {1: 6, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5}


class OrderParseError(ValueError):
    """A placeOrder whose fields do not add up."""


class _Cursor:
    __slots__ = ("fields", "pos", "raw")

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        self.pos = 0
        self.raw: dict[str, str] = {}

    def take(self, *names: str) -> None:
        for name in names:
            if self.pos >= len(self.fields):
                raise OrderParseError(f"placeOrder ended before field {name!r}")
            self.raw[name] = self.fields[self.pos]
            self.pos += 1

    def take_list(self, name: str, width: int) -> None:
        count = self.int_field(name + "Count")
        if count < 0 or count > 1000:
            raise OrderParseError(f"{name} count {count} out of range")
        items = []
        for _ in range(count * width):
            items.append(self._next(name))
        self.raw[name] = "\x1f".join(items)

    def int_field(self, name: str) -> int:
        value = self._next(name)
        self.raw[name] = value
        try:
            return int(value or 0)
        except ValueError as exc:
            raise OrderParseError(f"{name} is not an int: {show(value)}") from exc

    def float_field(self, name: str) -> float:
        """An already taken field as a float (empty or unset: UNSET_DOUBLE)."""
        value = self.raw[name]
        try:
            return float(value or UNSET_DOUBLE)
        except ValueError as exc:
            raise OrderParseError(f"{name} is not a number: {show(value)}") from exc

    def _next(self, name: str) -> str:
        if self.pos >= len(self.fields):
            raise OrderParseError(f"placeOrder ended inside {name!r}")
        value = self.fields[self.pos]
        self.pos += 1
        return value


CONTRACT_FIELDS = (
    "conId",
    "symbol",
    "secType",
    "lastTradeDateOrContractMonth",
    "strike",
    "right",
    "multiplier",
    "exchange",
    "primaryExchange",
    "currency",
    "localSymbol",
    "tradingClass",
)


@dataclass(slots=True)
class PlacedOrder:
    """A parsed placeOrder: the order id, the contract asked for, and every order field."""

    order_id: int
    contract: ContractQuery
    raw: dict[str, str]

    def text(self, name: str) -> str:
        """A field as sent."""
        return self.raw.get(name, "")

    def number(self, name: str) -> float | None:
        """A float field; None when unset."""
        value = self.raw.get(name, "")
        if not value:
            return None
        number = float(value)
        return None if number >= UNSET_DOUBLE else number

    def flag(self, name: str) -> bool:
        """A bool field."""
        value = self.raw.get(name, "")
        return value not in ("", "0", "False", "false")


def parse_place_order(fields: list[str], version: int) -> PlacedOrder:
    """Parse a placeOrder message (``fields[0] == "3"``) sent at ``version``."""
    c = _Cursor(fields[1:])
    c.take(
        "orderId",
        *CONTRACT_FIELDS,
        "secIdType",
        "secId",
        "action",
        "totalQuantity",
        "orderType",
        "lmtPrice",
        "auxPrice",
        "tif",
        "ocaGroup",
        "account",
        "openClose",
        "origin",
        "orderRef",
        "transmit",
        "parentId",
        "blockOrder",
        "sweepToFill",
        "displaySize",
        "triggerMethod",
        "outsideRth",
        "hidden",
    )
    if c.raw["secType"] == "BAG":
        c.take_list("comboLegs", 8)
        c.take_list("orderComboLegs", 1)
        c.take_list("smartComboRoutingParams", 2)
    c.take(
        "sharesAllocation",
        "discretionaryAmt",
        "goodAfterTime",
        "goodTillDate",
        "faGroup",
        "faMethod",
        "faPercentage",
    )
    if version < 177:
        c.take("faProfile")
    c.take(
        "modelCode",
        "shortSaleSlot",
        "designatedLocation",
        "exemptCode",
        "ocaType",
        "rule80A",
        "settlingFirm",
        "allOrNone",
        "minQty",
        "percentOffset",
        "eTradeOnly",
        "firmQuoteOnly",
        "nbboPriceCap",
        "auctionStrategy",
        "startingPrice",
        "stockRefPrice",
        "delta",
        "stockRangeLower",
        "stockRangeUpper",
        "overridePercentageConstraints",
        "volatility",
        "volatilityType",
        "deltaNeutralOrderType",
        "deltaNeutralAuxPrice",
    )
    if c.raw["deltaNeutralOrderType"]:
        c.take(
            "deltaNeutralConId",
            "deltaNeutralSettlingFirm",
            "deltaNeutralClearingAccount",
            "deltaNeutralClearingIntent",
            "deltaNeutralOpenClose",
            "deltaNeutralShortSale",
            "deltaNeutralShortSaleSlot",
            "deltaNeutralDesignatedLocation",
        )
    c.take(
        "continuousUpdate",
        "referencePriceType",
        "trailStopPrice",
        "trailingPercent",
        "scaleInitLevelSize",
        "scaleSubsLevelSize",
        "scalePriceIncrement",
    )
    increment = c.float_field("scalePriceIncrement")
    if 0 < increment < UNSET_DOUBLE:
        c.take(
            "scalePriceAdjustValue",
            "scalePriceAdjustInterval",
            "scaleProfitOffset",
            "scaleAutoReset",
            "scaleInitPosition",
            "scaleInitFillQty",
            "scaleRandomPercent",
        )
    c.take("scaleTable", "activeStartTime", "activeStopTime", "hedgeType")
    if c.raw["hedgeType"]:
        c.take("hedgeParam")
    c.take("optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld")
    if c.int_field("deltaNeutralContractPresent"):
        c.take("dncConId", "dncDelta", "dncPrice")
    c.take("algoStrategy")
    if c.raw["algoStrategy"]:
        c.take_list("algoParams", 2)
    c.take("algoId", "whatIf", "orderMiscOptions", "solicited", "randomizeSize", "randomizePrice")
    if c.raw["orderType"] in ("PEG BENCH", "PEGBENCH"):
        c.take(
            "referenceContractId",
            "isPeggedChangeAmountDecrease",
            "peggedChangeAmount",
            "referenceChangeAmount",
            "referenceExchangeId",
        )
    _take_conditions(c)
    c.take(
        "adjustedOrderType",
        "triggerPrice",
        "lmtPriceOffset",
        "adjustedStopPrice",
        "adjustedStopLimitPrice",
        "adjustedTrailingAmount",
        "adjustableTrailingUnit",
        "extOperator",
        "softDollarTierName",
        "softDollarTierValue",
        "cashQty",
        "mifid2DecisionMaker",
        "mifid2DecisionAlgo",
        "mifid2ExecutionTrader",
        "mifid2ExecutionAlgo",
        "dontUseAutoPriceForHedge",
        "isOmsContainer",
        "discretionaryUpToLimitPrice",
        "usePriceMgmtAlgo",
    )
    for min_version, name in (
        (158, "duration"),
        (160, "postToAts"),
        (162, "autoCancelParent"),
        (166, "advancedErrorOverride"),
        (169, "manualOrderTime"),
    ):
        if version >= min_version:
            c.take(name)
    if version >= 170:
        _take_peg_fields(c)
    if c.pos != len(c.fields):
        raise OrderParseError(f"{len(c.fields) - c.pos} unexpected trailing fields")
    _check_numbers(c.raw)
    try:
        order_id = int(c.raw["orderId"] or 0)
        contract = ContractQuery.from_fields([c.raw[n] for n in CONTRACT_FIELDS])
    except ValueError as exc:
        raise OrderParseError(str(exc)) from exc
    return PlacedOrder(order_id, contract, c.raw)


#: Fields the engine reads as numbers (PlacedOrder.number); ints among them must be whole.
NUMBER_FIELDS = ("totalQuantity", "lmtPrice", "auxPrice", "trailStopPrice", "trailingPercent")
INT_FIELDS = ("orderId", "parentId", "ocaType")


def _check_numbers(raw: dict[str, str]) -> None:
    """Refuse an order whose numbers the engine could not act on.

    Clients send ``""`` or UNSET for "no value" and finite decimals otherwise; ``nan`` or
    ``inf`` would slip through ``float()`` and only fail later, inside the engine.
    """
    for name in NUMBER_FIELDS:
        value = raw[name]
        try:
            number = float(value) if value else 0.0
        except ValueError as exc:
            raise OrderParseError(f"{name} is not a number: {show(value)}") from exc
        if not math.isfinite(number):
            raise OrderParseError(f"{name} is not a finite number: {show(value)}")
    for name in INT_FIELDS:
        value = raw[name]
        try:
            int(value or 0)
        except ValueError as exc:
            raise OrderParseError(f"{name} is not an int: {show(value)}") from exc


def _take_conditions(c: _Cursor) -> None:
    count = c.int_field("conditionsCount")
    if count < 0 or count > 100:
        raise OrderParseError(f"conditions count {count} out of range")
    parts = []
    for _ in range(count):
        cond_type = c._next("condType")
        width = CONDITION_FIELDS.get(int(cond_type)) if cond_type.isdecimal() else None
        if width is None:
            raise OrderParseError(f"unknown condition type {show(cond_type)}")
        parts.append(cond_type)
        parts.extend(c._next("condition") for _ in range(width))
    c.raw["conditions"] = "\x1f".join(parts)
    if count:
        c.take("conditionsIgnoreRth", "conditionsCancelOrder")


def _take_peg_fields(c: _Cursor) -> None:
    if c.raw["exchange"] == "IBKRATS":
        c.take("minTradeQty")
    order_type = c.raw["orderType"]
    if order_type == "PEG BEST":
        c.take("minCompeteSize", "competeAgainstBestOffset")
        if c.raw["competeAgainstBestOffset"] == "Infinite":
            c.take("midOffsetAtWhole", "midOffsetAtHalf")
    elif order_type == "PEG MID":
        c.take("midOffsetAtWhole", "midOffsetAtHalf")


# ---- encoding ---------------------------------------------------------------------------------


def _contract_fields(o: SimOrder) -> list[str]:
    i = o.inst
    return [
        fmt_int(i.con_id),
        i.symbol,
        i.sec_type,
        i.expiry,
        "0",
        "",
        i.multiplier_str,
        i.exchange,
        i.currency,
        i.local_symbol,
        i.trading_class,
    ]


def _list(raw: dict[str, str], name: str, width: int) -> list[str]:
    packed = raw.get(name, "")
    items = packed.split("\x1f") if packed else []
    return [str(len(items) // width), *items]


def _order_head(o: SimOrder) -> list[str]:
    r = o.raw.get
    return [
        o.action,
        fmt_float(o.total_qty),
        o.order_type,
        fmt_float(o.lmt_price),
        fmt_float(o.aux_price),
        o.tif,
        o.oca_group,
        o.account,
        r("openClose", ""),
        r("origin", "0") or "0",
        o.order_ref,
    ]


def _dn_tail(raw: dict[str, str], short: bool) -> list[str]:
    if not raw.get("deltaNeutralOrderType"):
        return []
    names = (
        (
            "deltaNeutralConId",
            "deltaNeutralShortSale",
            "deltaNeutralShortSaleSlot",
            "deltaNeutralDesignatedLocation",
        )
        if short
        else (
            "deltaNeutralConId",
            "deltaNeutralSettlingFirm",
            "deltaNeutralClearingAccount",
            "deltaNeutralClearingIntent",
            "deltaNeutralOpenClose",
            "deltaNeutralShortSale",
            "deltaNeutralShortSaleSlot",
            "deltaNeutralDesignatedLocation",
        )
    )
    return [raw.get(n, "") for n in names]


def _scale_hedge_tail(raw: dict[str, str]) -> list[str]:
    r = raw.get
    out = [r("scaleInitLevelSize", ""), r("scaleSubsLevelSize", ""), r("scalePriceIncrement", "")]
    increment = float(r("scalePriceIncrement", "") or UNSET_DOUBLE)
    if 0 < increment < UNSET_DOUBLE:
        out += [
            r(n, "")
            for n in (
                "scalePriceAdjustValue",
                "scalePriceAdjustInterval",
                "scaleProfitOffset",
                "scaleAutoReset",
                "scaleInitPosition",
                "scaleInitFillQty",
                "scaleRandomPercent",
            )
        ]
    out.append(r("hedgeType", ""))
    if r("hedgeType"):
        out.append(r("hedgeParam", ""))
    return out


def _dnc_algo(raw: dict[str, str]) -> list[str]:
    r = raw.get
    out = (
        ["1", r("dncConId", ""), r("dncDelta", ""), r("dncPrice", "")]
        if r("deltaNeutralContractPresent", "0") not in ("", "0")
        else ["0"]
    )
    out.append(r("algoStrategy", ""))
    if r("algoStrategy"):
        out += _list(raw, "algoParams", 2)
    return out


def _peg_bench(o: SimOrder) -> list[str]:
    if o.order_type != "PEG BENCH":
        return []
    return [
        o.raw.get(n, "")
        for n in (
            "referenceContractId",
            "isPeggedChangeAmountDecrease",
            "peggedChangeAmount",
            "referenceChangeAmount",
            "referenceExchangeId",
        )
    ]


def _conditions(raw: dict[str, str]) -> list[str]:
    packed = raw.get("conditions", "")
    if not packed:
        return ["0"]
    parts = packed.split("\x1f")
    count, i = 0, 0
    while i < len(parts):
        i += 1 + CONDITION_FIELDS[int(parts[i])]
        count += 1
    return [
        str(count),
        *parts,
        raw.get("conditionsIgnoreRth", "0"),
        raw.get("conditionsCancelOrder", "0"),
    ]


@dataclass(frozen=True, slots=True)
class WhatIfState:
    """Margin and commission figures of an order state (what-if answers carry them)."""

    init_before: float
    maint_before: float
    equity_before: float
    init_after: float
    maint_after: float
    equity_after: float
    commission: float

    def fields(self) -> list[str]:
        """The 14 orderState fields after ``status`` in openOrder (warningText last)."""

        def f(x: float) -> str:
            return fmt_float(round(x, 2))

        return [
            f(self.init_before),
            f(self.maint_before),
            f(self.equity_before),
            f(self.init_after - self.init_before),
            f(self.maint_after - self.maint_before),
            f(self.equity_after - self.equity_before),
            f(self.init_after),
            f(self.maint_after),
            f(self.equity_after),
            f(self.commission),
            f(self.commission),
            f(self.commission),
            "USD",
            "",
        ]


NO_STATE = ["", "", "", "", "", "", "", "", "", "", "", "", "", ""]


def encode_open_order(
    o: SimOrder, version: int, order_id: int, what_if: WhatIfState | None = None
) -> list[str]:
    """The openOrder fields for ``o`` as seen by a client (``order_id`` as that client knows it).

    A what-if answer carries ``whatIf=1`` and real margin figures; a normal echo leaves the
    margin fields empty, which both decoders read as unset.
    """
    r = o.raw.get
    fields = [
        "5",
        fmt_int(order_id),
        *_contract_fields(o),
        *_order_head(o),
        fmt_int(o.client_id),
        fmt_int(o.perm_id),
        "1" if o.outside_rth else "0",
        r("hidden", "0") or "0",
        r("discretionaryAmt", ""),
        r("goodAfterTime", ""),
        "",
        r("faGroup", ""),
        r("faMethod", ""),
        r("faPercentage", ""),
    ]
    if version < 177:
        fields.append(r("faProfile", ""))
    fields += [
        r("modelCode", ""),
        r("goodTillDate", ""),
        r("rule80A", ""),
        r("percentOffset", ""),
        r("settlingFirm", ""),
        r("shortSaleSlot", "0") or "0",
        r("designatedLocation", ""),
        r("exemptCode", "-1") or "-1",
        r("auctionStrategy", "0") or "0",
        r("startingPrice", ""),
        r("stockRefPrice", ""),
        r("delta", ""),
        r("stockRangeLower", ""),
        r("stockRangeUpper", ""),
        r("displaySize", ""),
        r("blockOrder", "0") or "0",
        r("sweepToFill", "0") or "0",
        r("allOrNone", "0") or "0",
        r("minQty", ""),
        fmt_int(o.oca_type),
        "0",
        "0",
        "",
        fmt_int(o.parent_id),
        r("triggerMethod", "0") or "0",
        r("volatility", ""),
        r("volatilityType", ""),
        r("deltaNeutralOrderType", ""),
        r("deltaNeutralAuxPrice", ""),
        *_dn_tail(o.raw, short=False),
        r("continuousUpdate", "0") or "0",
        r("referencePriceType", ""),
        fmt_float(o.trail_stop_price),
        fmt_float(o.trailing_percent),
        "",
        "",
        "",
        *_list(o.raw, "comboLegs", 8),
        *_list(o.raw, "orderComboLegs", 1),
        *_list(o.raw, "smartComboRoutingParams", 2),
        *_scale_hedge_tail(o.raw),
        r("optOutSmartRouting", "0") or "0",
        r("clearingAccount", ""),
        r("clearingIntent", ""),
        r("notHeld", "0") or "0",
        *_dnc_algo(o.raw),
        r("solicited", "0") or "0",
        "1" if what_if else "0",
        o.status.value if not what_if else "PreSubmitted",
        *(what_if.fields() if what_if else NO_STATE),
        r("randomizeSize", "0") or "0",
        r("randomizePrice", "0") or "0",
        *_peg_bench(o),
        *_conditions(o.raw),
        r("adjustedOrderType", ""),
        r("triggerPrice", ""),
        fmt_float(o.trail_stop_price),
        r("lmtPriceOffset", ""),
        r("adjustedStopPrice", ""),
        r("adjustedStopLimitPrice", ""),
        r("adjustedTrailingAmount", ""),
        r("adjustableTrailingUnit", "0") or "0",
        r("softDollarTierName", ""),
        r("softDollarTierValue", ""),
        "",
        r("cashQty", ""),
        r("dontUseAutoPriceForHedge", "0") or "0",
        r("isOmsContainer", "0") or "0",
        r("discretionaryUpToLimitPrice", "0") or "0",
        r("usePriceMgmtAlgo", ""),
    ]
    fields += _version_tail(o, version)
    return fields


def _version_tail(o: SimOrder, version: int) -> list[str]:
    r = o.raw.get
    out = []
    if version >= 158:
        out.append(r("duration", ""))
    if version >= 160:
        out.append(r("postToAts", ""))
    if version >= 162:
        out.append(r("autoCancelParent", "0") or "0")
    if version >= 170:
        out += [
            r("minTradeQty", ""),
            r("minCompeteSize", ""),
            r("competeAgainstBestOffset", ""),
            r("midOffsetAtWhole", ""),
            r("midOffsetAtHalf", ""),
        ]
    return out


def encode_completed_order(o: SimOrder, version: int, completed_time: str) -> list[str]:
    """The completedOrder fields for a done order (reply to reqCompletedOrders only)."""
    r = o.raw.get
    fields = [
        "101",
        *_contract_fields(o),
        *_order_head(o),
        fmt_int(o.perm_id),
        "1" if o.outside_rth else "0",
        r("hidden", "0") or "0",
        r("discretionaryAmt", ""),
        r("goodAfterTime", ""),
        r("faGroup", ""),
        r("faMethod", ""),
        r("faPercentage", ""),
    ]
    if version < 177:
        fields.append(r("faProfile", ""))
    fields += [
        r("modelCode", ""),
        r("goodTillDate", ""),
        r("rule80A", ""),
        r("percentOffset", ""),
        r("settlingFirm", ""),
        r("shortSaleSlot", "0") or "0",
        r("designatedLocation", ""),
        r("exemptCode", "-1") or "-1",
        r("startingPrice", ""),
        r("stockRefPrice", ""),
        r("delta", ""),
        r("stockRangeLower", ""),
        r("stockRangeUpper", ""),
        r("displaySize", ""),
        r("sweepToFill", "0") or "0",
        r("allOrNone", "0") or "0",
        r("minQty", ""),
        fmt_int(o.oca_type),
        r("triggerMethod", "0") or "0",
        r("volatility", ""),
        r("volatilityType", ""),
        r("deltaNeutralOrderType", ""),
        r("deltaNeutralAuxPrice", ""),
        *_dn_tail(o.raw, short=True),
        r("continuousUpdate", "0") or "0",
        r("referencePriceType", ""),
        fmt_float(o.trail_stop_price),
        fmt_float(o.trailing_percent),
        "",
        *_list(o.raw, "comboLegs", 8),
        *_list(o.raw, "orderComboLegs", 1),
        *_list(o.raw, "smartComboRoutingParams", 2),
        *_scale_hedge_tail(o.raw),
        r("clearingAccount", ""),
        r("clearingIntent", ""),
        r("notHeld", "0") or "0",
        *_dnc_algo(o.raw),
        r("solicited", "0") or "0",
        o.status.value,
        r("randomizeSize", "0") or "0",
        r("randomizePrice", "0") or "0",
        *_peg_bench(o),
        *_conditions(o.raw),
        fmt_float(o.trail_stop_price),
        r("lmtPriceOffset", ""),
        r("cashQty", ""),
        r("dontUseAutoPriceForHedge", "0") or "0",
        r("isOmsContainer", "0") or "0",
        "",
        fmt_float(o.filled),
        "",
        r("autoCancelParent", "0") or "0",
        "",
        "0",
        "0",
        fmt_int(o.parent.perm_id if o.parent else 0),
        completed_time,
        o.completed_status,
    ]
    if version >= 170:
        fields += [
            r("minTradeQty", ""),
            r("minCompeteSize", ""),
            r("competeAgainstBestOffset", ""),
            r("midOffsetAtWhole", ""),
            r("midOffsetAtHalf", ""),
        ]
    return fields


def order_status_fields(o: SimOrder, order_id: int) -> list[str]:
    """orderStatus: 12 fields, no version field."""
    return [
        "3",
        fmt_int(order_id),
        o.status.value if o.status.value != "Held" else "Inactive",
        fmt_float(o.filled),
        fmt_float(o.remaining),
        fmt_float(o.avg_fill_price),
        fmt_int(o.perm_id),
        fmt_int(o.parent.order_id if o.parent else 0),
        fmt_float(o.last_fill_price),
        fmt_int(o.client_id),
        "",
        "",
    ]
