"""Request handlers for streaming market data: reqMktData and tick-by-tick.

Both are limited as at IB, over all clients together (an account's lines are shared by
every API client and the TWS screen): streaming market-data lines (error 101) and
tick-by-tick subscriptions (error 10190). Snapshots take no line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import streams
from ibdesk.simtws.registry import handles, resolve
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession, MarketSub
from ibdesk.simtws.throttle import show

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

MAX_TICKERS = "Max number of tickers has been reached"
MAX_TICK_BY_TICK = "Max number of tick-by-tick requests has been reached."


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
    if not snapshot and server.market_lines_used() >= server.config.market_data_lines:
        s.send(out.error(req_id, 101, MAX_TICKERS, s.version))
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
                f"Error validating request: tick-by-tick type {show(kind)} "
                f"is not one of {', '.join(TICK_BY_TICK_KINDS)}",
                s.version,
            )
        )
        return
    inst = resolve(server, s, req_id, q)
    if inst is None:
        return
    if req_id not in s.subs.tick_by_tick and (
        server.tick_by_tick_used() >= server.config.tick_by_tick_slots
    ):
        s.send(out.error(req_id, 10190, MAX_TICK_BY_TICK, s.version))
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
