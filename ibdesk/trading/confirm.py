"""When an order needs the trader's confirmation before it is sent, and why.

The ticket, the chart's drag-to-modify and its context menu share this one rule:
confirmation is on for LIVE accounts and off for paper by default (configurable: ``live``,
``always``, ``never``), and always on for a fat-finger order whatever the setting: a quantity
or notional at or above a fraction of the risk limits, or a price far from the market.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ibdesk.config import RiskSettings, TicketSettings
from ibdesk.domain.account import is_paper_account
from ibdesk.domain.orders import OrderIntent, OrderType
from ibdesk.trading.checks import limit_for

CONFIRM_MODES = ("live", "always", "never")


@dataclass(frozen=True, slots=True)
class ConfirmPolicy:
    """The confirmation rule (from ``[ticket]`` in the config and ``[risk]`` limits)."""

    mode: str = "live"
    """ ``live``: confirm on LIVE accounts only; ``always``; ``never`` (fat fingers still) """
    fat_finger_fraction: float = 0.8
    """ confirm at or above this fraction of the order-size limits (0: off) """
    fat_finger_ticks: float = 50.0
    """ confirm a price farther than this many ticks from the market (0: off) """
    max_order_qty: Mapping[str, float] | None = None
    max_order_notional: float = 0.0

    @classmethod
    def from_settings(cls, risk: RiskSettings, ticket: TicketSettings) -> ConfirmPolicy:
        """The rule as the config sets it."""
        return cls(
            ticket.confirm,
            ticket.fat_finger_fraction,
            ticket.fat_finger_ticks,
            risk.max_order_qty,
            risk.max_order_notional,
        )


def fat_finger_reasons(intent: OrderIntent, market: float, policy: ConfirmPolicy) -> list[str]:
    """What makes an order big or far enough to confirm whatever the mode."""
    reasons: list[str] = []
    inst = intent.instrument
    fraction = policy.fat_finger_fraction
    if fraction > 0 and policy.max_order_qty:
        limit = limit_for(policy.max_order_qty, inst)
        if limit > 0 and intent.qty >= fraction * limit:
            reasons.append(
                f"Quantity {intent.qty:g} is {intent.qty / limit:.0%} of the "
                f"{limit:g} order limit for {inst.symbol}."
            )
    price = _reference_price(intent, market)
    if fraction > 0 and policy.max_order_notional > 0 and math.isfinite(price):
        notional = abs(intent.qty * price * inst.multiplier)
        if notional >= fraction * policy.max_order_notional:
            reasons.append(
                f"Notional ${notional:,.0f} is {notional / policy.max_order_notional:.0%} of "
                f"the ${policy.max_order_notional:,.0f} limit."
            )
    if (
        policy.fat_finger_ticks > 0
        and math.isfinite(market)
        and intent.order_type is not (OrderType.TRAIL)
    ):
        for label, p in (("Limit", intent.limit_price), ("Stop", intent.stop_price)):
            if p is None:
                continue
            ticks = abs(p - market) / inst.min_tick
            if ticks > policy.fat_finger_ticks + 1e-9:
                reasons.append(f"{label} {p:g} is {ticks:,.0f} ticks from the market {market:g}.")
    return reasons


def reasons_to_confirm(
    intent: OrderIntent, *, account: str, market: float, policy: ConfirmPolicy
) -> list[str]:
    """Why this order needs a confirmation (empty: send it without asking).

    ``market`` is the last (or mid) price, NaN when unknown.
    """
    reasons = fat_finger_reasons(intent, market, policy)
    if policy.mode == "always":
        reasons.insert(0, 'Confirmation is on for every order ([ticket] confirm = "always").')
    elif policy.mode == "live" and account and not is_paper_account(account):
        reasons.insert(0, f"{account} is a LIVE account: real money.")
    return reasons


def _reference_price(intent: OrderIntent, market: float) -> float:
    for p in (intent.limit_price, intent.stop_price):
        if p is not None and intent.order_type is not OrderType.TRAIL:
            return p
    return market
