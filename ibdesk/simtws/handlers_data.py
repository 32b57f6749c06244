"""Request handlers for the connection, contracts, market data and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import streams
from ibdesk.simtws.catalog import ContractQuery, Instrument
from ibdesk.simtws.history import (
    WHAT_TO_SHOW,
    Bars,
    HistoryRequestError,
    liquid_start,
    parse_bar_size,
    parse_duration,
    parse_end,
)
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import BarsSub, ClientSession, MarketSub
from ibdesk.simtws.wire import fmt_float, fmt_int

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

Handler = Callable[["SimServer", ClientSession, Request], None]
DATA_HANDLERS: dict[int, Handler] = {}
MAX_MARKET_LINES = 100
NO_DEFINITION = "No security definition has been found for the request"


def handles(msg_id: int) -> Callable[[Handler], Handler]:
    """Register a handler for one request message id."""

    def register(fn: Handler) -> Handler:
        DATA_HANDLERS[msg_id] = fn
        return fn

    return register


def resolve(
    server: SimServer, s: ClientSession, req_id: int, q: ContractQuery
) -> Instrument | None:
    """The one instrument a request names, or error 200 (none) / 200 (ambiguous)."""
    found = server.catalog.lookup(q)
    if len(found) == 1:
        return found[0]
    text = NO_DEFINITION if not found else "The contract description specified is ambiguous"
    s.send(out.error(req_id, 200, text, s.version))
    return None


# ---- connection ---------------------------------------------------------------------------


@handles(71)
def start_api(server: SimServer, s: ClientSession, req: Request) -> None:
    """startApi: ``71, 2, clientId, optionalCapabilities``."""
    req.need(3)
    if s.started:
        raise RequestError("startApi sent twice")
    server.start_api(s, req.integer(2))


@handles(49)
def req_current_time(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqCurrentTime (the round-trip probe)."""
    s.send(out.current_time(server.clock()))


@handles(17)
def req_managed_accts(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqManagedAccts."""
    s.send(out.managed_accounts(list(server.config.accounts)))


@handles(8)
def req_ids(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqIds, answered with nextValidId."""
    assert s.client_id is not None
    s.send(out.next_valid_id(server.next_valid_id(s.client_id)))


@handles(59)
def req_market_data_type(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMarketDataType: remembered; the simulator always has live data to give."""
    kind = req.integer(2, 1)
    if kind not in (1, 2, 3, 4):
        raise RequestError(f"market data type {kind} is not 1..4")
    s.market_data_type = kind


# ---- contracts ------------------------------------------------------------------------------


@handles(9)
def req_contract_details(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqContractDetails: every match, then contractDetailsEnd; none is error 200."""
    req_id = req.integer(2)
    q = req.contract(3)
    found = server.catalog.lookup(q)
    if not found:
        s.send(out.error(req_id, 200, NO_DEFINITION, s.version))
        return
    sec_type = "CONTFUT" if q.sec_type.upper() == "CONTFUT" else ""
    for inst in found:
        shown = server.catalog.answer_contract(inst, q)
        s.send(out.contract_details(req_id, shown, s.version, server.catalog.today, sec_type))
    s.send(out.contract_details_end(req_id))


@handles(81)
def req_matching_symbols(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMatchingSymbols: instruments whose symbol or name starts with the pattern."""
    req_id = req.integer(1)
    pattern = req.text(2).upper()
    seen: dict[str, Instrument] = {}
    for inst in server.catalog.instruments.values():
        if inst.symbol.startswith(pattern) or inst.long_name.upper().startswith(pattern):
            key = inst.symbol if inst.sec_type == "FUT" else f"{inst.symbol}.{inst.sec_type}"
            seen.setdefault(key, inst)
    rows: list[str] = ["79", fmt_int(req_id), str(len(seen))]
    for inst in seen.values():
        sec_type = "IND" if inst.sec_type == "FUT" else inst.sec_type
        derivs = ["FUT"] if inst.sec_type == "FUT" else []
        rows += [
            fmt_int(inst.under_con_id or inst.con_id),
            inst.symbol,
            sec_type,
            inst.primary_exchange or inst.exchange,
            inst.currency,
            str(len(derivs)),
            *derivs,
        ]
        if s.version >= 176:
            rows += [inst.long_name, ""]
    s.send(rows)


# ---- market data ----------------------------------------------------------------------------


@handles(1)
def req_mkt_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMktData: streaming subscription or one snapshot."""
    req_id = req.integer(2)
    q = req.contract(3)
    i = 15
    if q.sec_type.upper() == "BAG":
        i += 1 + 4 * req.integer(i)
    i += 4 if req.flag(i) else 1
    generic = frozenset(
        int(x) for x in req.text(i).split(",") if x.strip().isascii() and x.strip().isdigit()
    )
    snapshot = req.flag(i + 1)
    if req_id in s.subs.market:
        s.send(out.error(req_id, 322, "Error processing request: Duplicate ticker id", s.version))
        return
    inst = resolve(server, s, req_id, q)
    if inst is None:
        return
    lines = sum(len(x.subs.market) for x in server.sessions)
    if not snapshot and lines >= MAX_MARKET_LINES:
        s.send(
            out.error(
                req_id,
                101,
                f"Max number of tickers has been reached ({MAX_MARKET_LINES} market data lines)",
                s.version,
            )
        )
        return
    sub = MarketSub(req_id, inst, generic)
    s.send(out.tick_req_params(req_id, inst.min_tick, "9c0001" if inst.sec_type == "STK" else ""))
    s.send(out.market_data_type(req_id, 1))
    if server.competing:
        s.send(out.error(req_id, 10197, "No market data during competing live session", s.version))
    else:
        streams.send_snapshot(server, s, sub)
    if snapshot:
        s.send(out.tick_snapshot_end(req_id))
        return
    s.subs.market[req_id] = sub
    server.rebuild_watchers()


@handles(2)
def cancel_mkt_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelMktData."""
    if s.subs.market.pop(req.integer(2), None) is not None:
        server.rebuild_watchers()


TICK_BY_TICK_KINDS = ("Last", "AllLast", "BidAsk", "MidPoint")


@handles(97)
def req_tick_by_tick(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqTickByTickData: ``97, reqId, C(12), tickType, numberOfTicks, ignoreSize``."""
    req_id = req.integer(1)
    q = req.contract(2)
    kind = req.text(14)
    if kind not in TICK_BY_TICK_KINDS:
        s.send(
            out.error(
                req_id,
                321,
                f"Error validating request: tick-by-tick type {kind!r} "
                f"is not one of {', '.join(TICK_BY_TICK_KINDS)}",
                s.version,
            )
        )
        return
    inst = resolve(server, s, req_id, q)
    if inst is None:
        return
    s.subs.tick_by_tick[req_id] = (inst, kind)
    server.rebuild_watchers()
    quote = server.market.quote(inst.con_id)
    now = server.clock()
    if kind == "BidAsk":
        s.send(
            out.tick_by_tick_bid_ask(
                req_id, now, quote.bid, quote.ask, quote.bid_size, quote.ask_size
            )
        )
    elif kind == "MidPoint":
        s.send(out.tick_by_tick_mid(req_id, now, quote.mid))


@handles(98)
def cancel_tick_by_tick(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelTickByTickData."""
    if s.subs.tick_by_tick.pop(req.integer(1), None) is not None:
        server.rebuild_watchers()


# ---- history --------------------------------------------------------------------------------


def pacing_violation(
    server: SimServer, key: tuple[object, ...], con_id: int, now: float
) -> str | None:
    """IB's small-bar pacing rules; returns why a request breaks them, or None."""
    log = server.hist_requests
    while log and now - log[0][0] > 600:
        log.popleft()
    if any(k == key and now - t < 15 for t, k, _ in log):
        return "identical request within 15 seconds"
    if sum(1 for t, _, c in log if c == con_id and now - t < 2) >= 6:
        return "more than 6 requests for one contract within 2 seconds"
    if len(log) >= 60:
        return "more than 60 requests within 10 minutes"
    log.append((now, key, con_id))
    return None


@handles(20)
def req_historical_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqHistoricalData (no version field; bar size comes before duration)."""
    req_id = req.integer(1)
    q = req.contract(2)
    end_text, bar_text, duration_text = req.text(15), req.text(16), req.text(17)
    use_rth, what, format_date = req.integer(18), req.text(19).upper(), req.integer(20, 1)
    i = 21
    if q.sec_type.upper() == "BAG":
        i += 1 + 4 * req.integer(i)
    keep = req.flag(i)
    inst = resolve(server, s, req_id, q)
    if inst is None:
        return
    now = server.clock()
    try:
        if what not in WHAT_TO_SHOW:
            raise HistoryRequestError(f"whatToShow {what!r} is not supported")
        if keep and end_text.strip():
            raise HistoryRequestError("keepUpToDate requires an empty end date/time")
        bar_seconds = parse_bar_size(bar_text)
        end = parse_end(end_text, now)
        start = end - parse_duration(duration_text)
        count, unit = duration_text.split()  # parse_duration has vetted the form
        if use_rth and unit == "D" and int(count) > 0:
            start = liquid_start(inst, end, int(count)) or start
    except HistoryRequestError as exc:
        s.send(out.error(req_id, 321, f"Error validating request:-'bP' : cause - {exc}", s.version))
        return
    if server.config.pacing and bar_seconds <= 30:
        key = (inst.con_id, bar_text, duration_text, end_text, what, use_rth)
        why = pacing_violation(server, key, inst.con_id, now)
        if why is not None:
            s.send(
                out.error(
                    req_id,
                    162,
                    "Historical Market Data Service error message:"
                    f"Historical data request pacing violation ({why})",
                    s.version,
                )
            )
            return
    shown = "MIDPOINT" if what == "BID_ASK" else "TRADES" if what == "ADJUSTED_LAST" else what
    bars = server.history.bars(
        inst, bar_seconds, start, end + (1 if keep else 0), shown, liquid_only=bool(use_rth)
    )
    if not len(bars) and not keep:
        # What HMDS answers for a window with no data (before the head timestamp, a useRTH
        # window with no session): an error, not an empty historicalData.
        s.send(
            out.error(
                req_id,
                162,
                "Historical Market Data Service error message:HMDS query returned no data: "
                f"{inst.local_symbol}@{inst.exchange} {what.title()}",
                s.version,
            )
        )
        return
    send_bars(s, req_id, inst, bars, bar_seconds, format_date, start, end)
    if keep:
        s.subs.keep_up_to_date[req_id] = BarsSub(req_id, inst, bar_seconds, shown, format_date, now)
        server.rebuild_watchers()


def send_bars(
    s: ClientSession,
    req_id: int,
    inst: Instrument,
    bars: Bars,
    bar_seconds: int,
    format_date: int,
    start: float,
    end: float,
) -> None:
    """historicalData: all bars in one message, which also ends the request."""
    tz = inst.session.tz
    rows: list[str] = [
        "17",
        fmt_int(req_id),
        out.ib_time(start, tz),
        out.ib_time(end, tz),
        str(len(bars)),
    ]
    times = bars.time.tolist()
    cols = [
        c.tolist() for c in (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.count)
    ]
    for k, t in enumerate(times):
        o, h, lo, c, v, n = (col[k] for col in cols)
        rows += [
            out.bar_date(t, bar_seconds, format_date, tz),
            fmt_float(o),
            fmt_float(h),
            fmt_float(lo),
            fmt_float(c),
            fmt_float(v),
            f"{(h + lo + c) / 3:.6f}",
            fmt_int(int(n)),
        ]
    s.send(rows)


@handles(25)
def cancel_historical_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelHistoricalData: ends a keepUpToDate stream."""
    req_id = req.integer(2)
    if s.subs.keep_up_to_date.pop(req_id, None) is not None:
        server.rebuild_watchers()
    else:
        s.send(
            out.error(
                req_id, 366, f"No historical data query found for ticker id:{req_id}", s.version
            )
        )


@handles(87)
def req_head_timestamp(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqHeadTimeStamp: the earliest bar the simulator can give."""
    req_id = req.integer(1)
    inst = resolve(server, s, req_id, req.contract(2))
    if inst is None:
        return
    first = server.history.head_timestamp(inst)
    stamp = str(int(first)) if req.integer(17, 1) == 2 else out.ib_time(first, inst.session.tz)
    s.send(out.head_timestamp(req_id, stamp))


@handles(90)
def cancel_head_timestamp(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelHeadTimeStamp: nothing is pending, so nothing to do."""


@handles(50)
def req_real_time_bars(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqRealTimeBars: ``50, 3, reqId, C(12), barSize, whatToShow, useRTH, options``."""
    req_id = req.integer(2)
    inst = resolve(server, s, req_id, req.contract(3))
    if inst is None:
        return
    what = req.text(16).upper() or "TRADES"
    if what not in ("TRADES", "MIDPOINT", "BID", "ASK"):
        s.send(
            out.error(
                req_id,
                321,
                f"Error validating request: whatToShow {what!r} is not valid for real-time bars",
                s.version,
            )
        )
        return
    s.subs.realtime_bars[req_id] = BarsSub(req_id, inst, 5, what)


@handles(51)
def cancel_real_time_bars(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelRealTimeBars."""
    s.subs.realtime_bars.pop(req.integer(2), None)
