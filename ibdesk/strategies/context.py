"""A strategy's narrow view of the desk: reads in, intents out through the gate.

The runner makes one :class:`StrategyContext` per running strategy. Every action is stamped
with the strategy's source, counted by its runaway breaker, and handed to the desk's gate;
nothing here can send an order any other way.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import (
    BracketIntent,
    GateDecision,
    OrderIntent,
    OrderSnapshot,
    OrderType,
    Side,
    Source,
    source_of,
)
from ibdesk.state.bars import BarKey
from ibdesk.strategies.breaker import RunawayBreaker
from ibdesk.strategies.handles import Bars, Handle, InstrumentLike
from ibdesk.strategies.host import StrategyHost
from ibdesk.strategies.ledger import StrategyLedger

_EMPTY = np.empty(0)


def _order_type(limit: float | None, stop: float | None) -> OrderType:
    if limit is not None and stop is not None:
        return OrderType.STOP_LIMIT
    if limit is not None:
        return OrderType.LIMIT
    return OrderType.STOP if stop is not None else OrderType.MARKET


class StrategyContext:
    """One strategy's reads and actions.

    Args:
        name: the strategy's name (its orders' source is ``strategy:<name>``).
        host: the desk.
        ledger: every strategy's own positions.
        breaker: this strategy's runaway breaker.
        on_breach: called with the breach when the breaker trips (the runner halts it).
    """

    def __init__(
        self,
        name: str,
        host: StrategyHost,
        ledger: StrategyLedger,
        breaker: RunawayBreaker,
        on_breach: Callable[[str], None],
    ) -> None:
        self.name = name
        self.source = Source("strategy", name)
        self.host = host
        self.ledger = ledger
        self.breaker = breaker
        self.on_breach = on_breach
        self.by_text: dict[str, Instrument] = {}
        """ symbol as the strategy names it -> Instrument """
        self.by_con_id: dict[int, Instrument] = {}
        self.bar_keys: dict[int, BarKey] = {}
        """ conId -> the series of its bars at the strategy's bar size """
        self.last_why = ""

    # ---- instruments ----------------------------------------------------------------------

    def add_instrument(self, text: str, inst: Instrument) -> None:
        """Record a resolved instrument under the name the strategy gave it."""
        self.by_text[text] = inst
        self.by_text[inst.local_symbol] = inst
        self.by_con_id[inst.con_id] = inst

    def instrument(self, x: InstrumentLike) -> Instrument:
        """An instrument of this strategy; KeyError names what it has."""
        if isinstance(x, Instrument):
            return x
        inst = self.by_text.get(x) or self.by_text.get(x.upper())
        if inst is None:
            have = ", ".join(sorted({i.local_symbol for i in self.by_con_id.values()}))
            raise KeyError(f"{x!r} is not one of {self.name}'s instruments ({have or 'none'})")
        return inst

    # ---- actions ----------------------------------------------------------------------------

    def order(
        self,
        x: InstrumentLike,
        side: Side,
        qty: float,
        limit: float | None,
        stop: float | None,
        why: str,
    ) -> Handle:
        """One order, through the breaker and the gate."""
        intent = OrderIntent(
            self.instrument(x),
            side,
            qty,
            _order_type(limit, stop),
            self.source,
            limit_price=limit,
            stop_price=stop,
            why=why,
        )
        return self._place(intent, intent)

    def bracket(
        self,
        x: InstrumentLike,
        side: Side,
        qty: float,
        entry: float | None,
        take_profit: float,
        stop_loss: float,
        why: str,
    ) -> Handle:
        """A native bracket, through the breaker and the gate."""
        first = OrderIntent(
            self.instrument(x),
            side,
            qty,
            OrderType.MARKET if entry is None else OrderType.LIMIT,
            self.source,
            limit_price=entry,
            why=why,
        )
        return self._place(BracketIntent(first, take_profit, stop_loss), first)

    def _place(self, intent: OrderIntent | BracketIntent, entry: OrderIntent) -> Handle:
        breach = self.breaker.order(entry, self.host.clock())
        if breach:
            self.on_breach(breach)
            return Handle(GateDecision.deny("breaker", breach))
        if entry.why:
            self.last_why = entry.why
        return Handle(self.host.place(intent))

    def modify(
        self, handle: Handle | str, qty: float | None, limit: float | None, stop: float | None
    ) -> Handle:
        """Change one of its own orders."""
        ref = self._own(handle)
        if not ref:
            return Handle(GateDecision.deny("strategy", f"Not an order of {self.name}."))
        return Handle(self.host.modify_order(ref, qty, limit, stop, source=self.source))

    def cancel(self, handle: Handle | str) -> Handle:
        """Cancel one of its own orders (a bracket handle: each leg still live)."""
        refs = handle.refs if isinstance(handle, Handle) else (handle,)
        decisions = [
            self.host.cancel_order(ref, source=self.source)
            for ref in refs
            if self._own(ref) and self._live(ref)
        ]
        if not decisions:
            return Handle(GateDecision.deny("strategy", "Nothing of its own to cancel."))
        done = tuple(r for d in decisions if d.accepted for r in d.refs)
        for _ in done:
            breach = self.breaker.cancelled()
            if breach:
                self.on_breach(breach)
                break
        refused = [d for d in decisions if not d.accepted]
        return Handle(refused[0] if refused and not done else GateDecision(True, done))

    def cancel_all(self) -> int:
        """Cancel every live order of its own (stop, halt); how many were asked."""
        count = 0
        for snap in self.orders():
            if self.host.cancel_order(snap.ref, source=self.source).accepted:
                count += 1
        return count

    def flatten(self, why: str) -> list[Handle]:
        """Cancel its orders and close each of its positions at market."""
        self.cancel_all()
        handles = []
        for con_id, qty in self.ledger.positions(self.name).items():
            inst = self.by_con_id.get(con_id) or self._instrument_of(con_id)
            if inst is None:
                continue
            side = Side.SELL if qty > 0 else Side.BUY
            intent = OrderIntent(inst, side, abs(qty), OrderType.MARKET, self.source, why=why)
            handles.append(Handle(self.host.place(intent)))
        return handles

    # ---- reads ------------------------------------------------------------------------------

    def position(self, x: InstrumentLike) -> float:
        """Its own position in an instrument."""
        return self.ledger.position(self.name, self.instrument(x).con_id)

    def quote(self, x: InstrumentLike) -> Quote | None:
        """The latest quote."""
        return self.host.quotes.get(self.instrument(x).con_id)

    def bars(self, x: InstrumentLike) -> Bars:
        """Its bars as arrays (empty without a bar size)."""
        key = self.bar_keys.get(self.instrument(x).con_id)
        series = self.host.bars.get(key) if key is not None else None
        if series is None:
            return Bars(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY)
        return Bars(
            series.times.copy(),
            series.opens.copy(),
            series.highs.copy(),
            series.lows.copy(),
            series.closes.copy(),
            series.volumes.copy(),
        )

    def orders(self) -> list[OrderSnapshot]:
        """Its live orders."""
        return [o for o in self.host.orders.live() if self.mine(o.ref)]

    def pnl(self) -> float:
        """Its P&L today (realized + open, less commissions)."""
        return self.ledger.pnl(self.name, self.mark)

    def mark(self, con_id: int) -> float:
        """The price an open position is valued at: last, else mid; NaN without a quote."""
        q = self.host.quotes.get(con_id)
        if q is None:
            return math.nan
        return q.last if not math.isnan(q.last) else q.mid

    # ---- helpers ----------------------------------------------------------------------------

    def mine(self, ref: str) -> bool:
        """An order this strategy made here. The same file run by ``ibdesk run`` as another
        API client makes orders under the same name: a Master API client sees them, but
        they are that client's (``#<client>.`` in the ref says whose)."""
        return source_of(ref) == self.source and self.ledger.made_here(ref)

    def _own(self, handle: Handle | str) -> str:
        ref = handle.ref if isinstance(handle, Handle) else handle
        return ref if self.mine(ref) else ""

    def _live(self, ref: str) -> bool:
        snap = self.host.orders.get(ref)
        return snap is not None and snap.state.live

    def _instrument_of(self, con_id: int) -> Instrument | None:
        for snap in self.host.orders.of_instrument(con_id):
            return snap.instrument
        return None
