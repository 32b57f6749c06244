"""Market data snapshots."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and the day's figures for one instrument, as of ``time`` (epoch s).

    Prices are NaN when the broker has none. ``close`` is the prior session's close.
    """

    con_id: int
    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan
    bid_size: float = math.nan
    ask_size: float = math.nan
    last_size: float = math.nan
    volume: float = math.nan
    close: float = math.nan
    high: float = math.nan
    low: float = math.nan
    time: float = 0.0

    @property
    def change(self) -> float:
        """Last minus the prior close."""
        return self.last - self.close

    @property
    def change_pct(self) -> float:
        """Change in percent of the prior close."""
        return 100.0 * self.change / self.close if self.close else math.nan

    @property
    def mid(self) -> float:
        """Midpoint of bid and ask."""
        return (self.bid + self.ask) / 2
