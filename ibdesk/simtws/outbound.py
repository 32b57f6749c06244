"""Server-to-client messages at versions 157..176 (TWS_PROTOCOL.md §4).

Each function returns the message's fields as strings; :func:`pack` frames them. Field counts
are exact: the client decoders unpack most messages by tuple, and one field too many or too
few drops the message silently.
"""

from __future__ import annotations

import datetime as dt

from ibdesk.simtws import calendar as cal
from ibdesk.simtws.account import Position
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.orders import Execution
from ibdesk.simtws.wire import fmt_float, fmt_int, frame


def pack(fields: list[str]) -> bytes:
    """Frame one message's fields."""
    fields.append("")
    return frame("\0".join(fields).encode())


def ib_time(epoch: float, tz: str = "UTC") -> str:
    """``YYYYMMDD HH:MM:SS tz``: the form both clients parse with a time zone."""
    from zoneinfo import ZoneInfo

    stamp = dt.datetime.fromtimestamp(epoch, ZoneInfo(tz))
    return f"{stamp:%Y%m%d %H:%M:%S} {tz}"


# ---- connection -----------------------------------------------------------------------------


def next_valid_id(order_id: int) -> list[str]:
    """nextValidId: exactly 3 fields."""
    return ["9", "1", fmt_int(order_id)]


def managed_accounts(accounts: list[str]) -> list[str]:
    """managedAccounts: exactly 3 fields, non-empty list."""
    return ["15", "1", ",".join(accounts)]


def current_time(epoch: float) -> list[str]:
    """currentTime in whole epoch seconds."""
    return ["49", "1", fmt_int(int(epoch))]


def error(req_id: int, code: int, text: str, version: int) -> list[str]:
    """error; from version 166 the advancedOrderRejectJson field is mandatory (may be empty)."""
    fields = ["4", "2", fmt_int(req_id), fmt_int(code), text]
    if version >= 166:
        fields.append("")
    return fields


# ---- market data ----------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: float, size: float, attrs: int = 0) -> list[str]:
    """tickPrice: exactly 7 fields, the attribute mask included."""
    return [
        "1",
        "6",
        fmt_int(req_id),
        fmt_int(tick_type),
        fmt_float(price),
        fmt_float(size),
        fmt_int(attrs),
    ]


def tick_size(req_id: int, tick_type: int, size: float) -> list[str]:
    """tickSize."""
    return ["2", "6", fmt_int(req_id), fmt_int(tick_type), fmt_float(size)]


def tick_string(req_id: int, tick_type: int, value: str) -> list[str]:
    """tickString (RTVolume is type 48)."""
    return ["46", "6", fmt_int(req_id), fmt_int(tick_type), value]


def tick_generic(req_id: int, tick_type: int, value: float) -> list[str]:
    """tickGeneric (type 49 = halted)."""
    return ["45", "6", fmt_int(req_id), fmt_int(tick_type), fmt_float(value)]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str) -> list[str]:
    """tickReqParams, the first thing TWS sends after reqMktData."""
    return ["81", fmt_int(req_id), fmt_float(min_tick), bbo_exchange, "3"]


def market_data_type(req_id: int, kind: int) -> list[str]:
    """marketDataType: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return ["58", "1", fmt_int(req_id), fmt_int(kind)]


def tick_snapshot_end(req_id: int) -> list[str]:
    """tickSnapshotEnd: ends a snapshot request."""
    return ["57", "1", fmt_int(req_id)]


def tick_by_tick_last(
    req_id: int, kind: int, when: float, price: float, size: float, exchange: str
) -> list[str]:
    """tickByTick Last (1) or AllLast (2)."""
    return [
        "99",
        fmt_int(req_id),
        fmt_int(kind),
        fmt_int(int(when)),
        fmt_float(price),
        fmt_float(size),
        "0",
        exchange,
        "",
    ]


def tick_by_tick_bid_ask(
    req_id: int, when: float, bid: float, ask: float, bid_size: float, ask_size: float
) -> list[str]:
    """tickByTick BidAsk (3)."""
    return [
        "99",
        fmt_int(req_id),
        "3",
        fmt_int(int(when)),
        fmt_float(bid),
        fmt_float(ask),
        fmt_float(bid_size),
        fmt_float(ask_size),
        "0",
    ]


def tick_by_tick_mid(req_id: int, when: float, mid: float) -> list[str]:
    """tickByTick MidPoint (4)."""
    return ["99", fmt_int(req_id), "4", fmt_int(int(when)), fmt_float(mid)]


# ---- contracts ------------------------------------------------------------------------------


def contract_details(
    req_id: int, i: Instrument, version: int, today: dt.date, sec_type: str = ""
) -> list[str]:
    """contractDetails in the layout of ``version`` (164 dropped the version field)."""
    last = f"{i.expiry} {i.last_trade_time}".strip() if i.expiry else ""
    head = ["10"] + ([] if version >= 164 else ["8"])
    head += [
        fmt_int(req_id),
        i.symbol,
        sec_type or i.sec_type,
        last,
        "0",
        "",
        i.exchange,
        i.currency,
        i.local_symbol,
        i.trading_class,  # marketName: IB reports the trading class (NMS, SPY, ES …)
        i.trading_class,
        fmt_int(i.con_id),
        fmt_float(i.min_tick),
    ]
    if version < 164:
        head.append("1")  # mdSizeMultiplier
    body = [
        i.multiplier_str,
        i.order_types,
        i.valid_exchanges,
        "1",
        fmt_int(i.under_con_id),
        i.long_name,
        i.primary_exchange,
        i.contract_month,
        i.industry,
        i.category,
        i.subcategory,
        i.session.tz,
        cal.hours_string(i.session, today),
        cal.hours_string(i.session, today, liquid=True),
        "",
        "",
        *(["1", "ISIN", i.isin] if i.isin else ["0"]),
        "1",
        i.under_symbol,
        i.under_sec_type,
        fmt_int(i.market_rule_id),
        i.expiry,
        i.stock_type,
    ]
    if version == 163:
        body.append(fmt_float(i.size_increment))
    elif version >= 164:
        body += [fmt_float(i.min_size), fmt_float(i.size_increment), fmt_float(i.size_increment)]
    return head + body


def market_rule(rule_id: int, increments: list[tuple[float, float]]) -> list[str]:
    """marketRule: no version field; (lowEdge, increment) pairs."""
    fields = ["93", fmt_int(rule_id), str(len(increments))]
    for low, step in increments:
        fields += [fmt_float(low), fmt_float(step)]
    return fields


def contract_details_end(req_id: int) -> list[str]:
    """contractDetailsEnd."""
    return ["52", "1", fmt_int(req_id)]


def _contract11(i: Instrument, exchange: str) -> list[str]:
    """conId … tradingClass without primaryExchange (position, portfolio, execDetails)."""
    return [
        fmt_int(i.con_id),
        i.symbol,
        i.sec_type,
        i.expiry,
        "0",
        "",
        i.multiplier_str,
        exchange,
        i.currency,
        i.local_symbol,
        i.trading_class,
    ]


# ---- account --------------------------------------------------------------------------------


def position(account: str, pos: Position) -> list[str]:
    """position: exactly 16 fields."""
    i = pos.inst
    exchange = i.exchange if i.sec_type != "STK" else i.primary_exchange
    return [
        "61",
        "3",
        account,
        *_contract11(i, exchange),
        fmt_float(pos.qty),
        fmt_float(pos.avg_cost),
    ]


def position_multi(req_id: int, account: str, pos: Position, model: str = "") -> list[str]:
    """positionMulti: exactly 18 fields (the position message's, with reqId and model)."""
    i = pos.inst
    exchange = i.exchange if i.sec_type != "STK" else i.primary_exchange
    return [
        "71",
        "1",
        fmt_int(req_id),
        account,
        *_contract11(i, exchange),
        fmt_float(pos.qty),
        fmt_float(pos.avg_cost),
        model,
    ]


def position_multi_end(req_id: int) -> list[str]:
    """positionMultiEnd."""
    return ["72", "1", fmt_int(req_id)]


def position_end() -> list[str]:
    """positionEnd."""
    return ["62", "1"]


def update_account_value(key: str, value: str, currency: str, account: str) -> list[str]:
    """updateAccountValue."""
    return ["6", "2", key, value, currency, account]


def update_portfolio(
    account: str, pos: Position, price: float, value: float, unrealized: float
) -> list[str]:
    """updatePortfolio: exactly 20 fields, with primaryExchange where the others have exchange."""
    i = pos.inst
    return [
        "7",
        "8",
        *_contract11(i, i.primary_exchange),
        fmt_float(pos.qty),
        fmt_float(price),
        fmt_float(round(value, 2)),
        fmt_float(round(pos.avg_cost, 6)),
        fmt_float(round(unrealized, 2)),
        fmt_float(round(pos.realized, 2)),
        account,
    ]


def update_account_time(epoch: float) -> list[str]:
    """updateAccountTime, ``HH:MM``."""
    return ["8", "1", dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%H:%M")]


def account_download_end(account: str) -> list[str]:
    """accountDownloadEnd: ends reqAccountUpdates' first download."""
    return ["54", "1", account]


def account_update_multi(
    req_id: int, account: str, key: str, value: str, currency: str
) -> list[str]:
    """accountUpdateMulti."""
    return ["73", "1", fmt_int(req_id), account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> list[str]:
    """accountUpdateMultiEnd."""
    return ["74", "1", fmt_int(req_id)]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[str]:
    """accountSummary."""
    return ["63", "1", fmt_int(req_id), account, tag, value, currency]


def account_summary_end(req_id: int) -> list[str]:
    """accountSummaryEnd."""
    return ["64", "1", fmt_int(req_id)]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> list[str]:
    """pnl: no version field."""
    return [
        "94",
        fmt_int(req_id),
        fmt_float(round(daily, 2)),
        fmt_float(round(unrealized, 2)),
        fmt_float(round(realized, 2)),
    ]


def pnl_single(
    req_id: int, qty: float, daily: float, unrealized: float, realized: float, value: float
) -> list[str]:
    """pnlSingle: no version field."""
    return [
        "95",
        fmt_int(req_id),
        fmt_float(qty),
        fmt_float(round(daily, 2)),
        fmt_float(round(unrealized, 2)),
        fmt_float(round(realized, 2)),
        fmt_float(round(value, 2)),
    ]


# ---- orders and executions --------------------------------------------------------------------


def open_order_end() -> list[str]:
    """openOrderEnd."""
    return ["53", "1"]


def completed_orders_end() -> list[str]:
    """completedOrdersEnd: the id alone."""
    return ["102"]


def exec_details(req_id: int, e: Execution, order_id: int) -> list[str]:
    """execDetails: exactly 31 fields (ib_insync drops a 32nd)."""
    i = e.inst
    return [
        "11",
        fmt_int(req_id),
        fmt_int(order_id),
        *_contract11(i, i.exchange),
        e.exec_id,
        ib_time(e.time),
        e.account,
        i.exchange if i.sec_type != "STK" else i.primary_exchange,
        e.side,
        fmt_float(e.shares),
        fmt_float(e.price),
        fmt_int(e.perm_id),
        fmt_int(e.client_id),
        "0",
        fmt_float(e.cum_qty),
        fmt_float(e.avg_price),
        e.order_ref,
        "",
        "",
        "",
        fmt_int(e.liquidity),
    ]


def exec_details_end(req_id: int) -> list[str]:
    """execDetailsEnd: ends reqExecutions (which connect waits for)."""
    return ["55", "1", fmt_int(req_id)]


def commission_report(e: Execution) -> list[str]:
    """commissionReport: exactly 8 fields; sent after its execDetails."""
    return [
        "59",
        "1",
        e.exec_id,
        fmt_float(e.commission),
        "USD",
        fmt_float(round(e.realized_pnl, 2)) if e.realized_pnl else "1.7976931348623157E308",
        "1.7976931348623157E308",
        "",
    ]


# ---- bars -----------------------------------------------------------------------------------


def bar_date(epoch: float, bar_seconds: int, format_date: int, tz: str) -> str:
    """A bar's date: ``YYYYMMDD`` for daily bars, else epoch (format 2) or local time + zone."""
    if bar_seconds >= 86400:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%d")
    if format_date == 2:
        return str(int(epoch))
    return ib_time(epoch, tz)


def realtime_bar(
    req_id: int,
    epoch: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float,
    wap: float,
    count: int,
) -> list[str]:
    """realtimeBar (5-second bars)."""
    return [
        "50",
        "3",
        fmt_int(req_id),
        fmt_int(int(epoch)),
        fmt_float(o),
        fmt_float(h),
        fmt_float(lo),
        fmt_float(c),
        fmt_float(volume),
        fmt_float(round(wap, 6)),
        fmt_int(count),
    ]


def head_timestamp(req_id: int, stamp: str) -> list[str]:
    """headTimestamp."""
    return ["88", fmt_int(req_id), stamp]
