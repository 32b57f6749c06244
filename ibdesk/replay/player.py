"""The player: a tape's events back into a desk's stores, on the tape's clock.

The desk under replay is built with a :class:`ReplayClock` as its clock, so everything that
stamps or compares "now" (order ages, stale quotes, notices) sees the tape's time. The player
moves that clock and applies each event through a :class:`Sink`; :class:`StoreSink` puts them
in the stores, where the same models, charts and blotter as live pick them up.

Playing is paced on the event loop (no thread, no Qt): at a speed of ``x`` the tape time runs
``x`` times the loop's clock; at :data:`MAX` events are applied in slices of about
:data:`SLICE_S` with a yield to the loop in between, so a window still paints.

The sink is the seam for strategy replay: a sink that sets the simulator's prices (its control
``set_price``) and steps its market per quote would drive the simulator from a tape with this
same player and clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from typing import Any, Protocol

from ibdesk import events
from ibdesk.domain.bars import Bar
from ibdesk.domain.market import Quote
from ibdesk.replay import codec
from ibdesk.replay.codec import QUOTE, BarsChange, Decision, Event
from ibdesk.replay.tape import TapeReader
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarKey, BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore

log = logging.getLogger("ibdesk.replay")

MAX = math.inf
""" the speed that applies events as fast as the desk takes them """
SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 100.0, MAX)
SLICE_S = 0.02
""" at MAX speed, events applied between two yields to the loop (a frame's worth) """
TICK_S = 1 / 30
""" at a finite speed, the longest the player sleeps before looking at the clock again """


class ReplayClock:
    """The desk's clock during a replay: the time of the tape's last applied event."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sink(Protocol):
    """Where the player puts events."""

    def apply(self, event: Event) -> None:
        """Apply one event (the clock already reads its time)."""

    def put_quote(self, quote: Quote) -> None:
        """Apply one quote (the bulk of a tape: the player calls this, not :meth:`apply`)."""

    def folds_quotes(self) -> bool:
        """Whether quotes between two other events may be folded into the last of each
        instrument: True when nothing sees each quote, only the latest (a store's dirty
        sets and its dict end up the same either way)."""


class ReplayedStores(Protocol):
    """The stores a :class:`StoreSink` fills (a ``Desk`` has them)."""

    quotes: QuoteStore
    watchlist: WatchlistStore
    orders: OrderStore
    accounts: AccountStore
    positions: PositionStore
    bars: BarStore
    link: LinkStore


class StoreSink:
    """Puts each event in the store it came from."""

    def __init__(self, stores: ReplayedStores) -> None:
        s = stores
        self.stores = s
        self._by_kind: dict[str, Any] = {
            codec.QUOTE: s.quotes.put,
            codec.ORDER: s.orders.put,
            codec.FILL: s.orders.add_fill,
            codec.POSITION: s.positions.put,
            codec.WATCH: s.watchlist.add,
            codec.UNWATCH: s.watchlist.remove,
            codec.ACCOUNT: self._account,
            codec.BARS: self._bars,
            codec.STATUS: self._status,
            codec.FARM: lambda v: s.link.set_farm(*v),
            codec.NOTICE: s.link.post,
            codec.CLEARED: s.link.clear,
            codec.DECISION: self._decision,
            codec.TRADING: self._trading,
        }

    def apply(self, event: Event) -> None:
        """Apply one event; a kind this ibdesk does not know is skipped."""
        handler = self._by_kind.get(event.kind)
        if handler is not None:
            handler(event.value)

    def put_quote(self, quote: Quote) -> None:
        """Put a quote in the quote store."""
        self.stores.quotes.put(quote)

    def folds_quotes(self) -> bool:
        """True while nobody listens to every quote (a strategy does; tables and charts take
        dirty sets, which end up the same)."""
        quotes = self.stores.quotes
        return not len(quotes.updated) and not quotes.taps

    def _account(self, snap: Any) -> None:
        figures = {f.name: getattr(snap, f.name) for f in dataclasses.fields(snap)}
        self.stores.accounts.merge(figures.pop("account"), **figures)

    def _bars(self, change: BarsChange) -> None:
        key = BarKey(change.con_id, change.timeframe)
        if len(change.rows) == 1:
            self.stores.bars.put(key, Bar(*change.rows[0]))
        else:
            self.stores.bars.merge(key, *zip(*change.rows, strict=True))

    def _status(self, status: Any) -> None:
        fields = {f.name: getattr(status, f.name) for f in dataclasses.fields(status)}
        self.stores.link.set_status(**fields)

    def _decision(self, d: Decision) -> None:
        said = "accepted" if d.accepted else f"DENIED ({d.check}): {d.reason}"
        log.info("replayed: %s from %s %s %s", d.kind, d.source, said, " ".join(d.refs))

    def _trading(self, value: tuple[str, str, str]) -> None:
        state, who, why = value
        log.info("replayed: trading %s by %s: %s", state, who, why)


class Player:
    """Plays a tape's events into a sink, on a :class:`ReplayClock`.

    Events:
        moved(time): the tape time moved (after each slice of events).
        changed(): playing or paused, the speed, or the end reached.

    Args:
        tape: the tape (its rows are read in time order, decoded here).
        sink: where the events go.
        clock: the clock the desk was built with; the player moves it.
        start: events before it are applied at once (the state at ``start``), paused there.
        end: the player stops there (None: at the tape's end).
    """

    def __init__(
        self,
        tape: TapeReader,
        sink: Sink,
        clock: ReplayClock,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        self.tape = tape
        self._rows = tape.rows(None, end)
        self._decode = tape.decoder.decode
        self.sink = sink
        self.clock = clock
        self.end = math.inf if end is None else end
        self.speed = 1.0
        self.playing = False
        self.finished = False
        self.applied = 0
        """ events applied so far """
        self.moved = events.new("replayMoved")
        self.changed = events.new("replayChanged")
        self._next: list[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pull()
        if self._next is not None:
            clock.now = self._next[0]
        if start is not None:
            self.advance_to(start)

    # ---- moving by hand ---------------------------------------------------------------------

    @property
    def next_time(self) -> float | None:
        """The time of the next event (None at the end)."""
        return None if self._next is None else float(self._next[0])

    def _pull(self) -> None:
        self._next = next(self._rows, None)
        if self._next is None and not self.finished:
            self.finished = True
            self.playing = False
            self.changed.emit()

    def step(self) -> Event | None:
        """Apply the next event (None: the tape is over)."""
        row = self._next
        if row is None:
            return None
        event = self._decode(row)
        self.clock.now = row[0]
        if event is not None:
            self._apply(event)
            self.applied += 1
        self._pull()
        self.moved.emit(self.clock.now)
        return event

    def _apply(self, event: Event) -> None:
        if event.kind == codec.QUOTE:
            self.sink.put_quote(event.value)
        else:
            self.sink.apply(event)

    def advance_to(self, t: float) -> int:
        """Apply every event up to time ``t`` at once; the clock then reads ``t`` (or the
        end). Returns how many were applied. Time only goes forward."""
        count = self._apply_until(t, math.inf)
        self.clock.now = max(self.clock.now, min(t, self.end))
        self.moved.emit(self.clock.now)
        return count

    def _apply_until(self, t: float, deadline: float) -> int:
        """Apply the rows up to ``t`` (or until ``deadline``, perf_counter): the hot loop of
        a replay. Quotes may be folded per instrument (see :meth:`Sink.folds_quotes`) until
        the next other event, so that at a hundred times real time the player does not
        build a quote nobody would see; every event is still counted as applied."""
        clock, sink, rows, decode = self.clock, self.sink, self._rows, self._decode
        fold = sink.folds_quotes()
        folded: dict[int, list[Any]] = {}
        row, count = self._next, 0
        while row is not None and row[0] <= t:
            if row[1] == QUOTE:
                if fold:
                    folded[row[2]] = row
                else:
                    clock.now = row[0]
                    sink.put_quote(Quote(*row[2:]))
            else:
                if folded:
                    self._put_folded(folded)
                event = decode(row)
                clock.now = row[0]
                if event is not None:
                    sink.apply(event)
                    fold = sink.folds_quotes()  # a strategy may have started listening
            count += 1
            row = next(rows, None)
            if not count & 1023 and time.perf_counter() > deadline:
                break
        if folded:
            self._put_folded(folded)
        self._next = row
        self.applied += count
        if row is None:
            self._pull()
        return count

    def _put_folded(self, folded: dict[int, list[Any]]) -> None:
        put, clock = self.sink.put_quote, self.clock
        for row in sorted(folded.values(), key=_time):
            clock.now = row[0]
            put(Quote(*row[2:]))
        folded.clear()

    # ---- playing ----------------------------------------------------------------------------

    def set_speed(self, speed: float) -> None:
        """Tape seconds per wall second (:data:`MAX`: as fast as the desk takes them)."""
        if speed <= 0:
            raise ValueError("the speed must be positive")
        self.speed = speed
        self.changed.emit()

    def play(self) -> None:
        """Play from here at the current speed (on the running loop)."""
        if self.playing or self._next is None:
            return
        self.playing = True
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.changed.emit()

    def pause(self) -> None:
        """Stop where the tape is."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.playing:
            self.playing = False
            self.changed.emit()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        anchor_wall, anchor_tape, speed = loop.time(), self.clock.now, self.speed
        while self.playing and self._next is not None:
            if self.speed != speed:  # re-anchor: the new speed counts from here
                anchor_wall, anchor_tape, speed = loop.time(), self.clock.now, self.speed
            if speed == MAX:
                self._apply_until(math.inf, time.perf_counter() + SLICE_S)
                self.moved.emit(self.clock.now)
                await asyncio.sleep(0)
                continue
            target = anchor_tape + (loop.time() - anchor_wall) * speed
            self.advance_to(min(target, self.end))
            due = self.next_time
            wait = TICK_S if due is None else min(TICK_S, max(0.0, (due - target) / speed))
            await asyncio.sleep(wait)
        self.playing = False
        self._task = None
        self.changed.emit()

    def run_to_end(self) -> int:
        """Apply everything left at once (a benchmark, an export); returns how many."""
        return self._apply_until(math.inf, math.inf)


def _time(row: list[Any]) -> float:
    return float(row[0])
