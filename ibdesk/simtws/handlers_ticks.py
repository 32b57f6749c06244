"""Request handlers for histograms and historical ticks, both drawn from the same history as
the bars (so a tick's price lies inside the bar of its second).

Historical ticks are one per second from the 1-second bars where they exist (the last two
days and the live tape), one per minute further back: TRADES where something traded,
BID_ASK and MIDPOINT every second.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import outbound_reference as ref
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.handlers_news import news_bound
from ibdesk.simtws.history_past import Bars
from ibdesk.simtws.registry import handles, resolve
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession
from ibdesk.simtws.throttle import show

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

INVALID = "Error validating request.-'cB' : cause - "
PERIOD_UNITS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}
MAX_TICKS = 1000
MAX_PERIOD = 365 * 86400
HISTOGRAM_ROWS = 40


def _refuse(s: ClientSession, req_id: int, cause: str) -> None:
    s.send(out.error(req_id, 321, INVALID + cause, s.version))


def parse_period(text: str) -> int | None:
    """Seconds in a histogram period such as ``"3 days"`` or ``"1 weeks"``, or None."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isascii() or not parts[0].isdigit():
        return None
    unit = PERIOD_UNITS.get(parts[1].lower().rstrip("s"))
    if not unit or int(parts[0]) <= 0:
        return None
    seconds = int(parts[0]) * unit
    # A year of hourly bars at most: a histogram is about recent trading.
    return seconds if seconds <= MAX_PERIOD else None


def histogram(inst: Instrument, bars: Bars) -> list[tuple[float, float]]:
    """Volume by price: each bar's volume at its typical price, in up to HISTOGRAM_ROWS
    buckets a whole number of ticks wide."""
    if not len(bars):
        return []
    low, high = float(bars.low.min()), float(bars.high.max())
    ticks = max(1, math.ceil((high - low) / inst.min_tick / HISTOGRAM_ROWS))
    step = ticks * inst.min_tick
    rows: dict[float, float] = defaultdict(float)
    typical = (bars.high + bars.low + bars.close) / 3
    for price, volume in zip(typical.tolist(), bars.volume.tolist(), strict=True):
        bucket = inst.round_to_tick(low + math.floor((price - low) / step) * step)
        rows[bucket] += volume
    return sorted(rows.items())


@handles(88)
def req_histogram_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqHistogramData: ``88, reqId, C(12), includeExpired, useRTH, timePeriod``."""
    req_id = req.integer(1)
    inst = resolve(server, s, req_id, req.contract(2))
    if inst is None:
        return
    period = parse_period(req.text(16))
    if period is None:
        _refuse(s, req_id, f"Invalid time period {show(req.text(16))}")
        return
    now = server.clock()
    width = 60 if period <= 2 * 86400 else 3600 if period <= 35 * 86400 else 86400
    bars = server.history.bars(inst, width, now - period, now, "TRADES", req.flag(15))
    s.send(ref.histogram_data(req_id, histogram(inst, bars)))


@handles(89)
def cancel_histogram_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelHistogramData: histograms are answered at once, nothing is pending."""


def _seconds(
    server: SimServer,
    inst: Instrument,
    window: tuple[float, float],
    what: str,
    rth: bool,
    count: int,
    ahead: bool,
) -> Bars:
    """One bar per second over the window, or, where no seconds exist, one per minute over
    as many minutes as ticks were asked for (from the window's start when ``ahead``)."""
    start, end = window
    bars = server.history.bars(inst, 1, start, end, what, rth)
    if not len(bars):
        reach = max(end - start, count * 60.0)
        start, end = (start, start + reach) if ahead else (end - reach, end)
        bars = server.history.bars(inst, 60, start, min(end, server.clock()), what, rth)
    return bars


TICK_SPAN = 1800.0  # seconds of ticks looked at, from the first (or last) traded minute
TICK_REACH = 7 * 86400.0  # how far a closed market is looked across: a weekend and holidays


def _tick_window(
    server: SimServer, inst: Instrument, at: float, now: float, what: str, rth: bool, ahead: bool
) -> tuple[float, float]:
    """The window ticks are taken from: from ``at`` onwards (``ahead``) or up to it.

    Like TWS, a request that starts or ends while the market is shut (the daily break, a
    weekend) is answered from the nearest trading across the gap, not with nothing; the
    minutes are searched first, as they are cheap, and seconds taken around the one found.
    """
    if ahead:
        minutes = server.history.bars(inst, 60, at, min(now, at + TICK_REACH), what, rth)
        traded = minutes.time[minutes.volume > 0] if what == "TRADES" else minutes.time
        first = max(at, float(traded[0])) if len(traded) else at
        return first, min(now, first + TICK_SPAN)
    minutes = server.history.bars(inst, 60, at - TICK_REACH, at, what, rth)
    traded = minutes.time[minutes.volume > 0] if what == "TRADES" else minutes.time
    last = min(at, float(traded[-1]) + 60) if len(traded) else at
    return last - TICK_SPAN, last


@handles(96)
def req_historical_ticks(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqHistoricalTicks: ``96, reqId, C(12), includeExpired, start, end, numberOfTicks,
    whatToShow, useRth, ignoreSize, options``; exactly one of start and end."""
    req_id = req.integer(1)
    inst = resolve(server, s, req_id, req.contract(2))
    if inst is None:
        return
    start_text, end_text = req.text(15).strip(), req.text(16).strip()
    count, what, rth = req.integer(17), req.text(18).upper(), req.flag(19)
    if bool(start_text) == bool(end_text):
        _refuse(s, req_id, "Exactly one of start time and end time has to be defined")
        return
    if not 0 < count <= MAX_TICKS:
        _refuse(s, req_id, f"Number of ticks must be between 1 and {MAX_TICKS}")
        return
    if what not in ("TRADES", "BID_ASK", "MIDPOINT"):
        _refuse(s, req_id, f"whatToShow {show(what)} is not valid for historical ticks")
        return
    now = server.clock()
    shown = "BID" if what == "BID_ASK" else what
    if start_text:
        window = _tick_window(server, inst, news_bound(start_text, now), now, shown, rth, True)
    else:
        window = _tick_window(server, inst, news_bound(end_text, now), now, shown, rth, False)
    bars = _seconds(server, inst, window, shown, rth, count, bool(start_text))
    times = [int(t) for t in bars.time.tolist()]
    closes = bars.close.tolist()
    if what == "TRADES":
        keep = [i for i, v in enumerate(bars.volume.tolist()) if v > 0]
        rows = [(times[i], closes[i], float(bars.volume[i]), inst.exchange) for i in keep]
        chosen = rows[:count] if start_text else rows[-count:]
        s.send(ref.historical_ticks_last(req_id, chosen))
    elif what == "BID_ASK":
        unit = 100.0 if inst.sec_type == "STK" else 1.0
        quotes = [
            (t, c, inst.round_to_tick(c + inst.min_tick), unit * (1 + t % 7), unit * (1 + t % 5))
            for t, c in zip(times, closes, strict=True)
        ]
        s.send(
            ref.historical_ticks_bid_ask(req_id, quotes[:count] if start_text else quotes[-count:])
        )
    else:
        mids = list(zip(times, closes, strict=True))
        s.send(ref.historical_ticks_mid(req_id, mids[:count] if start_text else mids[-count:]))
