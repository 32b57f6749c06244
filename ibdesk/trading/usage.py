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


def _table_lines(key: str, name: str, limits: Mapping[str, float]) -> list[Usage]:
    """A per-root table as one line per entry (``Max position, ES``: ``5``), roots first,
    then the security-type defaults, ``*`` last; one ``off`` line when no entry is on.

    One line each, not one ``ES 5, futures 10, stocks 1,000, …`` cell: that cell was cut
    short ("oth…") in any panel narrower than the whole table.
    """
    if not any(v > 0 for v in limits.values()):
        return [Usage(key, name, "off")]
    kinds = list(_KIND_NAMES)

    def order(item: tuple[str, float]) -> tuple[int, int, str]:
        k = item[0]
        if k == "*":
            return (2, 0, k)
        return (1, kinds.index(k), k) if k in kinds else (0, 0, k)

    return [
        Usage(
            f"{key}:{k}",
            f"{name}, {_KIND_NAMES.get(k, 'others' if k == '*' else k)}",
            _amount(v) if v > 0 else "off",
        )
        for k, v in sorted(limits.items(), key=order)
    ]


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
    """Every limit the gate enforces and its current use: the running ones (daily loss, open
    orders, orders per minute, positions) as "used / limit", the per-order ones (quantity,
    notional, collar, duplicates, hours) as their setting, one short line each.

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
        ),
        _daily_loss(risk, ctx),
    ]
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
    rows += _per_minute(risk, ctx)
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
    return rows + _per_order(risk)


def _daily_loss(risk: RiskSettings, ctx: CheckContext) -> Usage:
    if not risk.daily_loss_limit:
        return Usage("daily_loss", "Daily loss limit", "off")
    pnl = ctx.daily_pnl
    known = not math.isnan(pnl)
    text = f"{pnl:,.2f}" if known else "unknown"
    text += f" / -{risk.daily_loss_limit:,.2f}"
    if ctx.loss_limit_waived:
        text += " (waived by re-arm until the next session)"
    fraction = _ratio(max(0.0, -pnl), risk.daily_loss_limit) if known else math.nan
    return Usage("daily_loss", "Daily P&L", text, fraction)


def _per_minute(risk: RiskSettings, ctx: CheckContext) -> list[Usage]:
    """Orders in the last minute, per source (the limit is per source), as the check counts
    them; one line at 0 before any source has sent, so the limit's use always shows."""
    limit = risk.max_orders_per_minute
    per_source = Counter(source for t, source, _ in ctx.recent if ctx.now - t < MINUTE)
    counts = sorted(per_source.items()) or [("", 0)]

    def text(count: int) -> str:
        return f"{count} / {limit} per minute" if limit else f"{count} per minute (no limit)"

    return [
        Usage(
            f"rate:{source}" if source else "rate",
            # A space after the colon lets a long strategy name wrap in a narrow panel.
            f"Orders per minute, {source.replace(':', ': ')}" if source else "Orders per minute",
            text(count),
            _ratio(count, limit),
        )
        for source, count in counts
    ]


def _per_order(risk: RiskSettings) -> list[Usage]:
    """The limits each order meets on its own: no running use, so their settings."""
    collar = (
        f"{risk.collar_ticks:g} ticks"
        if risk.collar_ticks
        else f"{risk.collar_pct:g}%"
        if risk.collar_pct
        else "off"
    )
    return [
        *_table_lines("order_qty", "Max order quantity", risk.max_order_qty),
        *_table_lines("max_position", "Max position", risk.max_position),
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
