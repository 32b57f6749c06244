"""Account, position and P&L snapshots."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ibdesk.domain.instruments import Instrument


def is_paper_account(account: str) -> bool:
    """IB paper accounts start with ``D`` (DU…, DF…); every other account is LIVE."""
    return account.startswith("D")


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The figures a trader watches for one account (NaN until the broker says)."""

    account: str
    net_liquidation: float = math.nan
    available_funds: float = math.nan
    excess_liquidity: float = math.nan
    init_margin: float = math.nan
    maint_margin: float = math.nan
    buying_power: float = math.nan
    cash: float = math.nan
    daily_pnl: float = math.nan
    unrealized_pnl: float = math.nan
    realized_pnl: float = math.nan

    @property
    def is_paper(self) -> bool:
        """Whether this is a paper-trading account."""
        return is_paper_account(self.account)


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One position with its valuation.

    ``avg_cost`` is IB's: per unit, multiplier and commission included; ``avg_price`` divides
    the multiplier back out.
    """

    account: str
    instrument: Instrument
    qty: float
    avg_cost: float
    market_price: float = math.nan
    market_value: float = math.nan
    unrealized_pnl: float = math.nan
    realized_pnl: float = math.nan
    daily_pnl: float = math.nan

    @property
    def key(self) -> tuple[str, int]:
        """(account, conId): positions are unique per account and contract."""
        return self.account, self.instrument.con_id

    @property
    def avg_price(self) -> float:
        """Average price in points."""
        return (
            self.avg_cost / self.instrument.multiplier
            if self.instrument.multiplier
            else self.avg_cost
        )
