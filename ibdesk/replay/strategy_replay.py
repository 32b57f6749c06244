"""Strategy replay: a tape's market drives the embedded simulator's, in lockstep with a desk.

``ibdesk run FILE.py --replay TAPE`` builds the usual desk (gate, checks, strategy runner) on a
simulated TWS that runs on the same event loop, with a clock that reads the tape's time. This
module is the drive between them: for each quote of the tape it sets the clock to the quote's
time, sets the simulator's price to the quote's (a trade at its last price, or at its mid when
it has none: the simulator quotes one tick wide around it), and then waits until the desk has
handled everything that followed: the tick, the strategy's orders, their acknowledgements
and fills. Only then does the next quote go.

Why that is deterministic: the wait is a sync point one can observe, not a sleep. After a
price the drive sends the simulator a ``reqNewsProviders`` from the desk's own connection (a
request the desk itself never makes: the library keys the answer by the request's name, and
the desk's own health probe, ``reqCurrentTime``, must not answer the drive's or take its
answer); the simulator answers in the order it reads, after every tick it wrote and every
order it read before, so when the answer is back the desk has read all of it. The drive asks
again until a round trip goes by with nothing new in the desk's stores (no quote, order,
fill or decision): then the desk and its strategies are idle at that quote. The simulator's
market is paused, so nothing else moves it; its engine fills the strategy's orders against
the prices applied.

Nothing here reaches a broker: the caller builds the desk on the simulator's port only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ibdesk.domain.instruments import SecType
from ibdesk.domain.orders import FillSnapshot, GateDecision, Side, Source
from ibdesk.replay.codec import QUOTE
from ibdesk.replay.player import ReplayClock
from ibdesk.replay.replay_report import Fill, Mark, Refusal, ReplayReport, build_report
from ibdesk.replay.tape import TapeReader
from ibdesk.simtws.control import SimControl

log = logging.getLogger("ibdesk.replay.strategy")

PRIME_LOOKAHEAD = 60.0
""" seconds after the start in which an instrument's first quote still primes its price (one
quoted later starts at the simulator's own price until its first quote) """
ROUND_TRIP_TIMEOUT = 10.0
UNPACED = 1_000_000
""" the desk's message budget during a replay (messages per wall-clock second) """
# Quote row fields after [time, kind]: con_id, bid, ask, last (docs/tape.md).
_CON_ID, _BID, _ASK, _LAST = 2, 3, 4, 5


class ReplayError(Exception):
    """The replay cannot go on (the desk stopped answering)."""


class ReplayedDesk(Protocol):
    """What the drive needs of the desk (``ibdesk.desk.core.Desk`` has it)."""

    quotes: Any
    orders: Any
    gate: Any
    session: Any
    router: Any
    strategies: Any


@dataclass(slots=True)
class _Collected:
    marks: list[Mark] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    applied: int = 0
    activity: int = 0
    """ changes seen in the desk's stores: the sync point waits until it stops moving """


class MarketDrive:
    """Applies a tape's quotes to the simulator, one at a time, each once the desk is idle.

    Args:
        reader: the tape.
        control: the embedded simulator's control API (its market paused).
        clock: the simulator's and the desk's clock; the drive sets it to each quote's time.
        desk: the desk trading on the simulator.
        start, end: the range of the tape to replay (None: its start, its end).
        speed: None plays as fast as the desk keeps up; N plays N times real time.
    """

    def __init__(
        self,
        reader: TapeReader,
        control: SimControl,
        clock: ReplayClock,
        desk: ReplayedDesk,
        start: float | None = None,
        end: float | None = None,
        speed: float | None = None,
    ) -> None:
        self.reader = reader
        self.control = control
        self.clock = clock
        self.desk = desk
        self.start = start
        self.end = end
        self.speed = speed
        self.catalog = control.server.catalog
        self._sim_ids: dict[int, int | None] = {}
        """ the tape's conId -> the simulator's (None: the simulator does not list it) """
        self.got = _Collected()
        self.stopped = False
        self.problem: str | None = None
        """ why the run ended before the range did (None: it did not) """
        self._listening: list[tuple[Any, Callable[..., None]]] = []
        desk.strategies.timers_on_clock = True  # the tape's seconds, not the wall's

    # ---- before the strategies start ------------------------------------------------------------

    def prime(self) -> int:
        """Set each instrument's price to where the tape has it at the start (its last quote
        before, or its first within :data:`PRIME_LOOKAHEAD` after), so that the price a
        strategy finds on starting is the tape's (its ``on_quote`` calls begin with the next
        quote, as live). Sets the clock to the start. Returns the instruments primed."""
        info = self.reader.info()
        start = self.start if self.start is not None else info.started
        before: dict[int, tuple[float, float]] = {}
        after: dict[int, tuple[float, float]] = {}
        limit = None if start is None else start + PRIME_LOOKAHEAD
        for row in self.reader.rows(None, limit):
            con_id = self._sim_id(row) if row[1] == QUOTE else None
            price = None if con_id is None else _price(row)
            if con_id is None or price is None:
                continue
            if start is None or row[0] <= start:
                before[con_id] = (row[0], price)
            else:
                after.setdefault(con_id, (row[0], price))
        self.clock.now = start if start is not None else (info.started or 0.0)
        for con_id, (_, price) in sorted({**after, **before}.items()):
            self.control.set_price(con_id, price)
        return len(after.keys() | before.keys())

    # ---- the run ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Play the range; returns at its end (or at :meth:`stop`)."""
        self._listen()
        # The pacer keeps the desk within IB's 50 messages per wall-clock second; here the
        # tape's time runs faster than the wall's and the simulator is no IB, while the drive's
        # own round trips would count against the budget (at 40/s: 50 ms a quote). The gate's
        # order limits still hold: they count in the tape's time.
        pacer = self.desk.router.pacer
        pacer.normal_rate = pacer.total_rate = UNPACED
        try:
            await self._settle()  # whatever the strategies did on starting
            previous: float | None = None
            for row in self.reader.rows(self.start, self.end):
                if self.stopped:
                    break
                con_id = self._sim_id(row) if row[1] == QUOTE else None
                price = None if con_id is None else _price(row)
                if con_id is None or price is None:
                    continue
                if self.speed is not None and previous is not None and row[0] > previous:
                    # Real time between quotes is the point of a paced replay, not a wait
                    # for the desk (the sync point below is that).
                    await asyncio.sleep((row[0] - previous) / self.speed)
                previous = row[0]
                await self._timers_until(row[0])
                self.clock.now = row[0]
                applied = self.control.set_price(con_id, price)
                self.got.applied += 1
                self.got.marks.append(Mark(row[0], con_id, applied))
                await self._settle()
        finally:
            self._unlisten()

    async def _timers_until(self, until: float) -> None:
        """The strategies' timers due before the tape's next quote, each at its own time."""
        runner = self.desk.strategies
        while (due := runner.next_timer()) is not None and due <= until:
            self.clock.now = due
            before = self.got.activity
            runner.fire_timers(due)
            if self.got.activity != before:
                await self._settle()  # it acted: its orders are handled before time moves on
            else:
                await asyncio.sleep(0)  # a night's gap is thousands of idle timers

    def _sim_id(self, row: list[Any]) -> int | None:
        """The simulator's conId for a tape quote's instrument: the same conId (a tape of the
        demo), else the same local symbol (a tape recorded at IB), else for a stock or FX the
        same symbol; None (said once in the log) when the simulator does not list it."""
        con_id: int = row[_CON_ID]
        if con_id in self._sim_ids:
            return self._sim_ids[con_id]
        found: int | None = con_id if con_id in self.catalog.instruments else None
        inst = self.reader.decoder.instruments.get(con_id)
        if found is None and inst is not None:
            names = [inst.local_symbol]
            if inst.sec_type in (SecType.STOCK, SecType.FOREX):
                names.append(inst.symbol)
            for name in filter(None, names):
                try:
                    found = self.catalog.find(name).con_id
                    break
                except KeyError:
                    continue
        if found is None:
            what = inst.local_symbol if inst is not None else f"conId {con_id}"
            log.warning("the simulator does not list %s: its quotes are not replayed", what)
        self._sim_ids[con_id] = found
        return found

    def stop(self) -> None:
        """End the run after the quote being handled (trading halted, the user stopped it)."""
        self.stopped = True

    async def _settle(self) -> None:
        """Round trips to the simulator until one sees no change in the desk (module doc)."""
        ib = self.desk.session.ib
        while True:
            before = self.got.activity
            try:
                await asyncio.wait_for(ib.reqNewsProvidersAsync(), ROUND_TRIP_TIMEOUT)
            except (TimeoutError, ConnectionError) as exc:
                at = _at(self.clock())
                self.problem = f"the replay stopped at {at}: the desk lost its simulator"
                raise ReplayError(self.problem) from exc
            if self.got.activity == before:
                return

    # ---- what the desk does -------------------------------------------------------------------

    def _listen(self) -> None:
        for event in (
            self.desk.quotes.updated,
            self.desk.orders.added,
            self.desk.orders.updated,
            self.desk.orders.filled,
            self.desk.orders.completed,
        ):
            self._hook(event, self._touched)
        self._hook(self.desk.gate.decided, self._decided)

    def _hook(self, event: Any, handler: Callable[..., None]) -> None:
        event += handler
        self._listening.append((event, handler))

    def _unlisten(self) -> None:
        for event, handler in self._listening:
            event.disconnect(handler)
        self._listening.clear()

    def _touched(self, *_: Any) -> None:
        self.got.activity += 1

    def _decided(self, kind: str, source: Source, decision: GateDecision) -> None:
        self.got.activity += 1
        if not decision.accepted:
            who = f"{source.kind}:{source.name}" if source.name else source.kind
            self.got.refused.append(
                Refusal(self.clock(), who, decision.check, f"{kind}: {decision.reason}")
            )

    # ---- the report ---------------------------------------------------------------------------

    def report(self) -> ReplayReport:
        """The strategies' trades on the tape and what they made (call after :meth:`run`)."""
        fills = [_fill(f) for f in self.desk.orders.fills.values() if f.ref.startswith("strategy:")]
        info = self.reader.info()
        return build_report(
            str(self.reader.path.name),
            fills,
            self.got.marks,
            self.got.refused,
            start=self.start if self.start is not None else info.started,
            end=self.clock(),
            quotes=self.got.applied,
            message="; ".join(filter(None, (self.reader.message(), self.problem))) or None,
        )


def _price(row: list[Any]) -> float | None:
    """The price a tape quote trades at: its last, else its mid; None when it has neither."""
    last = row[_LAST]
    if _usable(last):
        return float(last)
    bid, ask = row[_BID], row[_ASK]
    if _usable(bid) and _usable(ask):
        return (float(bid) + float(ask)) / 2
    return None


def _at(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _usable(x: Any) -> bool:
    return isinstance(x, int | float) and not math.isnan(x) and x > 0


def _fill(f: FillSnapshot) -> Fill:
    inst = f.instrument
    return Fill(
        f.time,
        inst.con_id,
        inst.local_symbol or inst.symbol,
        "BUY" if f.side is Side.BUY else "SELL",
        f.qty,
        f.price,
        inst.multiplier,
        f.commission,
        f.ref,
    )
