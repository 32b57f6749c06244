"""Hypothesis fuzz of the OrderGate with the real pre-trade checks (build_checks).

Random limits (0 meaning off), positions, prices, P&L, trading states and sequences of
orders, brackets, modifies and cancels go through a real OrderGate with the fake port and
journal of tests/unit/test_gate.py. An independent oracle says what the gate must decide: an
order is accepted iff it is valid and every check from build_checks returns None on the gate's
own context (ACTIVE); a bracket iff its entry passes (counted as three orders) and each exit leg
passes against the position the entry would make; a modify iff the order it would become passes
against the book without its old terms; in REDUCING only orders that reduce a position may
pass, in HALTED nothing reaches the port but cancels (and a flatten's position-reducing
exits). No input may raise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ibdesk.config import RiskSettings
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import (
    BracketIntent,
    CancelIntent,
    ModifyIntent,
    OrderIntent,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    Source,
)
from ibdesk.domain.risk import TradingState
from ibdesk.domain.strategy import StrategyState
from ibdesk.state.orders import OrderStore
from ibdesk.trading.checks import build_checks
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ids import OrderIds
from tests.unit.test_gate import FakePort, MemoryJournal

CHICAGO = ZoneInfo("America/Chicago")
ES = Instrument(
    11,
    "ES",
    SecType.FUTURE,
    "CME",
    "USD",
    "ESZ6",
    50,
    0.25,
    "20261218",
    liquid_hours="20261123:0830-20261123:1500;20261124:0830-20261124:1500;20261125:CLOSED",
    time_zone="US/Central",
)
NQ = Instrument(12, "NQ", SecType.FUTURE, "CME", "USD", "NQZ6", 20, 0.25, "20261218")
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")
INSTRUMENTS = (ES, NQ, AAPL)
MARKET = {ES.con_id: 6800.0, NQ.con_id: 21000.0, AAPL.con_id: 270.0}
SOURCES = (
    Source("ticket"),
    Source("hotkey"),
    Source("chart"),
    Source("strategy", "trend"),
    Source("strategy", "revert"),
    Source("flatten"),
)
ACCOUNTS = ("", "DU1", "DU2")
DEFAULT_ACCOUNT = "DU1"


def chicago(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CHICAGO).timestamp()


#: Inside ES's regular hours, after its close, and on a closed day.
STARTS = (chicago(23, 10), chicago(23, 16, 30), chicago(25, 11))

#: Which RiskSettings field turns each named check on (the check may never deny when off).
SWITCHES: dict[str, Callable[[RiskSettings], bool]] = {
    "daily_loss": lambda r: r.daily_loss_limit > 0,
    "trading_hours": lambda r: r.trading_hours_only,
    "duplicate_guard": lambda r: r.duplicate_window_ms > 0,
    "max_orders_per_minute": lambda r: r.max_orders_per_minute > 0,
    "max_open_orders": lambda r: r.max_open_orders > 0,
    "max_order_qty": lambda r: any(v > 0 for v in r.max_order_qty.values()),
    "price_collar": lambda r: r.collar_ticks > 0 or r.collar_pct > 0,
    "max_order_notional": lambda r: r.max_order_notional > 0,
    "max_position": lambda r: any(v > 0 for v in r.max_position.values()),
}


# ---- strategies ---------------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of several strategies, picked with the given weights."""
    return st.sampled_from([s for n, s in choices for _ in range(n)]).flatmap(lambda s: s)


def off_or(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A limit that is off (0) about a third of the time."""
    return weighted((1, st.just(0)), (2, values))


per_root = st.dictionaries(
    st.sampled_from(["*", "ES", "NQ", "AAPL", "CL"]),
    off_or(st.one_of(st.integers(1, 30), st.floats(0.5, 30))).map(float),
    max_size=3,
)


@st.composite
def risk_settings(draw: st.DrawFn) -> RiskSettings:
    return RiskSettings(
        max_order_qty=draw(per_root),
        max_position=draw(per_root),
        max_order_notional=float(draw(off_or(st.floats(1_000, 5_000_000)))),
        collar_pct=float(draw(off_or(st.floats(0.01, 10)))),
        collar_ticks=float(draw(off_or(st.integers(1, 200)))),
        max_open_orders=draw(off_or(st.integers(1, 8))),
        max_orders_per_minute=draw(off_or(st.integers(1, 4))),
        duplicate_window_ms=float(draw(off_or(st.floats(1, 5_000)))),
        trading_hours_only=draw(st.booleans()),
        daily_loss_limit=float(draw(off_or(st.floats(10, 5_000)))),
    )


def prices(inst: Instrument) -> st.SearchStrategy[float | None]:
    """Mostly on the tick grid near the market; sometimes far, off the grid, or absurd."""
    market = MARKET[inst.con_id]

    def grid(k: int) -> float:
        return round(market + k * inst.min_tick, 10)

    return weighted(
        (12, st.integers(-20, 20).map(grid)),
        (4, st.integers(-4_000, 4_000).map(grid)),
        (1, st.integers(-400, 400).map(lambda k: market + (k + 0.37) * inst.min_tick)),
        (1, st.sampled_from([None, math.nan, math.inf, -math.inf, 0.0, -5.0, 1e300])),
    )


quantities = weighted(
    (12, st.integers(1, 12).map(float)),
    (3, st.integers(13, 60).map(float)),
    (1, st.floats(0.01, 50)),
    (1, st.sampled_from([0.0, -1.0, 0.5, 2.5, math.nan, math.inf, 1e300])),
)


@st.composite
def order_intents(draw: st.DrawFn) -> OrderIntent:
    inst = draw(st.sampled_from(INSTRUMENTS))
    order_type = draw(st.sampled_from(list(OrderType)))
    limit = stop = None
    if order_type.needs_limit or draw(st.integers(0, 19)) == 0:  # sometimes a stray price
        limit = draw(prices(inst))
    if order_type is OrderType.TRAIL:
        stop = draw(st.one_of(st.integers(1, 40).map(lambda k: k * inst.min_tick), prices(inst)))
    elif order_type.needs_stop or draw(st.integers(0, 19)) == 0:
        stop = draw(prices(inst))
    return OrderIntent(
        inst,
        draw(st.sampled_from([Side.BUY, Side.SELL])),
        draw(quantities),
        order_type,
        draw(st.sampled_from(SOURCES)),
        limit,
        stop,
        account=draw(st.sampled_from(ACCOUNTS)),
    )


@dataclass(frozen=True)
class Exit:
    """An order against the position as it will be when it is sent: the opposite side,
    ``fraction`` of its size (over 1: more than the position, so not an exit after all)."""

    inst: Instrument
    account: str
    fraction: float
    source: Source
    limit_ticks: int | None

    def intent(self, world: World) -> OrderIntent | None:
        position = world.positions.get((self.account or DEFAULT_ACCOUNT, self.inst.con_id), 0.0)
        if not math.isfinite(position) or not position:
            return None
        qty = max(1.0, math.floor(abs(position) * self.fraction))
        side = Side.SELL if position > 0 else Side.BUY
        if self.limit_ticks is None:
            return OrderIntent(
                self.inst, side, qty, OrderType.MARKET, self.source, account=self.account
            )
        price = round(MARKET[self.inst.con_id] + self.limit_ticks * self.inst.min_tick, 10)
        return OrderIntent(
            self.inst, side, qty, OrderType.LIMIT, self.source, price, account=self.account
        )


exits = st.builds(
    Exit,
    st.sampled_from(INSTRUMENTS),
    st.sampled_from(ACCOUNTS),
    st.floats(0.01, 1.3),
    weighted((3, st.just(Source("flatten"))), (2, st.sampled_from(SOURCES))),
    st.one_of(st.none(), st.integers(-10, 10)),
)


@st.composite
def bracket_intents(draw: st.DrawFn) -> BracketIntent:
    """Mostly exits a few ticks either side of the market on the right sides; sometimes any
    two prices (the wrong side, off the grid, absurd)."""
    entry = draw(order_intents())
    inst = entry.instrument
    if draw(st.integers(0, 3)):
        sign, market = entry.side.sign, MARKET[inst.con_id]
        ref = entry.stop_price or entry.limit_price or market
        ref = ref if math.isfinite(ref) and ref > 0 else market
        near = st.integers(1, 60).map(lambda k: k * inst.min_tick)
        take = round(ref + sign * draw(near), 10)
        stop = round(ref - sign * draw(near), 10)
        return BracketIntent(entry, take, stop)
    take, stop = draw(prices(inst)), draw(prices(inst))
    return BracketIntent(
        entry, math.nan if take is None else take, math.nan if stop is None else stop
    )


@dataclass(frozen=True)
class World:
    """What the gate's context reads: positions, prices, the day's P&L."""

    positions: dict[tuple[str, int], float]
    last: dict[int, float]
    daily_pnl: float
    waived: bool


@st.composite
def worlds(draw: st.DrawFn) -> World:
    position = weighted(
        (6, st.integers(-30, 30).map(float)),
        (2, st.just(0.0)),
        (1, st.floats(-30, 30)),
        (1, st.just(math.nan)),
    )
    positions = {
        (account, inst.con_id): draw(position)
        for account in (DEFAULT_ACCOUNT, "DU2")
        for inst in INSTRUMENTS
    }
    last = {
        con_id: draw(weighted((5, st.just(price)), (1, st.just(math.nan))))
        for con_id, price in MARKET.items()
    }
    pnl = draw(weighted((1, st.just(math.nan)), (3, st.floats(-6_000, 6_000))))
    return World(positions, last, pnl, draw(st.booleans()))


#: How far from the market a modify moves a price, in ticks: mostly near, sometimes through
#: the collar.
modify_ticks = weighted((4, st.integers(-20, 20)), (1, st.integers(-400, 400)))

Op = tuple[str, Any]
ops = st.lists(
    weighted(
        (10, st.tuples(st.just("order"), order_intents())),
        (3, st.tuples(st.just("exit"), exits)),
        (3, st.tuples(st.just("bracket"), bracket_intents())),
        (
            2,
            st.tuples(
                st.just("burst"),
                st.tuples(order_intents(), st.integers(2, 8), st.floats(0, 1.5)),
            ),
        ),
        (2, st.tuples(st.just("cancel"), st.integers(0, 1_000))),
        (
            3,
            st.tuples(
                st.just("modify"),
                st.tuples(
                    st.integers(0, 1_000),
                    st.one_of(st.none(), quantities),
                    st.one_of(st.none(), modify_ticks),
                    st.one_of(st.none(), modify_ticks),
                    st.sampled_from(SOURCES),
                ),
            ),
        ),
        (3, st.tuples(st.just("wire"), st.integers(0, 1_000))),  # a queued order is sent
        (1, st.tuples(st.just("state"), st.sampled_from(list(TradingState)))),
        (1, st.tuples(st.just("connected"), st.booleans())),
        (2, st.tuples(st.just("wait"), st.floats(0, 40))),
    ),
    min_size=1,
    max_size=40,
)


# ---- the oracle ---------------------------------------------------------------------------------


def valid(o: OrderIntent) -> bool:
    """The gate's validation rules, written out (round_off_tick off)."""

    def good_price(p: float | None) -> bool:
        return p is not None and math.isfinite(p) and p > 0 and o.instrument.on_tick(p)

    if not (math.isfinite(o.qty) and o.qty > 0):
        return False
    if o.instrument.sec_type is SecType.FUTURE and not float(o.qty).is_integer():
        return False
    uses_stop = o.order_type.needs_stop or o.order_type is OrderType.TRAIL
    if o.order_type.needs_limit and not good_price(o.limit_price):
        return False
    if uses_stop and not good_price(o.stop_price):
        return False
    # a price the type does not use is refused, not sent
    return (o.limit_price is None or o.order_type.needs_limit) and (
        o.stop_price is None or uses_stop
    )


def reduces(o: OrderIntent, ctx: CheckContext) -> bool:
    """Opposite to the position and no bigger than what is left of it after the live
    orders already working on the same side (an empty account matches any; a bracket's
    one-cancels-other legs count as their larger one)."""
    position = ctx.position(o.account, o.instrument.con_id)
    if not math.isfinite(position) or position * o.side.sign >= 0:
        return False
    same = [
        w
        for w in ctx.working
        if w.state.live
        and w.side is o.side
        and w.instrument.con_id == o.instrument.con_id
        and (not w.account or not o.account or w.account == o.account)
    ]
    groups = {w.parent_ref for w in same if w.parent_ref}
    already = sum(w.remaining for w in same if not w.parent_ref) + sum(
        max(w.remaining for w in same if w.parent_ref == g) for g in groups
    )
    return o.qty <= abs(position) - already + 1e-9


def expected(
    o: OrderIntent, gate: OrderGate, risk: RiskSettings, connected: bool
) -> tuple[bool, str]:
    """(accepted, the check that denies) for one order, from the rules alone."""
    if not valid(o):
        return False, "validate"
    ctx = gate.full_context()
    exit_only = reduces(o, ctx)
    flattening = exit_only and o.source.kind == "flatten"
    if gate.state is TradingState.HALTED and not flattening:
        return False, "halted"
    if gate.state is TradingState.REDUCING and not exit_only:
        return False, "reducing"
    if not connected:
        return False, "connection"
    if flattening:
        return True, ""
    for name, check in build_checks(risk):
        if check(o, ctx) is not None:
            return False, name
    return True, ""


def ticks_from_market(inst: Instrument, ticks: int | None) -> float | None:
    """A price ``ticks`` ticks from the instrument's market (None stays None: unchanged)."""
    return None if ticks is None else round(MARKET[inst.con_id] + ticks * inst.min_tick, 10)


#: Checks about an intent as a whole, which a bracket's exit legs and a modify do not repeat.
ONCE_PER_INTENT = {"duplicate_guard", "max_orders_per_minute", "max_open_orders"}


def first_denial(
    o: OrderIntent,
    ctx: CheckContext,
    risk: RiskSettings,
    skip: set[str] = frozenset(),  # type: ignore[assignment]
) -> str:
    for name, check in build_checks(risk):
        if name not in skip and check(o, ctx) is not None:
            return name
    return ""


def bracket_valid(b: BracketIntent, last: float) -> bool:
    """The bracket's own shape: exits on the grid, on either side of the entry."""
    inst, sign = b.entry.instrument, b.entry.side.sign

    def good(p: float) -> bool:
        return math.isfinite(p) and p > 0 and inst.on_tick(p)

    if not (valid(b.entry) and good(b.take_profit) and good(b.stop_loss)):
        return False
    if sign * (b.take_profit - b.stop_loss) <= 0:
        return False
    reference = b.entry.stop_price or b.entry.limit_price or last
    return math.isnan(reference) or (
        sign * (b.take_profit - reference) > 0 and sign * (reference - b.stop_loss) > 0
    )


def bracket_expected(
    b: BracketIntent, gate: OrderGate, risk: RiskSettings, connected: bool
) -> tuple[bool, str]:
    """(accepted, the check that denies) for a bracket, from the rules alone."""
    entry = b.entry
    if not bracket_valid(b, gate.context().last_price(entry.instrument.con_id)):
        return False, "validate"
    if gate.state is TradingState.HALTED:
        return False, "halted"
    if gate.state is TradingState.REDUCING:
        return False, "reducing"
    if not connected:
        return False, "connection"
    ctx = dataclasses.replace(gate.full_context(), new_orders=3)
    denial = first_denial(entry, ctx, risk)
    if denial:
        return False, denial
    held = ctx.position

    def after(account: str, con_id: int) -> float:
        same = con_id == entry.instrument.con_id and account == entry.account
        return held(account, con_id) + (entry.signed_qty if same else 0.0)

    legs = dataclasses.replace(ctx, position=after)
    exit_side = entry.side.opposite
    take = OrderIntent(
        entry.instrument,
        exit_side,
        entry.qty,
        OrderType.LIMIT,
        entry.source,
        limit_price=b.take_profit,
        account=entry.account,
    )
    stop = OrderIntent(
        entry.instrument,
        exit_side,
        entry.qty,
        OrderType.STOP,
        entry.source,
        stop_price=b.stop_loss,
        account=entry.account,
    )
    for leg in (take, stop):
        denial = first_denial(leg, legs, risk, ONCE_PER_INTENT)
        if denial:
            return False, denial
    return True, ""


def modify_expected(
    snap: OrderSnapshot,
    m: ModifyIntent,
    gate: OrderGate,
    risk: RiskSettings,
    connected: bool,
) -> tuple[bool, str]:
    """(accepted, the check that denies) for a modify of our own live order."""
    inst = snap.instrument
    qty = snap.qty if m.qty is None else m.qty
    if not (math.isfinite(qty) and qty > 0) or qty < snap.filled:
        return False, "validate"
    if inst.sec_type is SecType.FUTURE and not float(qty).is_integer():
        return False, "validate"
    for p in (m.limit_price, m.stop_price):
        if p is not None and not (math.isfinite(p) and p > 0 and inst.on_tick(p)):
            return False, "validate"
    limit = snap.limit_price if m.limit_price is None else m.limit_price
    stop = snap.stop_price if m.stop_price is None else m.stop_price
    if (qty, limit, stop) == (snap.qty, snap.limit_price, snap.stop_price):
        return False, "validate"
    would_be = OrderIntent(
        inst,
        snap.side,
        qty - snap.filled,
        snap.order_type,
        m.source,
        limit,
        stop,
        account=snap.account,
    )
    full = gate.full_context()
    ctx = dataclasses.replace(full, working=[o for o in full.working if o.ref != snap.ref])
    if gate.state is TradingState.HALTED:
        return False, "halted"
    siblings = [w for w in ctx.working if not snap.parent_ref or w.parent_ref != snap.parent_ref]
    if gate.state is TradingState.REDUCING and not reduces(
        would_be, dataclasses.replace(ctx, working=siblings)
    ):
        return False, "reducing"
    if not connected:
        return False, "connection"
    if qty <= snap.qty and (limit, stop) == (snap.limit_price, snap.stop_price):
        return True, ""
    denial = first_denial(would_be, ctx, risk, ONCE_PER_INTENT)
    return (not denial), denial


# ---- the fuzz -----------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_gate(
    risk: RiskSettings, world: World, clock: Clock
) -> tuple[OrderGate, FakePort, OrderStore]:
    port, store, journal = FakePort(), OrderStore(), MemoryJournal()

    def context() -> CheckContext:
        def position(account: str, con_id: int) -> float:
            return world.positions.get((account or DEFAULT_ACCOUNT, con_id), 0.0)

        return CheckContext(
            clock(),
            position,
            store.live(),
            lambda con_id: world.last.get(con_id, math.nan),
            daily_pnl=world.daily_pnl,
            loss_limit_waived=world.waived,
        )

    gate = OrderGate(
        port,
        store,
        journal,
        OrderIds(port, journal),
        context,
        build_checks(risk),
        clock=clock,
        strategies=EveryStrategyRuns(),
    )
    return gate, port, store


class EveryStrategyRuns:
    """A runner whose strategies all run: their orders meet the same rules as anyone's
    (tests/unit/test_gate_strategies.py has the runner's own rules)."""

    def state_of(self, name: str) -> StrategyState:
        return StrategyState.RUNNING

    def position_of(self, name: str, con_id: int) -> float:
        return 0.0

    def paused_why(self, name: str) -> str:
        return ""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    risk=risk_settings(),
    world=worlds(),
    start=st.sampled_from(STARTS),
    initial=st.sampled_from(list(TradingState)),
    script=ops,
)
def test_the_gate_decides_exactly_as_its_checks_and_state_say(
    risk: RiskSettings,
    world: World,
    start: float,
    initial: TradingState,
    script: list[Op],
) -> None:
    """Every order is accepted iff valid and every build_checks check passes on the gate's
    context (REDUCING: only reducing orders; HALTED: only cancels and flatten exits reach
    the port); a limit at 0 never denies; cancels always work; nothing raises."""
    clock = Clock(start)
    gate, port, store = make_gate(risk, world, clock)
    gate.state = initial
    off = {name for name, on in SWITCHES.items() if not on(risk)}

    def submit(intent: OrderIntent) -> None:
        placed_before = len(port.placed)
        ok, check = expected(intent, gate, risk, port.connected)
        ctx_before = gate.full_context()
        decision = gate.submit(intent)
        event(f"{gate.state.value} order: {check or 'accepted'}")
        assert (decision.accepted, decision.check) == (ok, check), (intent, decision.reason)
        assert len(port.placed) == placed_before + ok
        assert decision.check not in off
        if ok and gate.state is TradingState.HALTED:
            assert intent.source.kind == "flatten" and reduces(intent, ctx_before)
        if ok and gate.state is TradingState.REDUCING:
            assert reduces(intent, ctx_before)
        if ok:
            [ref] = decision.refs
            assert store.orders[ref].state is OrderState.QUEUED
            assert port.placed[-1]["ref"] == ref

    for kind, arg in script:
        if kind == "state":
            gate.state = arg
        elif kind == "connected":
            port.connected = arg
        elif kind == "wait":
            clock.now += arg
        elif kind == "wire":
            queued = sorted(s.ref for s in store.live() if s.state is OrderState.QUEUED)
            if queued:
                ref = queued[arg % len(queued)]
                port.queued.discard(store.orders[ref].order_id)
                store.merge(ref, state=OrderState.WORKING)
        elif kind == "cancel":
            live = sorted(s.ref for s in store.live())
            if live:
                ref = live[arg % len(live)]
                was_queued = store.orders[ref].state is OrderState.QUEUED
                cancels_before = len(port.cancelled)
                decision = gate.cancel(CancelIntent(ref, Source("blotter")))
                if was_queued or port.connected:  # cancels pass in every trading state
                    assert decision.accepted, decision
                    assert len(port.cancelled) == cancels_before + (not was_queued)
                else:
                    assert decision.check == "connection"
        elif kind == "order":
            submit(arg)
        elif kind == "exit":
            intent = arg.intent(world)
            if intent is not None:
                submit(intent)
        elif kind == "burst":  # the same order again and again: a runaway sender
            intent, times, gap = arg
            for _ in range(times):
                submit(intent)
                clock.now += gap
        elif kind == "bracket":
            placed_before = len(port.placed)
            ok, check = bracket_expected(arg, gate, risk, port.connected)
            decision = gate.submit(arg)
            event(f"{gate.state.value} bracket: {check or 'accepted'}")
            assert (decision.accepted, decision.check) == (ok, check), (arg, decision.reason)
            if decision.accepted:
                assert len(port.placed) == placed_before + 3 and len(decision.refs) == 3
            else:
                assert len(port.placed) == placed_before and decision.reason
                assert decision.check not in off
        elif kind == "modify":
            live = sorted(s.ref for s in store.live())
            if live:
                index, qty, limit_ticks, stop_ticks, source = arg
                snap = store.orders[live[index % len(live)]]
                inst = snap.instrument
                prices_at = (
                    ticks_from_market(inst, limit_ticks),
                    ticks_from_market(inst, stop_ticks),
                )
                change = ModifyIntent(snap.ref, source, qty, *prices_at)
                ok, check = modify_expected(snap, change, gate, risk, port.connected)
                modified_before = len(port.modified)
                decision = gate.modify(change)
                event(f"{gate.state.value} modify: {check or 'accepted'}")
                assert (decision.accepted, decision.check) == (ok, check), (change, decision)
                assert len(port.modified) == modified_before + ok
                assert decision.check not in off
    assert port.global_cancels == 0


@settings(max_examples=200, deadline=None)
@given(
    risk=risk_settings(),
    world=worlds(),
    start=st.sampled_from(STARTS),
    intents=st.lists(st.one_of(order_intents(), bracket_intents()), min_size=1, max_size=40),
)
def test_halted_lets_nothing_but_flatten_exits_reach_the_port(
    risk: RiskSettings,
    world: World,
    start: float,
    intents: list[OrderIntent | BracketIntent],
) -> None:
    """HALTED: whatever is submitted, the port sees no order but a flatten's reduce-only
    exit, and each denial says "halted" (or "validate" for a malformed order)."""
    clock = Clock(start)
    gate, port, _ = make_gate(risk, world, clock)
    gate.state = TradingState.HALTED
    for intent in intents:
        ctx = gate.full_context()
        before = len(port.placed)
        decision = gate.submit(intent)
        if decision.accepted:
            assert isinstance(intent, OrderIntent) and intent.source.kind == "flatten"
            assert reduces(intent, ctx)
            assert len(port.placed) == before + 1
        else:
            assert decision.check in ("halted", "validate"), decision
            assert len(port.placed) == before
        clock.now += 0.01
    for placed in port.placed:
        assert placed["intent"].source.kind == "flatten"


def test_the_oracle_is_not_vacuous() -> None:
    """A sanity check of the fuzz itself: with default limits the oracle accepts a plain
    order, denies an oversized one by name, and denies everything in HALTED."""
    clock = Clock(STARTS[0])
    world = World({(DEFAULT_ACCOUNT, ES.con_id): 2.0}, dict(MARKET), math.nan, False)
    risk = RiskSettings()
    gate, port, _ = make_gate(risk, world, clock)
    small = OrderIntent(ES, Side.BUY, 1, OrderType.LIMIT, Source("ticket"), 6799.0)
    big = dataclasses.replace(small, qty=11)
    assert expected(small, gate, risk, True) == (True, "")
    assert expected(big, gate, risk, True) == (False, "max_order_qty")
    gate.state = TradingState.HALTED
    assert expected(small, gate, risk, True) == (False, "halted")
    exit_ = OrderIntent(ES, Side.SELL, 2, OrderType.MARKET, Source("flatten"))
    assert expected(exit_, gate, risk, True) == (True, "")
    assert gate.submit(exit_).accepted and len(port.placed) == 1
