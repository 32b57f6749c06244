"""The OrderGate: the one door every order goes through, whoever asks.

Ticket, chart, hotkeys, strategies, flatten and kill all call the gate with a ``Source``. The
gate validates the intent, refuses everything but cancels in read-only mode, runs the risk
checks (small pure functions, one deny reason each), gives every order an ``orderRef`` and an
id that is never reused, journals it, and only then hands it to the broker port.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ibdesk import events
from ibdesk.domain.instruments import SecType
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    GateDecision,
    ModifyIntent,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Source,
    order_ref,
)
from ibdesk.domain.risk import TradingState
from ibdesk.trading.checks import reduces_position
from ibdesk.trading.ids import OrderIdError, OrderIds
from ibdesk.trading.ports import OrderPort

Intent = OrderIntent | BracketIntent


class JournalWriter(Protocol):
    """The journal calls the gate makes (ibdesk.trading.journal.Journal)."""

    def intent(
        self,
        ref: str,
        kind: str,
        source: str,
        account: str,
        details: Mapping[str, Any],
        parent_ref: str = "",
    ) -> None:
        """Record an intent."""

    def order(self, snap: OrderSnapshot) -> None:
        """Record an order's state."""

    def knows(self, ref: str) -> bool:
        """Whether an order with this orderRef was ever journaled."""

    def action(self, who: str, action: str, detail: str = "") -> None:
        """Record a user action or a gate decision."""


class OrderBook(Protocol):
    """The order store calls the gate makes (ibdesk.state.orders.OrderStore)."""

    def get(self, ref: str) -> OrderSnapshot | None:
        """An order by orderRef."""

    def put(self, snap: OrderSnapshot) -> bool:
        """Store a snapshot."""

    def merge(self, ref: str, **changes: Any) -> OrderSnapshot | None:
        """Change fields of an order."""

    def live(self) -> list[OrderSnapshot]:
        """Orders that may still trade."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a risk check may look at: a read-only view, no way to act."""

    now: float
    position: Callable[[str, int], float]
    """ (account, conId) -> signed position """
    working: Sequence[OrderSnapshot]
    last_price: Callable[[int], float]
    """ conId -> last (or mid) price, NaN when unknown """
    recent: Sequence[tuple[float, str, OrderIntent]] = ()
    """ (time, source, intent) of every order the gate accepted in the last minute """
    daily_pnl: float = math.nan
    """ the traded account's P&L today (reqPnL), NaN when unknown """
    loss_limit_waived: bool = False
    """ a typed re-arm after a daily-loss breach waives the limit until the next session """
    state: TradingState = TradingState.ACTIVE
    new_orders: int = 1
    """ how many orders the intent under judgement would add to the book (a bracket: 3) """


class TradingStateSource(Protocol):
    """Where the gate reads the trading state in force (ibdesk.trading.latch.StateLatch)."""

    @property
    def state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""


@dataclass(slots=True)
class FixedState:
    """A trading state nobody latches: a gate on its own (tests, tools) starts ACTIVE."""

    state: TradingState = TradingState.ACTIVE


Check = Callable[[OrderIntent, CheckContext], str | None]
"""A risk check: None to allow, or the reason to deny (in plain words)."""

RECENT_WINDOW = 60.0
MAX_ID_SKIPS = 1_000
""" blocks of ids skipped at most because their refs are journaled already """

_ONCE_PER_INTENT = frozenset({"duplicate_guard", "max_orders_per_minute", "max_open_orders"})
"""Checks about the intent as a whole (a double click, a runaway sender, the book's size),
which a bracket passes once at its entry and a modify does not repeat (see :meth:`modify`)."""


def _take_leg(b: BracketIntent) -> OrderIntent:
    """A bracket's take-profit: a limit on the exit side for the entry's quantity."""
    e = b.entry
    return OrderIntent(
        e.instrument,
        e.side.opposite,
        e.qty,
        OrderType.LIMIT,
        e.source,
        limit_price=b.take_profit,
        tif=e.tif,
        outside_rth=e.outside_rth,
        account=e.account,
    )


def _stop_leg(b: BracketIntent) -> OrderIntent:
    """A bracket's stop-loss: a stop on the exit side for the entry's quantity."""
    e = b.entry
    return OrderIntent(
        e.instrument,
        e.side.opposite,
        e.qty,
        OrderType.STOP,
        e.source,
        stop_price=b.stop_loss,
        tif=e.tif,
        outside_rth=e.outside_rth,
        account=e.account,
    )


class OrderGate:
    """Every order, modify and cancel of ibdesk.

    Events:
        decided(kind, source, decision): after every submit/modify/cancel (kind is
            ``order``, ``bracket``, ``modify``, ``cancel`` or ``cancel_all``).
    """

    def __init__(
        self,
        port: OrderPort,
        store: OrderBook,
        journal: JournalWriter,
        ids: OrderIds,
        context: Callable[[], CheckContext],
        checks: Sequence[tuple[str, Check]] = (),
        *,
        read_only: bool = False,
        round_off_tick: bool = False,
        clock: Callable[[], float] = time.time,
        trading: TradingStateSource | None = None,
    ) -> None:
        self.port = port
        self.store = store
        self.journal = journal
        self.ids = ids
        self.context = context
        self.checks = list(checks)
        self.read_only = read_only
        self.round_off_tick = round_off_tick
        self.clock = clock
        self.trading: TradingStateSource = trading or FixedState()
        """ the trading state's owner (the kill switch hands the gate its latch) """
        self.recent: deque[tuple[float, str, OrderIntent]] = deque()
        """ (time, source, intent) of the orders accepted in the last minute """
        self.decided = events.new("gateDecided")

    @property
    def state(self) -> TradingState:
        """The trading state in force, as its owner says."""
        return self.trading.state

    @state.setter
    def state(self, state: TradingState) -> None:
        # Only a gate with a FixedState (tests, tools) may be set directly; a latched state
        # changes through its owner, which journals it.
        if not isinstance(self.trading, FixedState):
            raise AttributeError("the trading state changes through its owner (StateLatch)")
        self.trading.state = state

    # ---- new orders -------------------------------------------------------------------------

    def submit(self, intent: Intent) -> GateDecision:
        """Screen an order or bracket and, if it passes, send it."""
        kind = "bracket" if isinstance(intent, BracketIntent) else "order"
        try:
            intent = self._validated(intent)
        except ValueError as exc:
            return self._decide(kind, intent.source, GateDecision.deny("validate", str(exc)))
        denial = self._screen(intent)
        if denial is not None:
            return self._decide(kind, intent.source, denial)
        try:
            refs = (
                self._send_bracket(intent)
                if isinstance(intent, BracketIntent)
                else self._send_order(intent)
            )
        except OrderIdError as exc:  # ids are taken before anything is recorded or sent
            return self._decide(kind, intent.source, GateDecision.deny("order_id", str(exc)))
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        self.recent.append((self.clock(), str(entry.source), entry))
        return self._decide(kind, intent.source, GateDecision(True, refs))

    def judge(self, intent: Intent) -> GateDecision:
        """What :meth:`submit` would decide now, sending and journaling nothing.

        The ticket and the chart ask this before they offer Send, so a confirmation never
        offers an order the gate will refuse (the gate still decides again on submit: the
        market and the book may have moved in between).
        """
        try:
            intent = self._validated(intent)
        except ValueError as exc:
            return GateDecision.deny("validate", str(exc))
        return self._screen(intent) or GateDecision(True)

    def _screen(self, intent: Intent) -> GateDecision | None:
        """The trading state, the connection and every check, for an order or each leg of a
        bracket (None: it may go)."""
        if self.read_only:
            return GateDecision.deny(
                "read-only",
                "Read-only mode (--read-only): ibdesk sends no orders; cancels still work.",
            )
        bracket = isinstance(intent, BracketIntent)
        context = self.full_context()
        if bracket:
            context = dataclasses.replace(context, new_orders=3)
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        exit_only = not bracket and reduces_position(entry, context)
        flattening = exit_only and entry.source.kind == "flatten"
        denial = self._state_denial(exit_only, flattening)
        if denial is not None:
            return denial
        if flattening:
            return None  # exits of a flatten must never be blocked by exposure limits
        denial = self._run_checks(entry, context)
        if denial is not None or not isinstance(intent, BracketIntent):
            return denial
        return self._screen_legs(intent, context)

    def _state_denial(self, exit_only: bool, flattening: bool) -> GateDecision | None:
        if self.state is TradingState.HALTED and not flattening:
            return GateDecision.deny(
                "halted",
                "Trading is HALTED by the kill switch: only "
                "cancels are accepted until someone re-arms with a reason.",
            )
        if self.state is TradingState.REDUCING and not exit_only:
            return GateDecision.deny(
                "reducing", "Trading is REDUCING: only orders that reduce a position are accepted."
            )
        if not self.port.connected:
            return GateDecision.deny("connection", "Not connected to TWS: nothing was sent.")
        return None

    def _run_checks(
        self, intent: OrderIntent, context: CheckContext, skip: frozenset[str] = frozenset()
    ) -> GateDecision | None:
        for name, check in self.checks:
            if name in skip:
                continue
            reason = check(intent, context)
            if reason is not None:
                return GateDecision.deny(name, reason)
        return None

    def _screen_legs(self, b: BracketIntent, context: CheckContext) -> GateDecision | None:
        """The take-profit and the stop-loss judged as the exits they become once the entry
        fills: against the position the entry would make. The bracket was counted once as an
        intent (rate, duplicates) and as three orders (open orders) at its entry."""
        entry = b.entry
        con_id = entry.instrument.con_id
        base = context.position

        def after_entry(account: str, cid: int) -> float:
            held = base(account, cid)
            return held + entry.signed_qty if cid == con_id and account == entry.account else held

        legs = dataclasses.replace(context, position=after_entry)
        for label, leg in (("Take-profit", _take_leg(b)), ("Stop-loss", _stop_leg(b))):
            denial = self._run_checks(leg, legs, _ONCE_PER_INTENT)
            if denial is not None:
                return GateDecision.deny(denial.check, f"{label}: {denial.reason}")
        return None

    def full_context(self) -> CheckContext:
        """The checks' view: the app's context plus the gate's own recent orders and state."""
        now = self.clock()
        while self.recent and now - self.recent[0][0] > RECENT_WINDOW:
            self.recent.popleft()
        return dataclasses.replace(
            self.context(), now=now, recent=tuple(self.recent), state=self.state
        )

    def _send_order(self, intent: OrderIntent) -> tuple[str, ...]:
        [(ref, order_id)] = self._fresh(intent.source, 1)
        self._record(intent, ref, order_id, "order")
        self.port.place(intent, ref, order_id)
        return (ref,)

    def _send_bracket(self, b: BracketIntent) -> tuple[str, ...]:
        entry = b.entry
        take, stop = _take_leg(b), _stop_leg(b)
        (parent, parent_id), (take_ref, take_id), (stop_ref, stop_id) = self._fresh(entry.source, 3)
        refs = (parent, take_ref, stop_ref)
        oca = "oca-" + refs[0].rpartition("#")[2]
        self._record(
            entry,
            refs[0],
            parent_id,
            "bracket",
            {"take_profit": b.take_profit, "stop_loss": b.stop_loss},
        )
        self._record(take, refs[1], take_id, "order", parent_ref=refs[0])
        self._record(stop, refs[2], stop_id, "order", parent_ref=refs[0])
        # IB's transmit semantics: nothing goes live until the last child arrives, so a
        # bracket never works half-built. OCA type 3 reduces the sibling on a partial fill.
        self.port.place(entry, refs[0], parent_id, transmit=False)
        self.port.place(
            take, refs[1], take_id, parent_id=parent_id, transmit=False, oca_group=oca, oca_type=3
        )
        self.port.place(
            stop, refs[2], stop_id, parent_id=parent_id, transmit=True, oca_group=oca, oca_type=3
        )
        return refs

    def _fresh(self, source: Source, count: int) -> list[tuple[str, int]]:
        """``count`` consecutive order ids and their refs, none of which the journal or the
        store has ever held (a journal restored from a backup can hold refs above its id
        floor: those ids are skipped, never reused)."""
        client_id = self.port.client_id
        for _ in range(MAX_ID_SKIPS):
            ids = self.ids.take(count)
            made = [(order_ref(source, client_id, i), i) for i in ids]
            if not any(self.journal.knows(r) or self.store.get(r) for r, _ in made):
                return made
        raise RuntimeError(f"{MAX_ID_SKIPS} blocks of order ids were all used already")

    def _record(
        self,
        intent: OrderIntent,
        ref: str,
        order_id: int,
        kind: str,
        extra: Mapping[str, Any] | None = None,
        parent_ref: str = "",
    ) -> None:
        now = self.clock()
        snap = OrderSnapshot(
            ref=ref,
            instrument=intent.instrument,
            side=intent.side,
            qty=intent.qty,
            order_type=intent.order_type,
            state=OrderState.QUEUED,
            # Booked to the account it goes to, so it is never shown in another's books.
            account=intent.account or self.port.account,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            tif=intent.tif,
            order_id=order_id,
            client_id=self.port.client_id,
            parent_ref=parent_ref,
            created=now,
            updated=now,
        )
        details = {
            "symbol": intent.instrument.display,
            "con_id": intent.instrument.con_id,
            "side": intent.side.value,
            "qty": intent.qty,
            "type": intent.order_type.value,
            "limit": intent.limit_price,
            "stop": intent.stop_price,
            "tif": intent.tif.value,
            "outside_rth": intent.outside_rth,
            "order_id": order_id,
            **(extra or {}),
        }
        self.journal.intent(ref, kind, str(intent.source), intent.account, details, parent_ref)
        self.journal.order(snap)
        self.store.put(snap)

    # ---- validation -------------------------------------------------------------------------

    def _validated(self, intent: Intent) -> Intent:
        """The intent with prices on the tick grid, or ValueError saying what is wrong."""
        if isinstance(intent, BracketIntent):
            entry = self._validated_order(intent.entry)
            inst = entry.instrument
            take = self._on_tick(inst, intent.take_profit, "take-profit")
            stop = self._on_tick(inst, intent.stop_loss, "stop-loss")
            # A stop-limit enters near its trigger; its limit only bounds the fill.
            reference = (
                entry.stop_price or entry.limit_price or self.context().last_price(inst.con_id)
            )
            sign = entry.side.sign
            if sign * (take - stop) <= 0:
                raise ValueError(
                    "The take-profit must be above the stop-loss for a buy (below it for a sell)."
                )
            if not math.isnan(reference) and (
                sign * (take - reference) <= 0 or sign * (reference - stop) <= 0
            ):
                raise ValueError(
                    f"The take-profit ({take:g}) and stop-loss ({stop:g}) must be "
                    f"on either side of the entry ({reference:g})."
                )
            return BracketIntent(entry, take, stop)
        return self._validated_order(intent)

    def _validated_order(self, o: OrderIntent) -> OrderIntent:
        if not (math.isfinite(o.qty) and o.qty > 0):
            raise ValueError(f"Quantity must be a positive number, not {o.qty!r}.")
        if o.instrument.sec_type is SecType.FUTURE and not float(o.qty).is_integer():
            raise ValueError(f"Futures trade in whole contracts, not {o.qty:g}.")
        limit, stop = o.limit_price, o.stop_price
        uses_stop = o.order_type.needs_stop or o.order_type is OrderType.TRAIL
        # A price the type does not use would still go on the wire (lmtPrice/auxPrice):
        # refuse it rather than send something the trader did not mean.
        if limit is not None and not o.order_type.needs_limit:
            raise ValueError(f"A {o.order_type.value} order takes no limit price.")
        if stop is not None and not uses_stop:
            raise ValueError(f"A {o.order_type.value} order takes no stop price.")
        if o.order_type.needs_limit:
            if limit is None:
                raise ValueError(f"A {o.order_type.value} order needs a limit price.")
            limit = self._on_tick(o.instrument, limit, "limit price")
        if uses_stop:
            if stop is None:
                raise ValueError(
                    f"A {o.order_type.value} order needs a stop price"
                    + (" (the trailing amount)." if o.order_type is OrderType.TRAIL else ".")
                )
            stop = self._on_tick(o.instrument, stop, "stop price")
        if (limit, stop) == (o.limit_price, o.stop_price):
            return o
        return OrderIntent(
            o.instrument,
            o.side,
            o.qty,
            o.order_type,
            o.source,
            limit,
            stop,
            o.tif,
            o.outside_rth,
            o.account,
        )

    def _on_tick(self, inst: Any, price: float, what: str) -> float:
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"The {what} must be a positive price, not {price!r}.")
        if inst.on_tick(price):
            return float(inst.round_to_tick(price))
        rounded = float(inst.round_to_tick(price))
        if self.round_off_tick:
            return rounded
        below = rounded if rounded < price else rounded - inst.min_tick
        raise ValueError(
            f"The {what} {price:g} is not on {inst.display}'s {inst.min_tick:g} "
            f"tick: {below:g} or {below + inst.min_tick:g}?"
        )

    # ---- modify and cancel --------------------------------------------------------------------

    def modify(self, intent: ModifyIntent) -> GateDecision:
        """Change a working order's quantity or prices: judged as the order it would become
        (every check, the trading state), validated, tick-rounded or refused."""
        decision, terms = self._judged_modify(intent)
        if not decision.accepted or terms is None:
            return self._decide("modify", intent.source, decision)
        snap, qty, limit, stop = terms
        self.journal.intent(
            snap.ref,
            "modify",
            str(intent.source),
            snap.account,
            {"qty": qty, "limit": limit, "stop": stop},
        )
        self.port.modify(snap, qty, limit, stop)
        self.store.merge(snap.ref, reason="modify sent", updated=self.clock())
        return self._decide("modify", intent.source, decision)

    def judge_modify(self, intent: ModifyIntent) -> GateDecision:
        """What :meth:`modify` would decide now, sending and journaling nothing."""
        return self._judged_modify(intent)[0]

    def _judged_modify(
        self, intent: ModifyIntent
    ) -> tuple[GateDecision, tuple[OrderSnapshot, float, float | None, float | None] | None]:
        snap = self.store.get(intent.ref)
        denial = self._can_touch(snap, "modify")
        if denial is None and self.read_only:
            denial = GateDecision.deny("read-only", "Read-only mode: orders cannot be modified.")
        if denial is not None:
            return denial, None
        assert snap is not None
        try:
            qty, limit, stop = self._new_terms(snap, intent)
        except ValueError as exc:
            return GateDecision.deny("validate", str(exc)), None
        denial = self._screen_modify(snap, intent.source, qty, limit, stop)
        if denial is not None:
            return denial, None
        return GateDecision(True, (snap.ref,)), (snap, qty, limit, stop)

    def _screen_modify(
        self,
        snap: OrderSnapshot,
        source: Source,
        qty: float,
        limit: float | None,
        stop: float | None,
    ) -> GateDecision | None:
        """A modify is the order it would become: what is left of it at the new terms,
        judged against the book without the order's old terms (counted once, not twice).

        Only a smaller quantity at unchanged prices skips the checks (not the trading state):
        it can only lower the risk, and a trader must be able to shrink an order the market
        has run away from.
        """
        would_be = OrderIntent(
            snap.instrument,
            snap.side,
            qty - snap.filled,
            snap.order_type,
            source,
            limit,
            stop,
            snap.tif,
            account=snap.account,
        )
        full = self.full_context()
        context = dataclasses.replace(
            full, working=tuple(o for o in full.working if o.ref != snap.ref)
        )
        exit_only = reduces_position(would_be, context)
        denial = self._state_denial(exit_only, flattening=False)
        if denial is not None:
            return denial
        if qty <= snap.qty and (limit, stop) == (snap.limit_price, snap.stop_price):
            return None
        return self._run_checks(would_be, context, _ONCE_PER_INTENT)

    def _new_terms(
        self, snap: OrderSnapshot, m: ModifyIntent
    ) -> tuple[float, float | None, float | None]:
        qty = snap.qty if m.qty is None else m.qty
        if not (math.isfinite(qty) and qty > 0):
            raise ValueError(f"Quantity must be a positive number, not {qty!r}.")
        if qty < snap.filled:
            raise ValueError(f"{snap.filled:g} already filled: the quantity cannot go below it.")
        if snap.instrument.sec_type is SecType.FUTURE and not float(qty).is_integer():
            raise ValueError(f"Futures trade in whole contracts, not {qty:g}.")
        limit = snap.limit_price if m.limit_price is None else m.limit_price
        stop = snap.stop_price if m.stop_price is None else m.stop_price
        if m.limit_price is not None:
            limit = self._on_tick(snap.instrument, m.limit_price, "limit price")
        if m.stop_price is not None:
            stop = self._on_tick(snap.instrument, m.stop_price, "stop price")
        if (qty, limit, stop) == (snap.qty, snap.limit_price, snap.stop_price):
            raise ValueError("Nothing to change: the order already has these terms.")
        return qty, limit, stop

    def cancel(self, intent: CancelIntent) -> GateDecision:
        """Cancel one order. Cancels are allowed in every mode."""
        snap = self.store.get(intent.ref)
        denial = self._can_touch(snap, "cancel")
        if denial is not None:
            return self._decide("cancel", intent.source, denial)
        assert snap is not None
        self.journal.intent(snap.ref, "cancel", str(intent.source), snap.account, {})
        if snap.state is OrderState.QUEUED and self.port.withdraw({snap.order_id}):
            self._finish_unsent(snap, "Cancelled before it was sent.")
            return self._decide("cancel", intent.source, GateDecision(True, (snap.ref,)))
        if not self.port.connected:
            return self._decide(
                "cancel",
                intent.source,
                GateDecision.deny(
                    "connection", "Not connected to TWS: the cancel could not be sent."
                ),
            )
        self.port.cancel(snap)
        self.store.merge(snap.ref, reason="cancel sent", updated=self.clock())
        return self._decide("cancel", intent.source, GateDecision(True, (snap.ref,)))

    def cancel_all(self, source: Source) -> GateDecision:
        """Pull every queued order, then send reqGlobalCancel (every order in the account,
        from every client and the TWS screen)."""
        self.journal.intent("", "cancel_all", str(source), "", {})
        withdrawn = self.port.withdraw(None)
        for snap in list(self.store.live()):
            if snap.order_id in withdrawn and snap.client_id == self.port.client_id:
                self._finish_unsent(snap, "Cancelled before it was sent (cancel all).")
        if not self.port.connected:
            return self._decide(
                "cancel_all",
                source,
                GateDecision.deny(
                    "connection",
                    "Not connected to TWS: queued orders were withdrawn, but the "
                    "global cancel could not be sent.",
                ),
            )
        self.port.cancel_all()
        return self._decide("cancel_all", source, GateDecision(True, ()))

    def _can_touch(self, snap: OrderSnapshot | None, verb: str) -> GateDecision | None:
        if snap is None:
            return GateDecision.deny("unknown", f"No such order to {verb}.")
        if snap.state is OrderState.FILLED:
            return GateDecision.deny("final", f"Already filled: nothing to {verb}.")
        if snap.state.final:
            return GateDecision.deny(
                "final", f"Already {snap.state.value.lower()}: nothing to {verb}."
            )
        if snap.client_id != self.port.client_id:
            placed_by = (
                "the TWS screen"
                if snap.client_id == 0 and snap.order_id <= 0
                else f"API client {snap.client_id}"
            )
            return GateDecision.deny(
                "owner",
                f"Placed by {placed_by}: only it can {verb} this "
                "order. Cancel all (a global cancel) reaches it.",
            )
        return None

    def _finish_unsent(self, snap: OrderSnapshot, why: str) -> None:
        after = self.store.merge(
            snap.ref, state=OrderState.CANCELLED, reason=why, updated=self.clock()
        )
        if after is not None:
            self.journal.order(after)

    def _decide(self, kind: str, source: Source, decision: GateDecision) -> GateDecision:
        if not decision.accepted:
            self.journal.action(
                str(source), f"denied {kind}", f"{decision.check}: {decision.reason}"
            )
        self.decided.emit(kind, source, decision)
        return decision
