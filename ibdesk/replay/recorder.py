"""The recorder: every snapshot that enters the desk's stores, and every gate decision, to a tape.

On the desk's loop a listener does one thing: append ``(time, kind, snapshot)`` to a deque (a
quote costs an eventkit emit and that append; measured in benchmarks.replay as
``record_overhead_pct``). A writer thread wakes every :data:`FLUSH_S`, takes what the deque
holds, encodes and compresses it and commits it as one transaction: no encoding, compression
or disk on the loop, and a process killed loses at most the last flush.

Snapshots are frozen, so the writer may read them from its thread; bars are the exception (a
store's numpy buffer changes in place), so their rows are copied on the loop, once per change.

The tape file grows to a quarter of the ``[record] budget_mb``, then a new part starts (its
first events are the desk's whole state, a keyframe, so each part replays on its own) and the
oldest tapes of the folder are deleted until the folder fits the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ibdesk.clock import Clock
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.connection import Farm, LinkStatus, Notice
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import FillSnapshot, GateDecision, Source
from ibdesk.domain.risk import StateChange
from ibdesk.replay import codec
from ibdesk.replay.codec import BarsChange, Decision
from ibdesk.replay.tape import TapeWriter, prune, tape_name
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarKey, BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore

log = logging.getLogger("ibdesk.replay")

FLUSH_S = 0.25
""" how often the writer thread commits what arrived: what a killed process can lose """
MIN_PART = 1 << 20


class _Decider(Protocol):
    decided: Any


class _Switch(Protocol):
    changed: Any


class RecordedDesk(Protocol):
    """What the recorder listens to: the desk's stores, its gate and its kill switch."""

    clock: Clock
    quotes: QuoteStore
    watchlist: WatchlistStore
    orders: OrderStore
    accounts: AccountStore
    positions: PositionStore
    bars: BarStore
    link: LinkStore

    @property
    def gate(self) -> _Decider: ...

    @property
    def switch(self) -> _Switch: ...


class Recorder:
    """Records one desk to tapes in ``folder``, within ``budget`` bytes.

    Args:
        desk: the desk whose stores are recorded.
        folder: where the tapes go (created).
        budget: bytes the folder's tapes may take together; a part is at most a quarter.
        loop: the desk's loop (a part started by rotation asks it for the keyframe); None
            runs without keyframes after the first part (a benchmark's synthetic session).
    """

    def __init__(
        self,
        desk: RecordedDesk,
        folder: Path,
        budget: int,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.desk = desk
        self.folder = folder
        self.budget = budget
        self.part_budget = max(MIN_PART, budget // 4)
        self.loop = loop
        self.clock = desk.clock
        self.queue: deque[tuple[float, str, Any]] = deque()
        self.paths: list[Path] = []
        """ the tape files written, in order """
        self.failed: str | None = None
        self._session_start = self.clock()
        self._writer: TapeWriter | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = LinkStatus()
        self._farms: dict[Farm, bool | None] = {}
        self._positions: dict[tuple[str, int], PositionSnapshot] = {}
        self._listeners: list[tuple[Any, Callable[..., Any]]] = []

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self, writer_thread: bool = True) -> Recorder:
        """Listen to the desk and start the writer thread; the first events are a keyframe.

        Without ``writer_thread`` the caller writes with :meth:`flush` (a benchmark that
        records a synthetic session as fast as it goes) and ends with :meth:`close`."""
        d = self.desk
        d.quotes.taps.append(self._on_quote)  # a plain call per quote: see QuoteStore
        self._listen(d.watchlist.added, self._on_watch)
        self._listen(d.watchlist.removed, self._on_unwatch)
        self._listen(d.orders.added, self._on_order)
        self._listen(d.orders.updated, self._on_order)
        self._listen(d.orders.filled, self._on_fill)
        self._listen(d.orders.completed, self._on_fill)
        self._listen(d.accounts.updated, self._on_account)
        self._listen(d.positions.added, self._on_position)
        self._listen(d.positions.updated, self._on_position)
        self._listen(d.positions.removed, self._on_position_gone)
        self._listen(d.bars.updated, self._on_bars)
        self._listen(d.link.changed, self._on_link)
        self._listen(d.link.notice, self._on_notice)
        self._listen(d.link.cleared, self._on_cleared)
        self._listen(d.gate.decided, self._on_decided)
        self._listen(d.switch.changed, self._on_trading)
        self.keyframe()
        self._open_part()
        if writer_thread:
            self._thread = threading.Thread(
                target=self._run, name="ibdesk tape writer", daemon=True
            )
            self._thread.start()
        return self

    def _listen(self, event: Any, listener: Callable[..., Any]) -> None:
        event += listener
        self._listeners.append((event, listener))

    def close(self) -> None:
        """Stop listening, write what is left, mark the tape closed (once)."""
        with contextlib.suppress(ValueError):
            self.desk.quotes.taps.remove(self._on_quote)
        for source, listener in self._listeners:
            source -= listener  # noqa: PLW2901 (eventkit's way to disconnect)
        self._listeners.clear()
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        elif self._writer is not None:
            self._drain()
            self._close_part()

    def flush(self) -> None:
        """Write what the queue holds now, on the caller's thread (only while the writer
        thread is not running: a benchmark's synthetic session, a test)."""
        assert self._thread is None
        self._drain()

    # ---- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self._drain()
        self._drain()
        self._close_part()

    def _drain(self) -> None:
        queue = self.queue
        batch = [queue.popleft() for _ in range(len(queue))]
        if not batch or self._writer is None:
            return  # failed earlier: the events are dropped, not kept to grow without end
        try:
            self._writer.write(batch)
            if self._writer.size() >= self.part_budget:
                self._rotate()
        except Exception as exc:  # a full disk must not stop the desk
            self.failed = f"{type(exc).__name__}: {exc}"
            log.error("recording stopped: %s could not be written (%s)", self.paths[-1], exc)
            self._writer = None

    def _open_part(self) -> None:
        part = len(self.paths) + 1
        path = self.folder / tape_name(self._session_start, part)
        self.paths.append(path)
        self._writer = TapeWriter(path, session=self.paths[0].stem, part=part)

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close(self.clock())
            self._writer = None

    def _rotate(self) -> None:
        self._close_part()
        self._open_part()
        for gone in prune(self.folder, self.budget, keep=self.paths[-1]):
            log.info("tape %s deleted: the tapes took more than the record budget", gone.name)
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self.loop.call_soon_threadsafe(self.keyframe)

    # ---- the keyframe ---------------------------------------------------------------------------

    def keyframe(self) -> None:
        """Queue the desk's whole state as events (at a part's start, so that the part
        replays on its own). Runs on the desk's loop."""
        d, put, t = self.desk, self.queue.append, self.clock()
        self._status, self._farms = d.link.status, dict(d.link.farms)
        put((t, codec.STATUS, self._status))
        for farm, ok in self._farms.items():
            put((t, codec.FARM, (farm.value, ok)))
        for notice in d.link.notices.values():
            put((t, codec.NOTICE, notice))
        for inst in d.watchlist.items:
            put((t, codec.WATCH, inst))
        for account in d.accounts.accounts.values():
            put((t, codec.ACCOUNT, account))
        # Known here, so that one of them going flat later is recorded as flat.
        self._positions = dict(d.positions.positions)
        for pos in self._positions.values():
            put((t, codec.POSITION, pos))
        for order in d.orders.orders.values():
            put((t, codec.ORDER, order))
        for fill in d.orders.fills.values():
            put((t, codec.FILL, fill))
        for key in d.bars.series:
            self._on_bars(key, 0)
        for quote in d.quotes.quotes.values():
            put((t, codec.QUOTE, quote))

    # ---- listeners: on the loop, one append each ------------------------------------------------

    def _on_quote(self, quote: Quote) -> None:
        self.queue.append((self.clock(), codec.QUOTE, quote))

    def _on_watch(self, inst: Instrument, _row: int) -> None:
        self.queue.append((self.clock(), codec.WATCH, inst))

    def _on_unwatch(self, inst: Instrument, _row: int) -> None:
        self.queue.append((self.clock(), codec.UNWATCH, inst.con_id))

    def _on_order(self, ref: str) -> None:
        self.queue.append((self.clock(), codec.ORDER, self.desk.orders.orders[ref]))

    def _on_fill(self, fill: FillSnapshot) -> None:
        self.queue.append((self.clock(), codec.FILL, fill))

    def _on_account(self, account: str) -> None:
        self.queue.append((self.clock(), codec.ACCOUNT, self.desk.accounts.accounts[account]))

    def _on_position(self, key: tuple[str, int]) -> None:
        pos = self._positions[key] = self.desk.positions.positions[key]
        self.queue.append((self.clock(), codec.POSITION, pos))

    def _on_position_gone(self, key: tuple[str, int]) -> None:
        last = self._positions.pop(key, None)
        if last is not None:
            flat = PositionSnapshot(last.account, last.instrument, 0.0, last.avg_cost)
            self.queue.append((self.clock(), codec.POSITION, flat))

    def _on_bars(self, key: BarKey, from_index: int) -> None:
        series = self.desk.bars.series.get(key)
        if series is None or from_index >= len(series):
            return
        n = len(series)
        ohlcv = series.ohlcv(from_index, n).tolist()
        rows = tuple(zip(series.times[from_index:].tolist(), *ohlcv, strict=True))
        change = BarsChange(key.con_id, key.timeframe, rows)
        self.queue.append((self.clock(), codec.BARS, change))

    def _on_link(self) -> None:
        link, t = self.desk.link, self.clock()
        if link.status != self._status:
            self._status = link.status
            self.queue.append((t, codec.STATUS, link.status))
        if link.farms != self._farms:
            for farm, ok in link.farms.items():
                if self._farms.get(farm, "unset") != ok:
                    self.queue.append((t, codec.FARM, (farm.value, ok)))
            self._farms = dict(link.farms)

    def _on_notice(self, notice: Notice) -> None:
        self.queue.append((self.clock(), codec.NOTICE, notice))

    def _on_cleared(self, key: str) -> None:
        self.queue.append((self.clock(), codec.CLEARED, key))

    def _on_decided(self, kind: str, source: Source, decision: GateDecision) -> None:
        d = Decision(
            kind, str(source), decision.accepted, decision.refs, decision.reason, decision.check
        )
        self.queue.append((self.clock(), codec.DECISION, d))

    def _on_trading(self, change: StateChange) -> None:
        value = (change.state.value, change.who, change.why)
        self.queue.append((self.clock(), codec.TRADING, value))


def start_recording(desk: RecordedDesk, folder: Path, budget_mb: float) -> Recorder | None:
    """Record a desk (on its running loop); None, and a warning in the log, when the tape
    cannot be created (a read-only folder must not stop the desk)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    recorder = Recorder(desk, folder, int(budget_mb * (1 << 20)), loop)
    try:
        return recorder.start()
    except (OSError, sqlite3.Error) as exc:
        recorder.close()
        log.warning("not recording this session: %s", exc)
        return None
