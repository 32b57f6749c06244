"""Request handlers for history: bars, keepUpToDate, head timestamps, real-time bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.history_past import Bars
from ibdesk.simtws.history_request import (
    WHAT_TO_SHOW,
    HistoryLimitError,
    HistoryRequestError,
    check_step,
    parse_bar_size,
    parse_duration,
    parse_end,
)
from ibdesk.simtws.history_sessions import liquid_start
from ibdesk.simtws.registry import handles, resolve
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import BarsSub, ClientSession
from ibdesk.simtws.throttle import show
from ibdesk.simtws.wire import fmt_float, fmt_int

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

HMDS_ERROR = "Historical Market Data Service error message:"
INVALID_REQUEST = "Error validating request.-'bK' : cause - "


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
            raise HistoryRequestError(f"whatToShow {show(what)} is not supported")
        if keep and end_text.strip():
            raise HistoryRequestError("keepUpToDate requires an empty end date/time")
        bar_seconds = parse_bar_size(bar_text)
        end = parse_end(end_text, now)
        duration = parse_duration(duration_text)
        check_step(bar_seconds, duration)
        start = end - duration
        count, unit = duration_text.split()  # parse_duration has vetted the form
        if use_rth and unit == "D" and int(count) > 0:
            start = liquid_start(inst, end, int(count)) or start
    except HistoryLimitError as exc:
        s.send(out.error(req_id, 162, f"{HMDS_ERROR}{exc}", s.version))
        return
    except HistoryRequestError as exc:
        s.send(out.error(req_id, 321, f"{INVALID_REQUEST}{exc}", s.version))
        return
    if server.config.pacing and bar_seconds <= 30:
        key = (inst.con_id, bar_text, duration_text, end_text, what, use_rth)
        why = pacing_violation(server, key, inst.con_id, now)
        if why is not None:
            s.send(
                out.error(
                    req_id,
                    162,
                    f"{HMDS_ERROR}Historical data request pacing violation ({why})",
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
                f"{HMDS_ERROR}HMDS query returned no data: "
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
    first = server.history.head_timestamp(inst, use_rth=req.flag(15))
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
                f"Error validating request: whatToShow {show(what)} "
                "is not valid for real-time bars",
                s.version,
            )
        )
        return
    s.subs.realtime_bars[req_id] = BarsSub(req_id, inst, 5, what)


@handles(51)
def cancel_real_time_bars(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelRealTimeBars."""
    s.subs.realtime_bars.pop(req.integer(2), None)
