"""The runaway breaker: one per strategy, judged before each of its orders reaches the gate.

A strategy in a bug's loop sends the same order again and again, or faster than any signal
could call for, or keeps being rejected, or cancels and re-places without ever filling. Each is
a limit here; the first one breached trips the breaker, and the runner halts that strategy
alone (its neighbours keep trading) and cancels its orders. The gate's own account-wide limits
(orders per minute, duplicates) still apply to everyone on top of these.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ibdesk.config import RiskSettings
from ibdesk.domain.orders import OrderIntent

_MIN_CANCELS = 10
""" cancels before the cancel-per-fill ratio is judged (a few cancels prove nothing) """


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    """The limits of one breaker (0 turns a limit off)."""

    orders_per_second: int = 5
    orders_per_minute: int = 60
    duplicate_ms: float = 1_000.0
    rejects_in_a_row: int = 3
    cancels_per_fill: float = 20.0

    @classmethod
    def from_risk(cls, risk: RiskSettings) -> BreakerLimits:
        """The limits in the config's [risk] section."""
        return cls(
            risk.strategy_orders_per_second,
            risk.strategy_orders_per_minute,
            risk.strategy_duplicate_ms,
            risk.strategy_rejects_in_a_row,
            risk.strategy_cancels_per_fill,
        )


def _terms(intent: OrderIntent) -> tuple[object, ...]:
    return (
        intent.instrument.con_id,
        intent.side,
        intent.qty,
        intent.order_type,
        intent.limit_price,
        intent.stop_price,
    )


class RunawayBreaker:
    """Counts one strategy's orders, rejects, cancels and fills; says when it must stop."""

    def __init__(self, limits: BreakerLimits) -> None:
        self.limits = limits
        self.sent: deque[tuple[float, tuple[object, ...]]] = deque()
        """ (time, terms) of the orders of the last minute """
        self.rejects = 0
        self.cancels = 0
        self.fills = 0
        self.tripped = ""
        """ the limit breached ("" while none is) """

    def order(self, intent: OrderIntent, now: float) -> str:
        """Count an order about to go to the gate; the breach it makes ("" for none). Once
        tripped, every later order is refused with the same reason."""
        if self.tripped:
            return self.tripped
        lim, sent = self.limits, self.sent
        while sent and now - sent[0][0] > 60.0:
            sent.popleft()
        terms = _terms(intent)
        if lim.duplicate_ms and any(
            t == terms and (now - when) * 1000.0 <= lim.duplicate_ms for when, t in sent
        ):
            return self._trip(
                f"the same order twice within {lim.duplicate_ms:g} ms "
                f"({intent.side.value} {intent.qty:g} {intent.instrument.display})"
            )
        in_second = sum(1 for when, _ in sent if now - when < 1.0)
        if lim.orders_per_second and in_second >= lim.orders_per_second:
            return self._trip(f"more than {lim.orders_per_second} orders in a second")
        if lim.orders_per_minute and len(sent) >= lim.orders_per_minute:
            return self._trip(f"more than {lim.orders_per_minute} orders in a minute")
        sent.append((now, terms))
        return ""

    def rejected(self) -> str:
        """The broker rejected one of its orders."""
        self.rejects += 1
        lim = self.limits.rejects_in_a_row
        if lim and self.rejects >= lim and not self.tripped:
            return self._trip(f"{self.rejects} orders rejected in a row")
        return self.tripped

    def accepted(self) -> None:
        """The broker took one of its orders: the rejects in a row start again."""
        self.rejects = 0

    def cancelled(self) -> str:
        """It cancelled one of its orders."""
        self.cancels += 1
        ratio = self.limits.cancels_per_fill
        if (
            ratio
            and self.cancels >= _MIN_CANCELS
            and self.cancels > ratio * max(self.fills, 1)
            and not self.tripped
        ):
            return self._trip(
                f"{self.cancels} cancels for {self.fills} fills (more than {ratio:g} per fill)"
            )
        return self.tripped

    def filled(self) -> None:
        """One of its orders filled."""
        self.fills += 1

    def reset(self) -> None:
        """A person started the strategy again: a clean slate."""
        self.sent.clear()
        self.rejects = self.cancels = self.fills = 0
        self.tripped = ""

    def _trip(self, why: str) -> str:
        self.tripped = f"runaway breaker: {why}"
        return self.tripped
