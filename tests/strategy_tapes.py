"""Tapes for strategy replay tests: ES moving around a level, recorded by the recorder from a
desk's stores (as a session writes them), with the simulator's own ES on the tape's day; and
the small strategies the tests replay on them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from ibdesk import events
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.replay.recorder import Recorder
from ibdesk.simtws.catalog import Catalog
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore

T0 = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC).timestamp()  # a Wednesday, CME open
LAST = (6795.0, 6805.0, 6795.0, 6805.0, 6795.0, 6806.0)
""" Flip (level 6800) buys on 6805, sells on 6795...: five trades, long one at the end """

FLIP = """
from ibdesk.strategies import Strategy


class Flip(Strategy):
    # Buys when ES trades above the level, sells when it trades back below.
    instruments = ("ES",)
    params = {"level": 6800.0}

    def on_start(self):
        self.above = None

    def on_quote(self, quote):
        if quote.last != quote.last:
            return
        above = quote.last > self.p["level"]
        if self.above is None or above == self.above:
            self.above = above
            return
        self.above = above
        if above:
            self.buy("ES", 1, why="above")
        else:
            self.sell("ES", 1, why="below")
"""

FAR = """
from ibdesk.strategies import Strategy


class Far(Strategy):
    # Bids 10 % over the market on its first two quotes: the price collar refuses both.
    instruments = ("ES",)

    def on_start(self):
        self.tried = 0

    def on_quote(self, quote):
        if self.tried < 2 and quote.last == quote.last:
            self.tried += 1
            self.buy("ES", 1, limit=round(quote.last * 1.1 * 4) / 4, why="far")
"""


class Clock:
    """A clock a test sets by hand (``clock.now = ...``)."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Stores:
    """What the recorder taps: a desk's stores, its gate's and kill switch's events, and a
    clock to drive."""

    def __init__(self, start: float = T0) -> None:
        self.clock = Clock(start)
        self.quotes = QuoteStore()
        self.watchlist = WatchlistStore()
        self.orders = OrderStore()
        self.accounts = AccountStore()
        self.positions = PositionStore()
        self.bars = BarStore()
        self.link = LinkStore()
        self.gate = type("Gate", (), {"decided": events.new("decided")})()
        self.switch = type("Switch", (), {"changed": events.new("changed")})()


def sim_es() -> Instrument:
    """The simulator's ES front month on the tape's day, as the desk knows it."""
    es = Catalog.build(dt.date.fromtimestamp(T0)).find("ES")
    return Instrument(
        es.con_id, "ES", SecType.FUTURE, "CME", "USD", es.local_symbol, es.multiplier,
        es.min_tick, es.expiry, es.local_symbol[:2],
    )  # fmt: skip


def make_tape(folder: Path, lasts: tuple[float, ...] = LAST, con_id: int = 0) -> Path:
    """Flip's tape: ES at ``lasts``, five seconds apart (``con_id``: ES under another conId,
    as a tape recorded at IB names it)."""
    s = Stores()
    recorder = Recorder(s, folder, 1 << 30).start()
    es = sim_es()
    if con_id:
        es = dataclasses.replace(es, con_id=con_id)
    s.watchlist.add(es)
    for i, last in enumerate(lasts):
        s.clock.now = T0 + 5 * (i + 1)
        now = s.clock.now
        s.quotes.put(Quote(es.con_id, last - 0.25, last, last, 5, 5, 1, 100 + i, 6790.0, time=now))
    recorder.close()
    (path,) = recorder.paths
    return path
