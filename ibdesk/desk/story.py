"""The desk's own story in the log: what was asked and what the gate said, what filled, and
who stopped trading or re-armed it, and why.

The log panel is where a trader looks back ("did my cancel go? who halted, when, why?"). The
journal holds all of it, but nobody reads SQLite during a session; and the client library's
records say what crossed the wire, not what ibdesk did (issue 14 found the panel 99 % library
dumps with no line for a kill or a re-arm). One INFO line per gate decision, per fill and per
trading-state change, in the words the window uses.
"""

from __future__ import annotations

import logging

from ibdesk.domain.orders import FillSnapshot, GateDecision, OrderSnapshot, OrderType, Source
from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.state.orders import OrderStore
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.killswitch import KillSwitch
from ibdesk.trading.latch import STRICTNESS

log = logging.getLogger("ibdesk.desk.story")


def _price(value: float) -> str:
    return f"{value:.10g}"


def describe(snap: OrderSnapshot) -> str:
    """``BUY 1 ESZ6 LMT 6790.25``: an order as the blotter names it."""
    terms = [snap.side.value, f"{snap.qty:g}", snap.instrument.display, snap.order_type.value]
    if snap.order_type is not OrderType.MARKET:
        terms += [_price(p) for p in (snap.limit_price, snap.stop_price) if p is not None]
    return " ".join(terms)


class DeskStory:
    """Tells the gate's decisions, the fills and the trading-state changes to the log."""

    def __init__(self, gate: OrderGate, orders: OrderStore, switch: KillSwitch) -> None:
        self.gate = gate
        self.orders = orders
        self.switch = switch
        self._state = switch.state
        gate.decided += self._on_decided
        orders.filled += self._on_fill
        switch.changed += self._on_state

    def close(self) -> None:
        """Stop listening (the desk is closing)."""
        self.gate.decided -= self._on_decided
        self.orders.filled -= self._on_fill
        self.switch.changed -= self._on_state

    def _on_decided(self, kind: str, source: Source, decision: GateDecision) -> None:
        what = kind.replace("_", " ")
        if not decision.accepted:
            log.info("%s from %s DENIED (%s): %s", what, source, decision.check, decision.reason)
            return
        if kind == "cancel_all":
            log.info("cancel all from %s sent (a global cancel: every client's orders)", source)
            return
        first = self.orders.get(decision.refs[0]) if decision.refs else None
        terms = describe(first) if first is not None else ""
        more = f" with {len(decision.refs) - 1} exits" if kind == "bracket" else ""
        log.info("%s from %s sent: %s%s [%s]", what, source, terms, more, " ".join(decision.refs))

    def _on_fill(self, fill: FillSnapshot) -> None:
        log.info(
            "fill: %s %g %s at %s [%s, exec %s, %s]",
            fill.side.value,
            fill.qty,
            fill.instrument.display,
            _price(fill.price),
            fill.ref,
            fill.exec_id,
            fill.account,
        )

    def _on_state(self, change: StateChange) -> None:
        before, self._state = self._state, change.state
        if STRICTNESS[change.state] < STRICTNESS[before]:
            verb = f"re-armed from {before.value} to {change.state.value}"
        elif change.state is TradingState.HALTED:
            verb = "HALTED (kill: new orders refused, working ones cancelled)"
        else:
            verb = change.state.value
        log.info("trading %s by %s: %s", verb, change.who, change.why)
