"""Simulated accounts: cash, positions, margin, P&L and commissions, consistent with fills.

Average costs follow IB's convention: per unit of quantity, including the multiplier and the
opening commission (an ES long at 6800.25 shows 340012.5 + 0.85; a short at the same price
shows 340012.5 - 0.85, its proceeds net of the fee).
Daily P&L is measured from the start of the session: the change in market value plus the
cash flow of the day's trades, minus the day's commissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ibdesk.simtws.catalog import Instrument

FUTURE_COMMISSION = 0.85
STOCK_COMMISSION_PER_SHARE = 0.005
STOCK_COMMISSION_MIN = 1.0
STOCK_COMMISSION_MAX_PCT = 0.01
FX_COMMISSION_RATE = 0.00002
FX_COMMISSION_MIN = 2.0
#: Regulation T initial margin on stock positions.
REG_T_RATE = 0.5


def commission(inst: Instrument, qty: float, price: float) -> float:
    """IB's fixed-rate commission for one fill."""
    qty = abs(qty)
    if inst.sec_type == "FUT":
        return round(FUTURE_COMMISSION * qty, 2)
    if inst.sec_type == "STK":
        fee = max(STOCK_COMMISSION_MIN, STOCK_COMMISSION_PER_SHARE * qty)
        return round(min(fee, STOCK_COMMISSION_MAX_PCT * qty * price) if qty * price else fee, 2)
    return round(max(FX_COMMISSION_MIN, FX_COMMISSION_RATE * qty * price), 2)


def margin(inst: Instrument, qty: float, price: float, maintenance: bool = False) -> float:
    """Margin required for holding ``qty`` (signed) at ``price``."""
    rate = inst.maint_margin if maintenance else inst.init_margin
    if inst.sec_type == "FUT":
        return abs(qty) * rate
    return abs(qty) * price * rate


@dataclass(slots=True)
class Position:
    """One holding. ``avg_cost`` is per unit, multiplier and opening commission included."""

    inst: Instrument
    qty: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0
    sod_value: float = 0.0
    cashflow_today: float = 0.0
    fees_today: float = 0.0

    def daily_pnl(self, price: float) -> float:
        """Today's P&L of this holding at ``price`` (see the module docstring)."""
        mv = self.qty * price * self.inst.price_multiplier
        return mv - self.sod_value + self.cashflow_today - self.fees_today


@dataclass(slots=True)
class FillOutcome:
    """What a fill did to an account."""

    realized: float
    commission: float


@dataclass(slots=True)
class Account:
    """A paper-style account (``DU…``) holding USD cash and positions."""

    code: str
    cash: float = 1_000_000.0
    positions: dict[int, Position] = field(default_factory=dict)
    realized_today: float = 0.0
    commissions_today: float = 0.0
    cashflow_today: float = 0.0

    def position(self, con_id: int) -> Position | None:
        """The position in an instrument, if any is held (or was, today)."""
        return self.positions.get(con_id)

    def apply_fill(self, inst: Instrument, signed_qty: float, price: float) -> FillOutcome:
        """Book a fill: cash, average cost and realized P&L. Returns realized and commission."""
        fee = commission(inst, signed_qty, price)
        mult = inst.price_multiplier
        pos = self.positions.get(inst.con_id)
        if pos is None:
            pos = self.positions[inst.con_id] = Position(inst)
        realized = 0.0
        # The fee raises a long's cost and lowers a short's proceeds.
        fee_side = fee if signed_qty > 0 else -fee
        if pos.qty == 0 or (pos.qty > 0) == (signed_qty > 0):
            total = abs(pos.qty) * pos.avg_cost + abs(signed_qty) * price * mult + fee_side
            pos.qty += signed_qty
            pos.avg_cost = total / abs(pos.qty)
        else:
            closing = min(abs(signed_qty), abs(pos.qty))
            direction = 1.0 if pos.qty > 0 else -1.0
            remainder = abs(signed_qty) - closing
            closing_fee = fee * closing / abs(signed_qty)
            realized = direction * closing * (price * mult - pos.avg_cost) - closing_fee
            pos.qty += signed_qty
            if remainder > 1e-9:
                pos.avg_cost = price * mult + fee_side / abs(signed_qty)
            elif abs(pos.qty) < 1e-9:
                pos.qty = 0.0
        pos.realized += realized
        self.realized_today += realized
        self.commissions_today += fee
        flow = -signed_qty * price * mult
        self.cashflow_today += flow
        pos.cashflow_today += flow
        pos.fees_today += fee
        if inst.sec_type == "FUT":
            # Futures do not move cash on a trade; realized P&L and fees settle into it.
            self.cash += realized
        else:
            self.cash += flow - fee
        return FillOutcome(realized, fee)

    # ---- valuation --------------------------------------------------------------------------

    def market_value(self, pos: Position, price: float) -> float:
        """What the position is worth at ``price`` (notional, for futures too)."""
        return pos.qty * price * pos.inst.price_multiplier

    def unrealized(self, pos: Position, price: float) -> float:
        """Open P&L of a position at ``price``."""
        if not pos.qty:
            return 0.0
        return pos.qty * price * pos.inst.price_multiplier - pos.qty * pos.avg_cost

    def summary(self, prices: dict[int, float]) -> dict[str, float]:
        """Account values at the given prices (conId -> mark), under IB's tag names.

        The figures hang together as IB's do: available funds and excess liquidity are
        equity with loan value less initial and maintenance margin; the "Full" and
        "LookAhead" variants equal the current ones (the simulator has no intraday margin
        discounts and no scheduled margin change); Regulation T margin is half the stock
        value; leverage is the gross position value over net liquidation.
        """
        stock_value = stock_gross = unrealized = init = maint = gross = daily = 0.0
        futures_open = 0.0
        for pos in self.positions.values():
            price = prices.get(pos.inst.con_id, 0.0)
            mv = self.market_value(pos, price)
            open_pnl = self.unrealized(pos, price)
            unrealized += open_pnl
            if pos.inst.sec_type == "FUT":
                futures_open += open_pnl
            else:
                stock_value += mv
                stock_gross += abs(mv)
            gross += abs(mv)
            init += margin(pos.inst, pos.qty, price)
            maint += margin(pos.inst, pos.qty, price, maintenance=True)
            daily += pos.daily_pnl(price)
        net_liq = self.cash + stock_value + futures_open
        reg_t_margin = stock_gross * REG_T_RATE
        available = net_liq - init
        excess = net_liq - maint
        values = {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,
            "AccruedCash": 0.0,
            "EquityWithLoanValue": net_liq,
            "PreviousDayEquityWithLoanValue": net_liq - daily,
            "GrossPositionValue": gross,
            "RegTEquity": net_liq,
            "RegTMargin": reg_t_margin,
            "SMA": max(0.0, net_liq - reg_t_margin),
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "AvailableFunds": available,
            "ExcessLiquidity": excess,
            "BuyingPower": max(0.0, available * 4),
            "Cushion": excess / net_liq if net_liq else 0.0,
            "Leverage": gross / net_liq if net_liq else 0.0,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_today,
            "DailyPnL": daily,
        }
        for prefix in ("Full", "LookAhead"):
            for tag in ("InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity"):
                values[prefix + tag] = values[tag]
        return values

    def new_day(self, prices: dict[int, float]) -> None:
        """Start a new trading day: today's P&L and flows start from zero at these marks."""
        for pos in self.positions.values():
            pos.sod_value = self.market_value(pos, prices.get(pos.inst.con_id, 0.0))
            pos.realized = pos.cashflow_today = pos.fees_today = 0.0
        self.positions = {k: p for k, p in self.positions.items() if p.qty}
        self.realized_today = self.commissions_today = self.cashflow_today = 0.0
