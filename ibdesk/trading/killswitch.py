"""The kill switch: a latched trading state, a kill that verifies itself, a flatten that
proves the desk is flat.

KILL sets HALTED at once (the gate then refuses every new order from every source), purges
every queued order message, sends a global cancel through the priority lane (it reaches other
client ids and the TWS screen), and asks the broker again until no order is working and
none has turned up for a settle window (a client still placing orders gets the cancel again
and is named in the report: ibdesk.trading.verify). FLATTEN
kills first, waits (bounded) for the cancels, closes every position with reduce-only orders
through the gate, and asks the broker for positions until they are zero. Nothing here asks
for confirmation: these only ever reduce risk. Getting out of HALTED takes a person and a
typed reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ibdesk import events
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import CancelIntent, OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import (
    KillReport,
    OpenOrderLine,
    PositionLine,
    StateChange,
    TradingState,
)
from ibdesk.trading.checks import reduces_position
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.latch import StateJournal as LatchJournal
from ibdesk.trading.latch import StateLatch
from ibdesk.trading.verify import SETTLE, QuietBook

LIVE_AFTER_CANCEL = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted"})
""" statuses an order the global cancel already reached no longer has: working in the first
answer after it means placed after it """


class KillPort(Protocol):
    """What the kill switch needs from the broker (ibdesk.broker.kill implements it)."""

    @property
    def connected(self) -> bool:
        """Whether requests can be sent now."""

    @property
    def account(self) -> str:
        """The account being traded."""

    def purge(self) -> set[int]:
        """Drop every queued order message; returns their order ids (never sent)."""

    def global_cancel(self) -> None:
        """reqGlobalCancel now, or as the very first message after the next connect."""

    async def open_orders(self) -> list[OpenOrderLine]:
        """Every open order in the account, from every client (reqAllOpenOrders)."""

    async def positions(self) -> list[PositionLine]:
        """Every position, asked afresh (reqPositions)."""

    async def instrument(self, con_id: int) -> Instrument:
        """The instrument of a position."""

    def touch(self, con_id: int) -> tuple[float, float]:
        """The current (bid, ask) of an instrument, NaN when unknown."""


class StateJournal(LatchJournal, Protocol):
    """The journal calls the kill switch makes."""

    def order(self, snap: Any) -> None:
        """Record an order state."""


class KillSwitch:
    """The kill, flatten and reduce procedures, over the trading state's one owner.

    Events (the latch's, re-exported for the window and the loss limit):
        changed(change): the trading state changed (a StateChange).
        reported(report): a kill or flatten finished its verification (a KillReport).
    """

    def __init__(
        self,
        gate: OrderGate,
        port: KillPort,
        journal: StateJournal,
        clock: Callable[[], float] = time.time,
        verify_timeout: float = 5.0,
        poll_interval: float = 0.25,
        flatten_style: str = "market",
        flatten_collar_ticks: float = 4.0,
        latch: StateLatch | None = None,
        settle: float = SETTLE,
    ) -> None:
        self.gate = gate
        self.port = port
        self.journal = journal
        self.clock = clock
        self.verify_timeout = verify_timeout
        self.poll_interval = poll_interval
        self.settle = settle
        self.flatten_style = flatten_style
        self.flatten_collar_ticks = flatten_collar_ticks
        self.latch = latch or StateLatch(journal, clock)
        gate.trading = self.latch
        self.changed = self.latch.changed
        self.reported = events.new("killReported")
        self.last_report: KillReport | None = None
        self._running: asyncio.Task[KillReport] | None = None

    # ---- state ------------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        """The trading state in force."""
        return self.latch.state

    @property
    def last_change(self) -> StateChange:
        """Who set the state in force, when and why."""
        return self.latch.last_change

    @property
    def busy(self) -> bool:
        """Whether a kill or flatten is still verifying."""
        return self._running is not None and not self._running.done()

    def set_state(
        self, state: TradingState, who: str, why: str, locked_until: float | None = None
    ) -> StateChange:
        """Change the state (see StateLatch.set: loosening it needs a reason)."""
        return self.latch.set(state, who, why, locked_until)

    def rearm(self, who: str, reason: str, to: TradingState = TradingState.ACTIVE) -> StateChange:
        """Back to ACTIVE (or from HALTED to REDUCING): a deliberate act with a typed reason."""
        if not reason.strip():
            raise ValueError("Type why you are re-arming (it goes in the journal).")
        if to is TradingState.HALTED:
            raise ValueError("Re-arming goes to ACTIVE or REDUCING, not HALTED.")
        return self.latch.set(to, who, reason.strip())

    # ---- reduce ---------------------------------------------------------------------------------

    def reduce(self, who: str, why: str = "exits only") -> tuple[StateChange, list[str]]:
        """REDUCING: only orders that reduce a position pass the gate from now on, and this
        desk's working orders that would add to one (entries, brackets not yet filled) are
        cancelled; its exits stay. Returns the change and the orders of other clients that
        would add and that only a kill (a global cancel) can reach.

        Raises:
            ValueError: the desk is HALTED (re-arm to REDUCING with a reason instead).
        """
        if self.state is TradingState.HALTED:
            raise ValueError(
                "Trading is HALTED: re-arm to REDUCING (exits only) with a typed reason."
            )
        change = self.last_change
        if self.state is not TradingState.REDUCING:
            change = self.latch.set(TradingState.REDUCING, who, why)
        cancelled, others = self._cancel_adding(who)
        detail = f"{cancelled} order(s) that would add to a position cancelled"
        if others:
            detail += f"; {len(others)} of other clients left working: " + ", ".join(others)
        self.journal.action(who, "reduce", detail)
        return change, others

    def _cancel_adding(self, who: str) -> tuple[int, list[str]]:
        store, gate = self.gate.store, self.gate
        live = list(store.live())
        live_refs = {o.ref for o in live}
        full = gate.full_context()
        cancelled, others = 0, []
        for snap in live:
            if snap.parent_ref in live_refs:
                continue  # a bracket child: it goes with its entry, and it is an exit
            intent = OrderIntent(
                snap.instrument,
                snap.side,
                snap.remaining,
                snap.order_type,
                Source("kill"),
                account=snap.account,
            )
            others_book = dataclasses.replace(
                full, working=tuple(o for o in full.working if o.ref != snap.ref)
            )
            if reduces_position(intent, others_book):
                continue
            if snap.client_id != gate.port.client_id:
                others.append(snap.ref)
                continue
            if gate.cancel(CancelIntent(snap.ref, Source("kill", "reduce"))).accepted:
                cancelled += 1
        return cancelled, others

    # ---- kill -----------------------------------------------------------------------------------

    def kill(self, who: str, why: str = "kill switch") -> asyncio.Task[KillReport]:
        """HALTED now, queue purged, global cancel sent; verification runs in the background.

        Everything that stops orders happens before this returns; the returned task only
        checks with the broker and reports.
        """
        started = self.clock()
        self._stop_everything(who, why)
        return self._start(self._verify_kill(started))

    def _stop_everything(self, who: str, why: str) -> None:
        """The part of a kill that cannot wait: halt, purge, global cancel.

        The gate shuts and the cancel goes out first; journaling, the state announcement and
        the purged orders' NotSent marks follow (150 purged orders are 150 journal writes and
        blotter updates: measured 12 ms, all of it once in front of the cancel).
        """
        # All of this runs on the loop's thread, so no order can reach the gate between the
        # purge and the latch: the cancel can go out before the journal is written. The
        # recorded state, not the one in force: the watchdog holds the latch from its own
        # thread, and the kill that adopts it must still journal and announce the halt.
        announce = self.last_change.state is not TradingState.HALTED
        purged = self.port.purge()
        self.port.global_cancel()
        if announce:
            self.latch.set(TradingState.HALTED, who, why)
        self._mark_purged(purged)
        self.journal.action(who, "kill", why)

    def _mark_purged(self, purged: set[int]) -> None:
        if not purged:
            return
        store = self.gate.store
        for snap in list(store.live()):
            if snap.order_id in purged and snap.client_id == self.gate.port.client_id:
                after = store.merge(
                    snap.ref,
                    state=OrderState.NOT_SENT,
                    updated=self.clock(),
                    reason="Purged by the kill switch; never sent.",
                )
                if after is not None:
                    self.journal.order(after)

    async def _verify_kill(self, started: float) -> KillReport:
        book = await self._await_quiet()
        quiet = book is not None and book.quiet(time.monotonic())
        problems = [] if self.port.connected else ["not connected"]
        if book is not None and not book.working and not quiet:
            problems.append(f"orders kept coming: never quiet for {self.settle:g} s")
        report = KillReport(
            self.port.account,
            started,
            self.clock(),
            quiet,
            tuple(book.working if book is not None else ()),
            problems=tuple(problems),
            notes=book.notes() if book is not None else (),
        )
        return self._report(report, "kill")

    async def _await_quiet(
        self, settle: float | None = None, ours: frozenset[int] = frozenset()
    ) -> QuietBook | None:
        """Ask the broker until nothing is working and nothing new has turned up for the
        settle window (or the time is up), sending the global cancel again whenever orders
        appear after it; None when the broker never answered.

        The orders of the first answer that the cancel already hit are known; any other
        order (working in it, or turning up later) came after the cancel, except the
        closing orders of this desk's flatten (``ours``: their order ids).
        """
        deadline = time.monotonic() + self.verify_timeout
        book: QuietBook | None = None
        mine = self.gate.port.client_id
        while True:
            lines = await self._open_orders() if self.port.connected else None
            if lines is not None:
                now = time.monotonic()
                if book is None:
                    known = [o for o in lines if o.status not in LIVE_AFTER_CANCEL]
                    book = QuietBook(known, now, self.settle if settle is None else settle)
                book.known |= {
                    (o.perm_id, o.client_id, o.order_id)
                    for o in lines
                    if o.client_id == mine and o.order_id in ours
                }
                book.observe(lines, now)
                if book.take_cancel_request():
                    self.port.global_cancel()
                if book.quiet(now):
                    return book
            if time.monotonic() >= deadline:
                return book
            await asyncio.sleep(self.poll_interval)

    async def _open_orders(self) -> list[OpenOrderLine] | None:
        try:
            return await asyncio.wait_for(self.port.open_orders(), self.verify_timeout)
        except (TimeoutError, ConnectionError):
            return None

    def retry(self, who: str) -> asyncio.Task[KillReport]:
        """Send the global cancel again and verify again (the Retry button)."""
        return self.kill(who, "retry after an unverified kill")

    # ---- flatten --------------------------------------------------------------------------------

    def flatten_all(self, who: str, why: str = "flatten all") -> asyncio.Task[KillReport]:
        """Kill, then close every position with reduce-only orders, then verify flat."""
        started = self.clock()
        self._stop_everything(who, why)
        return self._start(self._flatten(started, who, None))

    def flatten_one(self, who: str, con_id: int) -> asyncio.Task[KillReport]:
        """Close one position (its own working orders cancelled first); the desk stays in
        its state."""
        return self._start(self._flatten(self.clock(), who, con_id))

    async def _flatten(self, started: float, who: str, only: int | None) -> KillReport:
        if only is None:
            # Cancels confirmed is enough to start closing; the quiet window is the final
            # verification's (a trader flattening must not wait on it twice).
            await self._await_quiet(settle=0.0)
        else:
            self._cancel_own_orders(only)
            await self._settle(only)
        positions = [p for p in await self._positions() if only in (None, p.con_id)]
        closing: list[str] = []
        problems: list[str] = []
        for pos in positions:
            decision = self.gate.submit(await self._closing_order(pos))
            if decision.accepted:
                closing.extend(decision.refs)
            else:
                problems.append(f"{pos.symbol}: {decision.reason}")
        left = await self._await_flat(only)
        open_lines: Sequence[OpenOrderLine] = ()
        notes: tuple[str, ...] = ()
        quiet = True
        if only is None and self.port.connected:
            ids = frozenset(s.order_id for r in closing if (s := self.gate.store.get(r)))
            book = await self._await_quiet(ours=ids)
            quiet = book is not None and book.quiet(time.monotonic())
            open_lines = tuple(book.working) if book is not None else ()
            notes = book.notes() if book is not None else ()
            if not quiet and not open_lines:
                problems.append(f"orders kept coming: never quiet for {self.settle:g} s")
        report = KillReport(
            self.port.account,
            started,
            self.clock(),
            not left and not problems and quiet,
            tuple(open_lines),
            tuple(left),
            flatten=True,
            closing=tuple(closing),
            problems=tuple(problems),
            notes=notes,
        )
        return self._report(report, "flatten" if only is None else f"flatten {only}")

    def _cancel_own_orders(self, con_id: int) -> None:
        for snap in list(self.gate.store.live()):
            if snap.instrument.con_id == con_id and snap.client_id == self.gate.port.client_id:
                self.gate.cancel(CancelIntent(snap.ref, Source("flatten")))

    async def _settle(self, con_id: int) -> None:
        deadline = time.monotonic() + self.verify_timeout
        while time.monotonic() < deadline and any(
            s.instrument.con_id == con_id and s.state in (OrderState.WORKING, OrderState.SENT)
            for s in self.gate.store.live()
        ):
            await asyncio.sleep(self.poll_interval / 2)

    async def _positions(self) -> list[PositionLine]:
        try:
            lines = await asyncio.wait_for(self.port.positions(), self.verify_timeout)
        except (TimeoutError, ConnectionError):
            return []
        return [p for p in lines if p.qty and p.account == self.port.account]

    async def _closing_order(self, pos: PositionLine) -> OrderIntent:
        inst = await self.port.instrument(pos.con_id)
        side = Side.SELL if pos.qty > 0 else Side.BUY
        qty = abs(pos.qty)
        if self.flatten_style == "limit":
            bid, ask = self.port.touch(pos.con_id)
            touch = bid if side is Side.SELL else ask
            if not math.isnan(touch):
                # A marketable limit: through the touch by the collar, never an unbounded fill.
                price = touch - side.sign * self.flatten_collar_ticks * inst.min_tick
                return OrderIntent(
                    inst,
                    side,
                    qty,
                    OrderType.LIMIT,
                    Source("flatten"),
                    limit_price=inst.round_to_tick(price),
                    account=pos.account,
                )
        return OrderIntent(
            inst, side, qty, OrderType.MARKET, Source("flatten"), account=pos.account
        )

    async def _await_flat(self, only: int | None) -> list[PositionLine]:
        deadline = time.monotonic() + self.verify_timeout
        while True:
            left = [p for p in await self._positions() if only in (None, p.con_id)]
            if not left or time.monotonic() >= deadline:
                return left
            await asyncio.sleep(self.poll_interval)

    # ---- reporting --------------------------------------------------------------------------

    def _report(self, report: KillReport, what: str) -> KillReport:
        self.last_report = report
        self.journal.action(
            "kill switch",
            f"{what} {'verified' if report.verified else 'NOT verified'}",
            report.summary(),
        )
        self.reported.emit(report)
        return report

    def close(self) -> None:
        """Stop a verification still running (the desk is closing: nobody will read it)."""
        if self._running is not None and not self._running.done():
            self._running.cancel()

    def _start(self, coro: Any) -> asyncio.Task[KillReport]:
        task: asyncio.Task[KillReport] = asyncio.ensure_future(coro)
        self._running = task
        return task
