"""How much of each risk limit is in use, for the Risk panel ("ES position 3 / 5")."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ibdesk.config import RiskSettings
from ibdesk.domain.risk import TradingState
from ibdesk.trading.checks import MINUTE
from ibdesk.trading.gate import CheckContext


@dataclass(frozen=True, slots=True)
class Usage:
    """One line of the Risk panel.

    ``fraction`` is use over limit (NaN when the line has no use, only a setting); the panel
    shades lines at 80% and over.
    """

    key: str
    name: str
    text: str
    fraction: float = math.nan


def _limit(table: Mapping[str, float], root: str) -> float:
    return float(table.get(root, table.get("*", 0.0)))


def _ratio(used: float, limit: float) -> float:
    return used / limit if limit else math.nan


def usage(
    risk: RiskSettings, ctx: CheckContext, account: str, positions: dict[str, float]
) -> list[Usage]:
    """Every limit and its current use.

    Args:
        risk: the configured limits.
        ctx: the gate's view (working orders, recent orders, daily P&L, state).
        account: the account traded.
        positions: signed position by symbol root.
    """
    rows = [
        Usage(
            "state",
            "Trading state",
            ctx.state.value,
            1.0 if ctx.state is TradingState.HALTED else math.nan,
        )
    ]
    if risk.daily_loss_limit:
        pnl = ctx.daily_pnl
        text = (
            f"{pnl:,.2f} / -{risk.daily_loss_limit:,.2f}"
            if not math.isnan(pnl)
            else f"unknown / -{risk.daily_loss_limit:,.2f}"
        )
        if ctx.loss_limit_waived:
            text += " (waived by re-arm until the next session)"
        rows.append(
            Usage(
                "daily_loss",
                "Daily P&L",
                text,
                _ratio(max(0.0, -pnl), risk.daily_loss_limit) if not math.isnan(pnl) else math.nan,
            )
        )
    working = len(ctx.working)
    rows.append(
        Usage(
            "open_orders",
            "Open orders",
            f"{working} / {risk.max_open_orders}"
            if risk.max_open_orders
            else f"{working} (no limit)",
            _ratio(working, risk.max_open_orders),
        )
    )
    per_source = Counter(source for t, source, _ in ctx.recent if ctx.now - t < MINUTE)
    for source, count in sorted(per_source.items()):
        rows.append(
            Usage(
                f"rate:{source}",
                f"Orders per minute ({source})",
                f"{count} / {risk.max_orders_per_minute}",
                _ratio(count, risk.max_orders_per_minute),
            )
        )
    for root, qty in sorted(positions.items()):
        limit = _limit(risk.max_position, root)
        rows.append(
            Usage(
                f"position:{root}",
                f"{root} position",
                f"{qty:g} / {limit:g}" if limit else f"{qty:g} (no limit)",
                _ratio(abs(qty), limit),
            )
        )
    collar = (
        f"{risk.collar_ticks:g} ticks"
        if risk.collar_ticks
        else f"{risk.collar_pct:g}%"
        if risk.collar_pct
        else "off"
    )
    order_qty = ", ".join(f"{k} {v:g}" for k, v in sorted(dict(risk.max_order_qty).items()))
    rows += [
        Usage("order_qty", "Max order quantity", order_qty),
        Usage(
            "notional",
            "Max order notional",
            f"{risk.max_order_notional:,.0f}" if risk.max_order_notional else "off",
        ),
        Usage("collar", "Price collar", collar),
        Usage(
            "duplicate",
            "Duplicate guard",
            f"{risk.duplicate_window_ms:g} ms" if risk.duplicate_window_ms else "off",
        ),
        Usage("hours", "Trading hours only", "on" if risk.trading_hours_only else "off"),
    ]
    return rows
