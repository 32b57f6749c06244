"""Bars for charts: a back-fill from reqHistoricalData joined with the live stream.

One feed per (conId, timeframe), shared by every chart that shows it. A feed is a single
``reqHistoricalData(keepUpToDate=True)``: IB answers with the history up to the forming bar
and then keeps revising that bar and opening the next, so the join of history and live bars
is IB's own, with no gap and no doubled bar (the alternative, 5-second real-time bars folded
into longer bars, has to guess which part of the forming bar the history already holds).

* **Cached.** The bars stay in the :class:`BarStore` after the last chart closes, and the
  subscription lingers a minute (a trader flicking between timeframes costs no request).
  Opening a cached series again asks only for the gap since its newest bar.
* **Never a duplicate request.** A second chart of the same feed waits for the first one's
  back-fill instead of sending its own.
* **Within IB's pacing.** Every request waits for :class:`HistoryPacer`; a 162 pacing
  refusal (another client shares the budget) is retried after the 15-second rule.
* **Reconnects.** The library forgets its subscriptions when the socket drops and on 1101;
  each open feed asks again for the gap since its newest bar.
* **Seeded.** A feed whose series is empty starts from a finer series of the instrument, if
  one is cached, resampled: the chart has a picture before the back-fill arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibdesk import clock as clocks
from ibdesk.broker.history_pacing import HistoryPacer
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.session import BrokerSession
from ibdesk.clock import Clock
from ibdesk.domain.bars import Bar, HistoryError, Timeframe
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.state.bars import BarKey, BarStore
from ibdesk.state.lod import resample

log = logging.getLogger("ibdesk.broker.history")

#: Seconds a feed stays subscribed after its last chart closed.
LINGER = 60.0
PACING_RETRY = 16.0
REQUEST_TIMEOUT = 60.0
MAX_ERRORS_KEPT = 64


@dataclass(eq=False)
class _Feed:
    key: BarKey
    instrument: Instrument
    users: int = 0
    loaded: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    task: asyncio.Task[None] | None = None
    live: Any = None
    """ the library's BarDataList that IB keeps up to date """
    linger: asyncio.TimerHandle | None = None


def bar_time(date: Any) -> float:
    """Epoch seconds of a library bar date: an aware datetime (intraday, formatDate 2) or a
    date (daily bars, dated by their trading day: UTC midnight of it)."""
    if isinstance(date, dt.datetime):
        return date.timestamp()
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()


def what_to_show(inst: Instrument) -> str:
    """Trades where there are any; currencies have quotes only."""
    return "MIDPOINT" if inst.sec_type is SecType.FOREX else "TRADES"


class HistoryService:
    """Back-fills and live bars for the charts, into a :class:`BarStore`.

    A refused back-fill reaches the chart that asked as a :class:`HistoryError`.
    """

    def __init__(
        self,
        session: BrokerSession,
        resolver: InstrumentResolver,
        bars: BarStore,
        pacer: HistoryPacer | None = None,
        linger: float = LINGER,
        clock: Clock = clocks.system,
    ) -> None:
        self.session = session
        self.clock = clock
        self.ib = session.ib
        self.resolver = resolver
        self.bars = bars
        self.pacer = pacer or HistoryPacer()
        self.linger = linger
        self.feeds: dict[BarKey, _Feed] = {}
        """ (conId, Timeframe) -> the feed that keeps that series up to date """
        self.requests = 0
        """ reqHistoricalData sent so far (tests and the benchmark read it) """
        self._errors: dict[int, str] = {}
        """ reqId -> the last errors IB sent about requests, newest last """
        self.stopped = False
        self.complete: set[BarKey] = set()
        """ series back-filled in full once: they only need the gap since their newest bar """
        session.connected += self._on_connected
        session.disconnected += self._on_disconnected
        session.error += self._on_error

    # ---- charts open and close feeds -----------------------------------------------------------

    async def open(self, inst: Instrument, timeframe: Timeframe) -> BarKey:
        """Start (or share) the feed of an instrument's bars; returns the series' key once
        the back-fill is in the store. Pair every call with :meth:`close`.

        Raises:
            HistoryError: IB refused the back-fill or had no data.
            ConnectionError: the service was stopped (the desk is closing).
        """
        if self.stopped:
            raise ConnectionError("ibdesk is closing: no more history")
        key = BarKey(inst.con_id, timeframe)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = _Feed(key, inst)
            self._seed(key)
        feed.users += 1
        if feed.linger is not None:
            feed.linger.cancel()
            feed.linger = None
        if feed.task is None and feed.live is None:
            if feed.loaded.done():  # an earlier attempt failed: this one gets a fresh answer
                feed.loaded = asyncio.get_running_loop().create_future()
            feed.task = asyncio.ensure_future(self._load(feed))
        try:
            await asyncio.shield(feed.loaded)
        except BaseException:
            self.close(key)
            raise
        return key

    def close(self, key: BarKey) -> None:
        """A chart no longer shows ``key``; the feed stops a little later if no other does."""
        feed = self.feeds.get(key)
        if feed is None or feed.users <= 0:
            return
        feed.users -= 1
        if not feed.users:
            loop = asyncio.get_event_loop()
            feed.linger = loop.call_later(self.linger, self._stop, key)

    def stop(self) -> None:
        """Stop every feed now, for good (the desk is closing); the bars stay in the store."""
        self.stopped = True
        for key in list(self.feeds):
            self._stop(key)

    def _stop(self, key: BarKey) -> None:
        feed = self.feeds.pop(key, None)
        if feed is None:
            return
        if feed.linger is not None:
            feed.linger.cancel()
        if feed.task is not None:
            feed.task.cancel()
        self._drop_live(feed, cancel=True)
        if not feed.loaded.done():
            feed.loaded.cancel()

    # ---- requests -------------------------------------------------------------------------------

    async def _load(self, feed: _Feed) -> None:
        """Back-fill the gap since the newest bar (or the first history), then stay live."""
        try:
            while True:
                if not self.session.is_connected:
                    return  # the connected handler starts a new load
                try:
                    await self._request(feed)
                except HistoryError as exc:
                    if "pacing" not in str(exc).lower():
                        self._fail(feed, str(exc))
                        return
                    log.warning("%s: %s; asking again shortly", feed.key, exc)
                    await asyncio.sleep(PACING_RETRY)
                    continue
                except ConnectionError:
                    return  # the connected handler starts a new load
                if not feed.loaded.done():
                    feed.loaded.set_result(None)
                return
        finally:
            feed.task = None

    async def _request(self, feed: _Feed) -> None:
        inst, tf = feed.instrument, feed.key.timeframe
        series = self.bars.get(feed.key)
        newest = series.last() if series is not None else None
        if feed.key in self.complete and newest is not None:
            duration = tf.gap_duration(self.clock() - newest.time)
        else:  # never back-filled (an instant picture resampled from finer bars is not one)
            duration = tf.duration
        what = what_to_show(inst)
        await self.pacer.wait((inst.con_id, tf.bar_size, duration, what), inst.con_id)
        contract = self.resolver.contract(inst.con_id)
        self.requests += 1
        bars = await self.ib.reqHistoricalDataAsync(
            contract, "", duration, tf.bar_size, what, False, 2, True, [], REQUEST_TIMEOUT
        )
        # The library ends a refused request with no bars; its error came just before.
        refusal = self._errors.pop(getattr(bars, "reqId", 0), "")
        if not bars:
            raise HistoryError(refusal or f"no {tf.label} history for {inst.display}")
        self.bars.merge(feed.key, *_columns(bars))
        self.complete.add(feed.key)
        feed.live = bars
        bars.updateEvent += lambda b, _new, f=feed: self._on_update(f, b)

    def _on_update(self, feed: _Feed, bars: Any) -> None:
        if bars is not feed.live or not bars:
            return
        b = bars[-1]
        self.bars.put(
            feed.key,
            Bar(bar_time(b.date), b.open, b.high, b.low, b.close, max(0.0, float(b.volume))),
        )

    def _seed(self, key: BarKey) -> None:
        """An empty series starts from the finest cached series of the same instrument."""
        tf = key.timeframe
        if not tf.intraday or len(self.bars.get(key) or ()):
            return
        finer = [
            s
            for k, s in self.bars.series.items()
            if k.con_id == key.con_id
            and k.timeframe.seconds < tf.seconds
            and tf.seconds % k.timeframe.seconds == 0
            and len(s)
        ]
        if finer:
            source = min(finer, key=lambda s: s.timeframe.seconds)
            starts, rows = resample(source.times, source.ohlcv(0, len(source)), tf.seconds)
            self.bars.merge(key, starts, *rows)

    def _fail(self, feed: _Feed, text: str) -> None:
        log.warning("%s %s: %s", feed.instrument.display, feed.key.timeframe.label, text)
        if not feed.loaded.done():
            feed.loaded.set_exception(HistoryError(text))
            feed.loaded.exception()  # retrieved: a chart that gave up must not leave a warning

    def _drop_live(self, feed: _Feed, cancel: bool) -> None:
        live, feed.live = feed.live, None
        if live is not None and cancel and self.ib.isConnected():
            with contextlib.suppress(Exception):  # the library may have dropped it already
                self.ib.cancelHistoricalData(live)

    # ---- the connection -------------------------------------------------------------------------

    def _on_connected(self) -> None:
        for feed in self.feeds.values():
            if feed.task is None and (feed.users or feed.key in self.complete):
                # (a feed that failed and that nobody shows any more only waits to stop)
                feed.task = asyncio.ensure_future(self._load(feed))

    def _on_disconnected(self) -> None:
        for feed in self.feeds.values():
            feed.live = None  # the library forgot it; the gap is asked for at the reconnect

    def _on_error(self, req_id: int, code: int, text: str) -> None:
        if code == 1101:  # "restored, data lost": every subscription is gone
            for feed in self.feeds.values():
                self._drop_live(feed, cancel=False)
            self._on_connected()
            return
        if req_id > 0 and code < 2100:  # 2100+ are notices, not refusals
            self._errors[req_id] = f"IB error {code}: {text}"
            while len(self._errors) > MAX_ERRORS_KEPT:
                del self._errors[next(iter(self._errors))]


def _columns(bars: Any) -> tuple[np.ndarray, ...]:
    """The six columns of a library bar list."""
    n = len(bars)
    out = np.empty((6, n))
    for i, b in enumerate(bars):
        out[:, i] = (bar_time(b.date), b.open, b.high, b.low, b.close, max(0.0, float(b.volume)))
    return tuple(out)
