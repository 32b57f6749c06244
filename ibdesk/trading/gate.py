"""The OrderGate: the one door every order goes through, whoever asks.

Ticket, chart, hotkeys, strategies, flatten and kill all call the gate with a ``Source``. The
gate validates the intent, refuses everything but cancels in read-only mode, runs the risk
checks (small pure functions, one deny reason each), gives every order an ``orderRef`` and an
id that is never reused, journals it, and only then hands it to the broker port.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ibdesk import events
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    GateDecision,
    ModifyIntent,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    Source,
    order_ref,
)
from ibdesk.domain.risk import TradingState
from ibdesk.domain.strategy import StrategyState
from ibdesk.trading.checks import reduces_position
from ibdesk.trading.context import (
    Check,
    CheckContext,
    FixedState,
    StrategyStanding,
    TradingStateSource,
)
from ibdesk.trading.ids import OrderIdError, OrderIds
from ibdesk.trading.ports import JournalWriter, OrderBook, OrderPort
from ibdesk.trading.validate import new_terms, stop_leg, take_leg, validated

Intent = OrderIntent | BracketIntent


RECENT_WINDOW = 60.0
MAX_ID_SKIPS = 1_000
""" blocks of ids skipped at most because their refs are journaled already """

_ONCE_PER_INTENT = frozenset({"duplicate_guard", "max_orders_per_minute", "max_open_orders"})
"""Checks about the intent as a whole (a double click, a runaway sender, the book's size),
which a bracket passes once at its entry and a modify does not repeat (see :meth:`modify`)."""


#: Why a read-only gate refuses every order (and says so before one is tried).
READ_ONLY = "Read-only mode (--read-only): ibdesk sends no orders; cancels still work."


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
        strategies: StrategyStanding | None = None,
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
        self.strategies = strategies
        """ the strategy runner, asked of every strategy's order (None: none may trade) """
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
            intent = validated(intent, self.context().last_price, self.round_off_tick)
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
            intent = validated(intent, self.context().last_price, self.round_off_tick)
        except ValueError as exc:
            return GateDecision.deny("validate", str(exc))
        return self._screen(intent) or GateDecision(True)

    def _screen(self, intent: Intent) -> GateDecision | None:
        """The trading state, the connection and every check, for an order or each leg of a
        bracket (None: it may go)."""
        if self.read_only:
            return GateDecision.deny("read-only", READ_ONLY)
        bracket = isinstance(intent, BracketIntent)
        context = self.full_context()
        if bracket:
            context = dataclasses.replace(context, new_orders=3)
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        exit_only = not bracket and reduces_position(entry, context)
        flattening = exit_only and entry.source.kind == "flatten"
        denial = self._state_denial(exit_only, flattening) or self._strategy_denial(
            entry, context, entry_of_bracket=bracket
        )
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

    def _strategy_denial(
        self, intent: OrderIntent, context: CheckContext, entry_of_bracket: bool = False
    ) -> GateDecision | None:
        """A strategy's order passes only as its standing allows, whatever the strategy's
        own code believes: RUNNING trades; PAUSED may only reduce its *own* position (an
        exit, a stop moved; never a bracket's entry); STOPPED, HALTED and unknown send
        nothing. The trader's own orders are not the runner's business."""
        if intent.source.kind != "strategy":
            return None
        name = intent.source.name
        if self.strategies is None:
            return GateDecision.deny("strategy", f"No strategy runner: {name} may not trade.")
        state = self.strategies.state_of(name)
        if state is StrategyState.RUNNING:
            return None
        if state is StrategyState.PAUSED and not entry_of_bracket:
            standing = self.strategies
            own = f"{intent.source}#"
            its_view = dataclasses.replace(
                context,
                position=lambda _account, con_id: standing.position_of(name, con_id),
                working=tuple(o for o in context.working if o.ref.startswith(own)),
            )
            if reduces_position(dataclasses.replace(intent, account=""), its_view):
                return None
            why = standing.paused_why(name)
            return GateDecision.deny(
                "strategy",
                f"{name} is paused{f' ({why})' if why else ''}: only orders that reduce its "
                "own position pass.",
            )
        said = "not loaded" if state is None else state.value.lower()
        return GateDecision.deny("strategy", f"{name} is {said}: it sends nothing.")

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
        for label, leg in (("Take-profit", take_leg(b)), ("Stop-loss", stop_leg(b))):
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
        with self.journal.batch():  # journaled (one commit) before it is sent
            self._record(intent, ref, order_id, "order")
        self.port.place(intent, ref, order_id)
        return (ref,)

    def _send_bracket(self, b: BracketIntent) -> tuple[str, ...]:
        entry = b.entry
        take, stop = take_leg(b), stop_leg(b)
        (parent, parent_id), (take_ref, take_id), (stop_ref, stop_id) = self._fresh(entry.source, 3)
        refs = (parent, take_ref, stop_ref)
        oca = "oca-" + refs[0].rpartition("#")[2]
        with self.journal.batch():  # the three orders journaled (one commit) before any is sent
            self._record(
                entry,
                refs[0],
                parent_id,
                "bracket",
                {
                    "take_profit": b.take_profit,
                    "stop_loss": b.stop_loss,
                    **({"trail": dataclasses.asdict(b.trail)} if b.trail else {}),
                },
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
            why=intent.why,
        )
        details = {
            "symbol": intent.instrument.display,
            "con_id": intent.instrument.con_id,
            "side": intent.side.value,
            "qty": intent.qty,
            "type": intent.order_type.value,
            "limit": intent.limit_price,
            "stop": intent.stop_price,
            **(
                {"trailing_percent": intent.trailing_percent}
                if intent.trailing_percent is not None
                else {}
            ),
            **(
                {"trail_stop": intent.trail_stop_price}
                if intent.trail_stop_price is not None
                else {}
            ),
            "tif": intent.tif.value,
            "outside_rth": intent.outside_rth,
            "order_id": order_id,
            **({"why": intent.why} if intent.why else {}),
            **(extra or {}),
        }
        self.journal.intent(ref, kind, str(intent.source), intent.account, details, parent_ref)
        self.journal.order(snap)
        self.store.put(snap)

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
        try:
            self.port.modify(snap, qty, limit, stop)
        except LookupError as exc:  # the broker has it done (a fill crossed the modify)
            return self._decide("modify", intent.source, GateDecision.deny("broker", str(exc)))
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
            qty, limit, stop = new_terms(snap, intent, self.round_off_tick)
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
        # Its one-cancels-other siblings are not exits beside it: they share its quantity.
        group = snap.parent_ref
        exits = dataclasses.replace(
            context,
            working=tuple(o for o in context.working if not group or o.parent_ref != group),
        )
        exit_only = reduces_position(would_be, exits)
        denial = self._state_denial(exit_only, flattening=False) or self._strategy_denial(
            would_be, exits
        )
        if denial is not None:
            return denial
        if qty <= snap.qty and (limit, stop) == (snap.limit_price, snap.stop_price):
            return None
        return self._run_checks(would_be, context, _ONCE_PER_INTENT)

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
