"""Instruments as ibdesk knows them, and the symbols a trader types to find them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum


class SecType(StrEnum):
    """The security types ibdesk trades."""

    FUTURE = "FUT"
    STOCK = "STK"
    FOREX = "CASH"
    CONTINUOUS_FUTURE = "CONTFUT"


#: Futures roots ibdesk knows by heart: the exchange a bare root resolves on.
FUTURE_EXCHANGES = {
    "ES": "CME",
    "MES": "CME",
    "NQ": "CME",
    "MNQ": "CME",
    "RTY": "CME",
    "M2K": "CME",
    "YM": "CBOT",
    "MYM": "CBOT",
    "ZN": "CBOT",
    "ZB": "CBOT",
    "ZF": "CBOT",
    "CL": "NYMEX",
    "MCL": "NYMEX",
    "NG": "NYMEX",
    "GC": "COMEX",
    "MGC": "COMEX",
    "SI": "COMEX",
    "HG": "COMEX",
    "6E": "CME",
    "M6E": "CME",
}
MONTH_CODES = "FGHJKMNQUVXZ"


def tick_decimals(min_tick: float) -> int:
    """Decimals that show every price on a tick grid: 0.25 -> 2, 0.1 -> 2, 5e-05 -> 5; at
    least 2 below a whole tick (prices read as money), none for whole ticks."""
    for decimals in range(9):
        if abs(round(min_tick, decimals) - min_tick) < 1e-12:
            return max(decimals, 2 if min_tick < 1 else 0)
    return 8


@dataclass(frozen=True, slots=True)
class Instrument:
    """A qualified contract: what the broker confirmed, with what trading needs to know.

    ``multiplier`` is money per point per unit (1 for stocks and FX); ``min_tick`` the price
    grid. ``expiry`` is ``YYYYMMDD`` for futures and empty otherwise.
    """

    con_id: int
    symbol: str
    sec_type: SecType
    exchange: str
    currency: str
    local_symbol: str
    multiplier: float = 1.0
    min_tick: float = 0.01
    expiry: str = ""
    trading_class: str = ""
    primary_exchange: str = ""
    long_name: str = ""
    liquid_hours: str = ""
    """ IB's regular-hours string: ``20261123:0830-20261123:1500;20261128:CLOSED`` """
    time_zone: str = ""
    """ the exchange's time zone as IB names it (``US/Central``) """

    @property
    def display(self) -> str:
        """How a trader names it: ``ESZ6``, ``AAPL``, ``EUR.USD``."""
        return self.local_symbol or self.symbol

    @property
    def expiry_date(self) -> dt.date | None:
        """The last trading day of a future."""
        if len(self.expiry) >= 8:
            return dt.date(int(self.expiry[:4]), int(self.expiry[4:6]), int(self.expiry[6:8]))
        return None

    def days_to_expiry(self, today: dt.date) -> int | None:
        """Calendar days until the last trading day (None when it does not expire)."""
        expiry = self.expiry_date
        return None if expiry is None else (expiry - today).days

    @property
    def tick_value(self) -> float:
        """Money per tick per unit of quantity (ES: 12.50)."""
        return self.min_tick * self.multiplier

    @property
    def price_decimals(self) -> int:
        """Decimals that show every price on its grid (ES 2, CL 2, 6E 5, a 5-point tick 0)."""
        return tick_decimals(self.min_tick)

    def round_to_tick(self, price: float) -> float:
        """The nearest price on the grid."""
        return round(round(price / self.min_tick) * self.min_tick, 10)

    def on_tick(self, price: float) -> bool:
        """Whether a price lies on the grid."""
        return abs(price / self.min_tick - round(price / self.min_tick)) < 1e-6


class SymbolKind(StrEnum):
    """What a typed symbol asks for."""

    STOCK = "stock"
    FUTURE_ROOT = "future root"  # ES: the front month
    FUTURE_LOCAL = "future local symbol"  # ESZ6: that expiry
    FOREX = "forex"


@dataclass(frozen=True, slots=True)
class SymbolQuery:
    """A parsed watchlist or ticket entry, ready for the broker to resolve."""

    text: str
    kind: SymbolKind
    symbol: str
    exchange: str
    currency: str = "USD"
    local_symbol: str = ""


class SymbolError(ValueError):
    """Text that cannot be a symbol; the message says why, for the trader."""


_STOCK = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_FOREX = re.compile(r"^([A-Z]{3})[./]([A-Z]{3})$")
_LOCAL_FUTURE = re.compile(rf"^([A-Z0-9]{{1,4}}?)([{MONTH_CODES}])(\d{{1,2}})$")


def parse_symbol(text: str) -> SymbolQuery:
    """Parse what a trader typed: ``AAPL``, ``ES`` (front month), ``ESZ6``, ``EUR.USD``.

    Raises:
        SymbolError: with a message that says what was wrong.
    """
    cleaned = text.strip().upper().replace(" ", "")
    if not cleaned:
        raise SymbolError("Type a symbol: AAPL, ES (front month), ESZ6 or EUR.USD.")
    fx = _FOREX.match(cleaned)
    if fx:
        if fx.group(1) == fx.group(2):
            raise SymbolError(f"{text.strip()!r}: a currency pair needs two currencies.")
        return SymbolQuery(
            cleaned,
            SymbolKind.FOREX,
            fx.group(1),
            "IDEALPRO",
            fx.group(2),
            f"{fx.group(1)}.{fx.group(2)}",
        )
    if cleaned in FUTURE_EXCHANGES:
        return SymbolQuery(cleaned, SymbolKind.FUTURE_ROOT, cleaned, FUTURE_EXCHANGES[cleaned])
    local = _LOCAL_FUTURE.match(cleaned)
    if local and local.group(1) in FUTURE_EXCHANGES:
        root = local.group(1)
        return SymbolQuery(
            cleaned, SymbolKind.FUTURE_LOCAL, root, FUTURE_EXCHANGES[root], local_symbol=cleaned
        )
    if _STOCK.match(cleaned):
        return SymbolQuery(cleaned, SymbolKind.STOCK, cleaned, "SMART")
    raise SymbolError(
        f"{text.strip()!r} is not a symbol ibdesk understands: try AAPL, ES, ESZ6 or EUR.USD."
    )
