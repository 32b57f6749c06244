"""Everything the simulated TWS sends on its own: ticks and bars, and the clock of the slower
streams (P&L and account updates, whose messages accounts_feed.py builds).

The market clock calls :func:`advance` once per update; each step's quote changes are turned
into tick messages for every watcher, one socket write per client per update. Payloads for
the hot path are built as text with precomputed prefixes: it is the only place where the
simulator does work proportional to the message rate.
"""

from __future__ import annotations

import asyncio
import math
import struct
from typing import TYPE_CHECKING

from ibdesk.simtws import accounts_feed as feed
from ibdesk.simtws import outbound as out
from ibdesk.simtws.handlers_scanner import REFRESH_SECONDS, refresh_scanners
from ibdesk.simtws.market import ASK, ASK_SIZE, BID, BID_SIZE, HIGH, LOW, TRADE, QuoteChange
from ibdesk.simtws.session import BarsSub, ClientSession, MarketSub
from ibdesk.simtws.wire import fmt_float

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

_LEN = struct.Struct(">I")
RT_VOLUME_TICKS = frozenset({233})


async def run_clock(server: SimServer) -> None:
    """Drive the market at ``tick_interval``, with ``steps_per_tick`` steps per update."""
    loop = asyncio.get_running_loop()
    cfg = server.config
    next_at = loop.time()
    state = _Periodic(server.clock())
    while True:
        next_at += cfg.tick_interval
        delay = next_at - loop.time()
        if delay < -1.0:
            next_at = loop.time()  # fell far behind (the machine was busy): do not catch up
        await asyncio.sleep(max(0.0, delay))
        now = server.clock()
        if not server.market.paused:
            advance(server, cfg.steps_per_tick, now)
        state.run(server, now)


def advance(server: SimServer, steps: int, now: float) -> None:
    """Move the market ``steps`` steps: tape, order matching, then ticks to watchers."""
    market = server.market
    tape = server.tape
    for _ in range(steps):
        changes = market.step(now)
        for fam in market.families.values():
            tape.record_family(fam.name, fam.price, now)
        touched = set()
        for ch in changes:
            touched.add(ch.con_id)
            if ch.mask & TRADE:
                q = market.quotes[ch.con_id]
                tape.record_trade(ch.con_id, q.last, q.last_size, now)
        if touched:
            server.engine.on_quotes(touched)
        fanout(server, changes, now)
    if server.watchers().keepers:
        send_bar_updates(server, now)


def publish(server: SimServer, changes: list[QuoteChange], now: float) -> None:
    """Tape, matching and ticks for changes made outside a step (a control-port price set)."""
    for ch in changes:
        if ch.mask & TRADE:
            q = server.market.quotes[ch.con_id]
            server.tape.record_trade(ch.con_id, q.last, q.last_size, now)
    server.engine.on_quotes({ch.con_id for ch in changes})
    fanout(server, changes, now)
    send_bar_updates(server, now, force=True)


def _frame(text: str) -> bytes:
    data = text.encode()
    return _LEN.pack(len(data)) + data


def _price_frame(prefix: str, tick_type: str, price: float, size: float) -> bytes:
    """tickPrice from a subscription's precomputed prefix: exactly 7 fields.

    Joined rather than written as one literal with ``\\0`` escapes: ``"\\00"`` is a single
    NUL in Python, which silently turned the attribute mask into an empty field.
    """
    return _frame(prefix + "\0".join((tick_type, fmt_float(price), fmt_float(size), "0")) + "\0")


def _size_frame(prefix: str, tick_type: str, size: float) -> bytes:
    """tickSize from a subscription's precomputed prefix."""
    return _frame(prefix + tick_type + "\0" + fmt_float(size) + "\0")


def fanout(server: SimServer, changes: list[QuoteChange], now: float) -> None:
    """Tick messages for one step's changes, one write per client."""
    if server.data_down or server.competing:
        return
    batches: dict[ClientSession, list[bytes]] = {}
    quotes = server.market.quotes
    index = server.watchers()
    for ch in changes:
        watchers = index.market.get(ch.con_id)
        tbt = index.tick_by_tick.get(ch.con_id)
        if not watchers and not tbt:
            continue
        q = quotes[ch.con_id]
        m = ch.mask
        for s, sub in watchers or ():
            if s.write_paused:
                s.conflated.add(sub.req_id)
                continue
            pp, ps = sub.prefix_price, sub.prefix_size
            batch = batches.setdefault(s, [])
            if m & BID:
                batch.append(_price_frame(pp, "1", q.bid, q.bid_size))
            elif m & BID_SIZE:
                batch.append(_size_frame(ps, "0", q.bid_size))
            if m & ASK:
                batch.append(_price_frame(pp, "2", q.ask, q.ask_size))
            elif m & ASK_SIZE:
                batch.append(_size_frame(ps, "3", q.ask_size))
            if m & TRADE:
                batch.append(_price_frame(pp, "4", q.last, q.last_size))
                batch.append(_size_frame(ps, "8", q.volume))
                if sub.generic & RT_VOLUME_TICKS:
                    rtv = (
                        f"{fmt_float(q.last)};{fmt_float(q.last_size)};{int(now * 1000)};"
                        f"{fmt_float(q.volume)};{q.vwap:.8f};true"
                    )
                    batch.append(out.pack(out.tick_string(sub.req_id, 48, rtv)))
            if m & HIGH:
                batch.append(_price_frame(pp, "6", q.high, 0))
            if m & LOW:
                batch.append(_price_frame(pp, "7", q.low, 0))
        for s, req_id, kind in tbt or ():
            batch = batches.setdefault(s, [])
            if kind == "BidAsk" and m & (BID | ASK | BID_SIZE | ASK_SIZE):
                batch.append(
                    out.pack(
                        out.tick_by_tick_bid_ask(req_id, now, q.bid, q.ask, q.bid_size, q.ask_size)
                    )
                )
            elif kind == "MidPoint" and m & (BID | ASK):
                batch.append(out.pack(out.tick_by_tick_mid(req_id, now, q.mid)))
            elif kind in ("Last", "AllLast") and m & TRADE:
                batch.append(
                    out.pack(
                        out.tick_by_tick_last(
                            req_id,
                            1 if kind == "Last" else 2,
                            now,
                            q.last,
                            q.last_size,
                            server.catalog.instruments[ch.con_id].exchange,
                        )
                    )
                )
    for s, batch in batches.items():
        if batch:
            s.write(b"".join(batch))


def send_snapshot(server: SimServer, s: ClientSession, sub: MarketSub) -> None:
    """The current values of a subscription, as TWS sends them when it starts."""
    q = server.market.quote(sub.inst.con_id)
    rid = sub.req_id
    msgs = [
        out.tick_price(rid, 1, q.bid, q.bid_size),
        out.tick_price(rid, 2, q.ask, q.ask_size),
        out.tick_price(rid, 4, q.last, q.last_size),
        out.tick_size(rid, 8, q.volume),
        out.tick_price(rid, 6, q.high, 0),
        out.tick_price(rid, 7, q.low, 0),
        out.tick_price(rid, 9, q.close, 0),
        out.tick_price(rid, 14, q.open, 0),
    ]
    s.write(b"".join(out.pack(m) for m in msgs))


# ---- bars -----------------------------------------------------------------------------------


def current_bar(server: SimServer, sub: BarsSub, now: float) -> list[float] | None:
    """The forming bar of a subscription: [start, open, high, low, close, volume, count]."""
    if sub.bar_seconds > 86400:
        start = now - sub.bar_seconds - 86400  # weeks and months follow the calendar
    else:
        start = math.floor(now / sub.bar_seconds) * sub.bar_seconds
    bars = server.history.bars(sub.inst, sub.bar_seconds, start, now + 1, sub.what)
    if not len(bars):
        return None
    return [
        float(bars.time[-1]),
        float(bars.open[-1]),
        float(bars.high[-1]),
        float(bars.low[-1]),
        float(bars.close[-1]),
        float(bars.volume[-1]),
        float(bars.count[-1]),
    ]


def send_bar_updates(server: SimServer, now: float, force: bool = False) -> None:
    """keepUpToDate: the forming bar, at most once a second per subscription."""
    for s, sub in list(server.watchers().keepers):
        if s.closed or (not force and now - sub.last_sent < 1.0):
            continue
        bar = current_bar(server, sub, now)
        if bar is None:
            continue
        sub.last_sent = now
        date = out.bar_date(bar[0], sub.bar_seconds, sub.format_date, sub.inst.session.tz)
        wap = (bar[2] + bar[3] + bar[4]) / 3
        s.send(
            [
                "90",
                str(sub.req_id),
                fmt_float(bar[6]),
                date,
                fmt_float(bar[1]),
                fmt_float(bar[4]),
                fmt_float(bar[2]),
                fmt_float(bar[3]),
                f"{wap:.6f}",
                fmt_float(bar[5]),
            ]
        )


def send_realtime_bars(server: SimServer, bucket_start: float) -> None:
    """The 5-second bar that just ended, to every reqRealTimeBars subscriber."""
    for s in list(server.sessions):
        for sub in s.subs.realtime_bars.values():
            bars = server.history.bars(sub.inst, 5, bucket_start, bucket_start + 5, sub.what)
            if len(bars):
                o, h, lo, c = (
                    float(bars.open[-1]),
                    float(bars.high[-1]),
                    float(bars.low[-1]),
                    float(bars.close[-1]),
                )
                v, n = float(bars.volume[-1]), int(bars.count[-1])
            else:
                c = server.market.reference_price(sub.inst)
                o = h = lo = c
                v, n = 0.0, 0
            s.send(
                out.realtime_bar(sub.req_id, bucket_start, o, h, lo, c, v, (o + h + lo + c) / 4, n)
            )


class _Periodic:
    """Timers of the slower streams, checked after every market update."""

    def __init__(self, now: float) -> None:
        self.last_pnl = now
        self.last_account = now
        self.last_scan = now
        self.last_rt_bucket = math.floor(now / 5) * 5

    def run(self, server: SimServer, now: float) -> None:
        cfg = server.config
        if now - self.last_pnl >= cfg.pnl_interval:
            self.last_pnl = now
            feed.send_pnl(server)
        if now - self.last_account >= cfg.account_update_interval:
            self.last_account = now
            for s in list(server.by_client.values()):
                if s.subs.account_updates:
                    feed.send_account_updates(server, s, s.subs.account_updates)
                for req_id, accounts in s.subs.account_multi.items():
                    feed.send_account_multi(server, s, req_id, accounts)
        if now - self.last_scan >= REFRESH_SECONDS:
            self.last_scan = now
            refresh_scanners(server)
        bucket = math.floor(now / 5) * 5
        if bucket > self.last_rt_bucket:
            if not server.data_down:
                send_realtime_bars(server, bucket - 5)
            self.last_rt_bucket = bucket
