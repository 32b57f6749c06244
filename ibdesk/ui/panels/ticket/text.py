"""The ticket's words and figures, without Qt: what an order, a what-if or a contract says."""

from __future__ import annotations

import datetime as dt
import math

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import BracketIntent, OrderIntent
from ibdesk.domain.ticket import WhatIf
from ibdesk.trading.checks import price_text
from ibdesk.trading.ticket import TicketFigures


def money(value: float, decimals: int = 0, signed: bool = True) -> str:
    """``+$25,000`` (a change) or ``$0.85`` (an amount); ``n/a`` when unknown."""
    if not math.isfinite(value):
        return "n/a"
    sign = "\u2212" if value < 0 else "+" if value > 0 and signed else ""
    return f"{sign}${abs(value):,.{decimals}f}"


def order_summary(intent: OrderIntent | BracketIntent, figures: TicketFigures | None) -> str:
    """``BUY 1 ESZ6 LMT 6800.00, TP 6802.00, SL 6798.50 (risk $75.00, reward $100.00)``; a
    trailing stop-loss says how far it trails: ``SL 6798.50 trailing 1.00``."""
    entry = intent.entry if isinstance(intent, BracketIntent) else intent
    inst = entry.instrument
    price = entry.limit_price if entry.limit_price is not None else entry.stop_price
    text = f"{entry.side.value} {entry.qty:g} {inst.display} {entry.order_type.value}"
    if price is not None:
        text += f" {price_text(inst, price)}"
    if isinstance(intent, BracketIntent):
        text += (
            f", TP {price_text(inst, intent.take_profit)}, SL {price_text(inst, intent.stop_loss)}"
        )
        trail = intent.trail
        if trail is not None:
            by = f"{trail.percent:g}%" if trail.percent is not None else None
            text += f" trailing {by or price_text(inst, trail.amount or 0.0)}"
        if figures is not None and math.isfinite(figures.risk):
            text += f" (risk ${figures.risk:,.2f}, reward ${figures.reward:,.2f})"
    return text


def what_if_text(w: WhatIf) -> str:
    """IB's what-if answer in a line: the margin, and the commission of each side it asked
    (``$0.85 entry + $0.85 exit at the stop = $1.70`` for a bracket; one figure for an
    order, which is one side)."""
    commission = money(w.commission, 2, False)
    if w.exit_commission is not None:
        commission += (
            f" entry + {money(w.exit_commission, 2, False)} exit at the stop"
            f" = {money(w.total_commission, 2, False)}"
        )
    text = (
        f"What-if: initial margin {money(w.init_margin_change)}, maintenance "
        f"{money(w.maint_margin_change)}; commission {commission}"
    )
    return text + (f"; IB warns: {w.warning}" if w.warning else "")


def contract_line(inst: Instrument, today: dt.date) -> tuple[str, int | None]:
    """``ESZ6 · CME · tick 0.25 x 50 · expires 18 Dec 2026 (15 days)`` and the days left
    (None for what does not expire)."""
    text = f"{inst.display} · {inst.exchange} · tick {inst.min_tick:g} \u00d7 {inst.multiplier:g}"
    expiry = inst.expiry_date
    if expiry is None:
        return text, None
    days = (expiry - today).days
    return text + f" · expires {expiry:%d %b %Y} ({days} days)", days
