"""How much of each risk limit is in use, for the Risk panel ("ES position 3 / 5")."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ibdesk.config import RiskSettings
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.risk import TradingState
from ibdesk.trading.checks import MINUTE, limit_for
from ibdesk.trading.context import CheckContext


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


_KIND_NAMES = {"*FUT": "futures", "*STK": "stocks", "*CASH": "FX", "*CONTFUT": "futures"}


def _table(limits: Mapping[str, float]) -> str:
    """A per-root table in words: ``ES 5, futures 10, stocks 1,000, others 10``."""
    if not any(v > 0 for v in limits.values()):
        return "off"

    kinds = list(_KIND_NAMES)

    def order(key: str) -> tuple[int, int, str]:
        if key == "*":
            return (2, 0, key)
        return (1, kinds.index(key), key) if key in kinds else (0, 0, key)

    return ", ".join(
        f"{_KIND_NAMES.get(k, 'others' if k == '*' else k)} {_amount(v)}"
        for k, v in sorted(limits.items(), key=lambda kv: order(kv[0]))
    )


def _amount(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,g}"


def _ratio(used: float, limit: float) -> float:
    return used / limit if limit else math.nan


def positions_by_root(
    positions: Iterable[PositionSnapshot], account: str
) -> dict[str, tuple[Instrument, float]]:
    """An account's positions summed by symbol root (every ES expiry together), each with
    one of its instruments: what the per-root position limits are measured on."""
    by_root: dict[str, tuple[Instrument, float]] = {}
    for pos in positions:
        if pos.account == account:
            root = pos.instrument.symbol
            held = by_root.get(root, (pos.instrument, 0.0))[1]
            by_root[root] = (pos.instrument, held + pos.qty)
    return by_root


def usage(
    risk: RiskSettings,
    ctx: CheckContext,
    account: str,
    positions: Mapping[str, tuple[Instrument, float]],
) -> list[Usage]:
    """Every limit and its current use.

    Args:
        risk: the configured limits.
        ctx: the gate's view (working orders, recent orders, daily P&L, state).
        account: the account traded.
        positions: by symbol root, an instrument of that root and the signed position.
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
    for root, (inst, qty) in sorted(positions.items()):
        limit = limit_for(risk.max_position, inst)
        rows.append(
            Usage(
                f"position:{root}",
                f"{root} position",
                f"{_amount(qty)} / {_amount(limit)}" if limit else f"{_amount(qty)} (no limit)",
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
    rows += [
        Usage("order_qty", "Max order quantity", _table(risk.max_order_qty)),
        Usage("max_position", "Max position", _table(risk.max_position)),
        Usage(
            "rate",
            "Max orders per minute",
            f"{risk.max_orders_per_minute} per source" if risk.max_orders_per_minute else "off",
        ),
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
        Usage(
            "watchdog",
            "Watchdog stall halt",
            f"{risk.watchdog_halt_after:g} s" if risk.watchdog_halt_after else "off",
        ),
    ]
    if not risk.daily_loss_limit:
        rows.append(Usage("daily_loss", "Daily loss limit", "off"))
    return rows
