"""The instruments the simulated TWS knows, and contract lookup.

Futures chains are generated from today's date so that a live front month always exists.
Specifications (multiplier, minimum tick, trading class, exchange, months, expiry rule) are
the real ones; margins are round figures of the right size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ibdesk.simtws import calendar as cal
from ibdesk.simtws.reference import FX_LISTED, STOCK_REFERENCE, isin_from_cusip

FUTURE_ORDER_TYPES = "ACTIVETIM,AD,ALERT,DAY,GTC,IOC,LIT,LMT,MIT,MKT,OCA,STP,STPLMT,TRAIL,WHATIF"
STOCK_ORDER_TYPES = (
    "ACTIVETIM,AD,ALERT,DAY,GTC,IOC,LIT,LMT,LOC,MIT,MKT,MOC,OCA,OPG,REL,STP,STPLMT,TRAIL,WHATIF"
)
STOCK_EXCHANGES = "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,ISLAND"
EXCHANGE_ALIASES = {"GLOBEX": "CME", "ECBOT": "CBOT"}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract with everything contractDetails reports about it.

    ``family`` names the price process it follows: ES and MES share one (they are the same
    index), and every expiry of a root adds a fixed ``basis`` to it.
    """

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    multiplier: float
    min_tick: float
    long_name: str
    session: cal.SessionRule
    family: str
    primary_exchange: str = ""
    expiry: str = ""
    last_trade_time: str = ""
    basis: float = 0.0
    valid_exchanges: str = ""
    order_types: str = FUTURE_ORDER_TYPES
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stock_type: str = ""
    market_rule_id: int = 0
    init_margin: float = 0.0
    maint_margin: float = 0.0
    min_size: float = 1.0
    size_increment: float = 1.0
    delivery_month: str = ""
    cusip: str = ""
    listed: str = ""

    @property
    def isin(self) -> str:
        """The ISIN of a stock (from its CUSIP), ``""`` for anything else."""
        return isin_from_cusip(self.cusip) if self.cusip else ""

    @property
    def contract_month(self) -> str:
        """``YYYYMM`` of the delivery month for futures, ``""`` otherwise.

        Not the expiry's month: CL for January delivery stops trading in December.
        """
        return self.delivery_month or self.expiry[:6]

    @property
    def multiplier_str(self) -> str:
        """The multiplier as contract fields carry it (``""`` for stocks and FX)."""
        if self.sec_type in ("STK", "CASH"):
            return ""
        m = self.multiplier
        return str(int(m)) if float(m).is_integer() else str(m)

    @property
    def price_multiplier(self) -> float:
        """Money per point per unit of quantity."""
        return self.multiplier if self.sec_type == "FUT" else 1.0

    def round_to_tick(self, price: float) -> float:
        """Nearest price on this contract's tick grid."""
        ticks = round(price / self.min_tick)
        return round(ticks * self.min_tick, 10)

    def on_tick(self, price: float) -> bool:
        """Whether ``price`` lies on the tick grid (to within float noise); never for inf."""
        ticks = price / self.min_tick
        return math.isfinite(ticks) and abs(ticks - round(ticks)) < 1e-6


@dataclass(frozen=True, slots=True)
class FutureRoot:
    """A futures root: its specification and how to generate its expiries."""

    symbol: str
    trading_class: str
    exchange: str
    multiplier: float
    min_tick: float
    months: tuple[int, ...]
    last_trade: Callable[[int, int], dt.date]
    last_trade_time: str
    long_name: str
    session: cal.SessionRule
    family: str
    listed: int
    init_margin: float
    maint_margin: float
    under_symbol: str
    under_sec_type: str
    under_con_id: int
    market_rule_id: int
    carry_per_month: float
    root_index: int


def _cl_last(year: int, month: int) -> dt.date:
    return cal.crude_last_trade(year, month)


def _mcl_last(year: int, month: int) -> dt.date:
    return cal.crude_last_trade(year, month, extra_days=1)


QUARTERS = (3, 6, 9, 12)
ALL_MONTHS = tuple(range(1, 13))
GOLD_MONTHS = (2, 4, 6, 8, 10, 12)

FUTURE_ROOTS: tuple[FutureRoot, ...] = (
    FutureRoot(
        "ES",
        "ES",
        "CME",
        50,
        0.25,
        QUARTERS,
        cal.third_friday,
        "08:30",
        "E-mini S&P 500",
        cal.GLOBEX_EQUITY,
        "SPX",
        5,
        25_000,
        22_700,
        "ES",
        "IND",
        11004968,
        67,
        0.0025,
        1,
    ),
    FutureRoot(
        "MES",
        "MES",
        "CME",
        5,
        0.25,
        QUARTERS,
        cal.third_friday,
        "08:30",
        "Micro E-Mini S&P 500 Stock Price Index",
        cal.GLOBEX_EQUITY,
        "SPX",
        5,
        2_500,
        2_270,
        "MES",
        "IND",
        362673777,
        67,
        0.0025,
        2,
    ),
    FutureRoot(
        "NQ",
        "NQ",
        "CME",
        20,
        0.25,
        QUARTERS,
        cal.third_friday,
        "08:30",
        "E-mini NASDAQ 100",
        cal.GLOBEX_EQUITY,
        "NDX",
        5,
        37_000,
        33_600,
        "NQ",
        "IND",
        11004958,
        67,
        0.0028,
        3,
    ),
    FutureRoot(
        "MNQ",
        "MNQ",
        "CME",
        2,
        0.25,
        QUARTERS,
        cal.third_friday,
        "08:30",
        "Micro E-Mini Nasdaq-100 Index",
        cal.GLOBEX_EQUITY,
        "NDX",
        5,
        3_700,
        3_360,
        "MNQ",
        "IND",
        362687422,
        67,
        0.0028,
        4,
    ),
    FutureRoot(
        "CL",
        "CL",
        "NYMEX",
        1000,
        0.01,
        ALL_MONTHS,
        _cl_last,
        "14:30",
        "Light Sweet Crude Oil",
        cal.NYMEX_ENERGY,
        "WTI",
        12,
        7_000,
        6_400,
        "CL",
        "IND",
        17340715,
        32,
        -0.004,
        5,
    ),
    FutureRoot(
        "MCL",
        "MCL",
        "NYMEX",
        100,
        0.01,
        ALL_MONTHS,
        _mcl_last,
        "14:30",
        "Micro WTI Crude Oil",
        cal.NYMEX_ENERGY,
        "WTI",
        12,
        700,
        640,
        "MCL",
        "IND",
        502090001,
        32,
        -0.004,
        6,
    ),
    FutureRoot(
        "GC",
        "GC",
        "COMEX",
        100,
        0.10,
        GOLD_MONTHS,
        cal.third_last_business_day,
        "13:30",
        "Gold",
        cal.COMEX_METALS,
        "GOLD",
        6,
        17_000,
        15_500,
        "GC",
        "IND",
        69067924,
        39,
        0.003,
        7,
    ),
    FutureRoot(
        "MGC",
        "MGC",
        "COMEX",
        10,
        0.10,
        GOLD_MONTHS,
        cal.third_last_business_day,
        "13:30",
        "E-Micro Gold",
        cal.COMEX_METALS,
        "GOLD",
        6,
        1_700,
        1_550,
        "MGC",
        "IND",
        79702479,
        39,
        0.003,
        8,
    ),
)

#: Where each price family starts, and how many ticks of its finest tick it moves per step.
FAMILY_START = {
    "SPX": 6800.0,
    "NDX": 25000.0,
    "WTI": 60.0,
    "GOLD": 4000.0,
    "AAPL": 270.0,
    "MSFT": 480.0,
    "NVDA": 180.0,
    "TSLA": 420.0,
    "SPY": 675.0,
    "QQQ": 610.0,
    "EURUSD": 1.16,
}


def _exchange_list(*names: str) -> str:
    """Comma-joined exchanges without repeats (an ARCA-listed ETF must not show ARCA twice)."""
    seen = dict.fromkeys(x for name in names for x in name.split(","))
    return ",".join(seen)


def _stock(
    con_id: int,
    symbol: str,
    primary: str,
    name: str,
    industry: str,
    category: str,
    stock_type: str = "COMMON",
) -> Instrument:
    return Instrument(
        con_id=con_id,
        symbol=symbol,
        sec_type="STK",
        exchange="SMART",
        currency="USD",
        local_symbol=symbol,
        trading_class="NMS" if primary == "NASDAQ" else symbol,
        multiplier=1,
        min_tick=0.01,
        long_name=name,
        session=cal.US_EQUITY,
        family=symbol,
        primary_exchange=primary,
        order_types=STOCK_ORDER_TYPES,
        valid_exchanges=_exchange_list(STOCK_EXCHANGES, primary, "IEX"),
        industry=industry,
        category=category,
        subcategory=category,
        stock_type=stock_type,
        market_rule_id=26,
        init_margin=0.5,
        maint_margin=0.25,
        cusip=STOCK_REFERENCE[symbol][0],
        listed=STOCK_REFERENCE[symbol][1],
    )


STOCKS: tuple[Instrument, ...] = (
    _stock(265598, "AAPL", "NASDAQ", "APPLE INC", "Technology", "Computers"),
    _stock(272093, "MSFT", "NASDAQ", "MICROSOFT CORP", "Technology", "Software"),
    _stock(4815747, "NVDA", "NASDAQ", "NVIDIA CORP", "Technology", "Semiconductors"),
    _stock(76792991, "TSLA", "NASDAQ", "TESLA INC", "Consumer, Cyclical", "Auto Manufacturers"),
    _stock(756733, "SPY", "ARCA", "SPDR S&P 500 ETF TRUST", "Funds", "Equity Fund", "ETF"),
    _stock(320227571, "QQQ", "NASDAQ", "INVESCO QQQ TRUST SERIES 1", "Funds", "Equity Fund", "ETF"),
)

#: More liquid US names, so a 100-line watchlist can be filled. Their conIds are synthetic
#: (900,000,000 and up), not IB's; prices are round starting points.
MORE_STOCKS: tuple[tuple[str, str, float, str], ...] = (
    ("AMZN", "NASDAQ", 230.0, "COMMON"),
    ("GOOGL", "NASDAQ", 280.0, "COMMON"),
    ("META", "NASDAQ", 640.0, "COMMON"),
    ("AMD", "NASDAQ", 240.0, "COMMON"),
    ("INTC", "NASDAQ", 38.0, "COMMON"),
    ("NFLX", "NASDAQ", 110.0, "COMMON"),
    ("AVGO", "NASDAQ", 350.0, "COMMON"),
    ("QCOM", "NASDAQ", 170.0, "COMMON"),
    ("CSCO", "NASDAQ", 72.0, "COMMON"),
    ("ADBE", "NASDAQ", 340.0, "COMMON"),
    ("COST", "NASDAQ", 910.0, "COMMON"),
    ("PEP", "NASDAQ", 150.0, "COMMON"),
    ("SBUX", "NASDAQ", 85.0, "COMMON"),
    ("TXN", "NASDAQ", 160.0, "COMMON"),
    ("JPM", "NYSE", 310.0, "COMMON"),
    ("BAC", "NYSE", 52.0, "COMMON"),
    ("GS", "NYSE", 790.0, "COMMON"),
    ("MS", "NYSE", 160.0, "COMMON"),
    ("V", "NYSE", 340.0, "COMMON"),
    ("MA", "NYSE", 560.0, "COMMON"),
    ("XOM", "NYSE", 117.0, "COMMON"),
    ("CVX", "NYSE", 155.0, "COMMON"),
    ("WMT", "NASDAQ", 105.0, "COMMON"),
    ("KO", "NYSE", 70.0, "COMMON"),
    ("DIS", "NYSE", 112.0, "COMMON"),
    ("BA", "NYSE", 200.0, "COMMON"),
    ("ORCL", "NYSE", 220.0, "COMMON"),
    ("CRM", "NYSE", 240.0, "COMMON"),
    ("IBM", "NYSE", 300.0, "COMMON"),
    ("UNH", "NYSE", 330.0, "COMMON"),
    ("JNJ", "NYSE", 190.0, "COMMON"),
    ("PFE", "NYSE", 25.0, "COMMON"),
    ("MRK", "NYSE", 90.0, "COMMON"),
    ("ABBV", "NYSE", 220.0, "COMMON"),
    ("T", "NYSE", 25.0, "COMMON"),
    ("VZ", "NYSE", 41.0, "COMMON"),
    ("NKE", "NYSE", 65.0, "COMMON"),
    ("MCD", "NYSE", 300.0, "COMMON"),
    ("HD", "NYSE", 360.0, "COMMON"),
    ("IWM", "ARCA", 240.0, "ETF"),
    ("DIA", "ARCA", 470.0, "ETF"),
    ("GLD", "ARCA", 370.0, "ETF"),
    ("TLT", "NASDAQ", 90.0, "ETF"),
    ("XLF", "ARCA", 53.0, "ETF"),
)
STOCKS = STOCKS + tuple(
    _stock(900_000_001 + n, symbol, primary, f"{symbol} (simulated)", "", "", kind)
    for n, (symbol, primary, _, kind) in enumerate(MORE_STOCKS)
)
FAMILY_START.update({symbol: price for symbol, _, price, _ in MORE_STOCKS})

EURUSD = Instrument(
    con_id=12087792,
    symbol="EUR",
    sec_type="CASH",
    exchange="IDEALPRO",
    currency="USD",
    local_symbol="EUR.USD",
    trading_class="EUR.USD",
    multiplier=1,
    min_tick=0.00005,
    long_name="European Monetary Union Euro",
    session=cal.IDEALPRO_FX,
    family="EURUSD",
    valid_exchanges="IDEALPRO",
    order_types="DAY,GTC,IOC,LIT,LMT,MIT,MKT,STP,STPLMT,TRAIL,WHATIF",
    market_rule_id=239,
    init_margin=0.03,
    maint_margin=0.03,
    min_size=1,
    size_increment=1,
    listed=FX_LISTED,
)


def expiries(root: FutureRoot, today: dt.date) -> list[tuple[int, int, dt.date]]:
    """The next ``root.listed`` (year, month, last trade date) not yet expired on ``today``."""
    out: list[tuple[int, int, dt.date]] = []
    year, month = today.year, today.month
    while len(out) < root.listed:
        if month in root.months:
            last = root.last_trade(year, month)
            if last >= today:
                out.append((year, month, last))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def listing_day(root: FutureRoot, last: dt.date) -> dt.date:
    """When an expiry was listed: as many cycle months before its last trading day as the
    root keeps listed (ES: five quarterly expiries, so about 15 months), on a weekday."""
    step = 12 // len(root.months) if len(root.months) in (1, 2, 3, 4, 6, 12) else 1
    months_back = root.listed * step
    year, month = divmod(last.year * 12 + last.month - 1 - months_back, 12)
    day = dt.date(year, month + 1, min(last.day, 28))
    while not cal.is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def future_chain(root: FutureRoot, today: dt.date) -> list[Instrument]:
    """Every listed expiry of ``root`` as an Instrument, nearest first."""
    chain = []
    for n, (year, month, last) in enumerate(expiries(root, today)):
        months_out = (year - today.year) * 12 + month - today.month
        basis = FAMILY_START[root.family] * root.carry_per_month * months_out
        chain.append(
            Instrument(
                con_id=600_000_000 + root.root_index * 100_000 + (year % 100) * 100 + month,
                symbol=root.symbol,
                sec_type="FUT",
                exchange=root.exchange,
                currency="USD",
                local_symbol=f"{root.symbol}{cal.month_code(month)}{year % 10}",
                trading_class=root.trading_class,
                multiplier=root.multiplier,
                min_tick=root.min_tick,
                long_name=root.long_name,
                session=root.session,
                family=root.family,
                expiry=f"{last:%Y%m%d}",
                delivery_month=f"{year}{month:02d}",
                last_trade_time=root.last_trade_time,
                basis=basis if n else 0.0,
                valid_exchanges=root.exchange,
                under_con_id=root.under_con_id,
                under_symbol=root.under_symbol,
                under_sec_type=root.under_sec_type,
                market_rule_id=root.market_rule_id,
                init_margin=root.init_margin,
                maint_margin=root.maint_margin,
                industry="",
                category="",
                subcategory="",
                listed=f"{listing_day(root, last):%Y%m%d}",
            )
        )
    return chain


@dataclass(slots=True)
class ContractQuery:
    """The 12-field contract block of a request, with IB's meaning of empty fields."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    @classmethod
    def from_fields(cls, f: list[str]) -> ContractQuery:
        """Build from the 12 wire fields (conId, symbol … tradingClass)."""
        return cls(
            int(f[0] or 0),
            f[1],
            f[2],
            f[3],
            float(f[4] or 0),
            f[5],
            f[6],
            f[7],
            f[8],
            f[9],
            f[10],
            f[11],
        )


@dataclass(slots=True)
class Catalog:
    """Every instrument by conId, with lookup that behaves like reqContractDetails."""

    today: dt.date
    instruments: dict[int, Instrument] = field(default_factory=dict)

    @classmethod
    def build(cls, today: dt.date) -> Catalog:
        """The standard catalog for ``today``: futures chains, stocks, EUR.USD."""
        catalog = cls(today)
        for root in FUTURE_ROOTS:
            catalog.add(future_chain(root, today))
        catalog.add(STOCKS)
        catalog.add([EURUSD])
        return catalog

    def add(self, items: Iterable[Instrument]) -> None:
        """Register instruments (replacing any with the same conId)."""
        for item in items:
            self.instruments[item.con_id] = item

    def get(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, if any."""
        return self.instruments.get(con_id)

    def front_month(self, symbol: str) -> Instrument | None:
        """The nearest unexpired future of a root (what CONTFUT resolves to)."""
        chain = sorted(
            (
                i
                for i in self.instruments.values()
                if i.sec_type == "FUT"
                and i.symbol == symbol.upper()
                and i.expiry >= f"{self.today:%Y%m%d}"
            ),
            key=lambda i: i.expiry,
        )
        return chain[0] if chain else None

    def lookup(self, q: ContractQuery) -> list[Instrument]:
        """Instruments matching a request's contract, as TWS would answer (maybe several)."""
        if q.con_id:
            found = self.get(q.con_id)
            if found is None or (q.sec_type and q.sec_type not in (found.sec_type, "CONTFUT")):
                return []
            return [found]
        sec_type = q.sec_type.upper()
        if sec_type == "CONTFUT":
            front = self.front_month(q.symbol) if q.symbol else None
            return [front] if front and self._matches(front, q, "FUT") else []
        return sorted(
            (i for i in self.instruments.values() if self._matches(i, q, sec_type)),
            key=lambda i: (i.sec_type, i.symbol, i.expiry),
        )

    @staticmethod
    def _matches(i: Instrument, q: ContractQuery, sec_type: str) -> bool:
        if sec_type and i.sec_type != sec_type:
            return False
        if q.symbol and q.symbol.upper() != i.symbol:
            return False
        if q.local_symbol and q.local_symbol.upper().replace(" ", "") != i.local_symbol:
            return False
        if q.currency and q.currency.upper() != i.currency:
            return False
        if q.trading_class and q.trading_class.upper() != i.trading_class:
            return False
        if q.multiplier:
            try:
                if float(q.multiplier) != i.multiplier:
                    return False
            except ValueError:
                return False
        if q.last_trade.strip():
            wanted = q.last_trade.split()[0]
            if wanted not in (i.expiry, i.contract_month):
                return False
        exchange = EXCHANGE_ALIASES.get(q.exchange.upper(), q.exchange.upper())
        if exchange and exchange != "SMART" and exchange not in i.valid_exchanges.split(","):
            return False
        if exchange == "SMART" and i.sec_type not in ("STK",):
            return False
        return not (
            q.primary_exchange
            and i.primary_exchange
            and q.primary_exchange.upper() not in (i.primary_exchange, "SMART")
        )

    def find(self, symbol: str | int) -> Instrument:
        """An instrument by conId, local symbol (``ESZ6``), futures root (the front month),
        stock symbol or ``EUR.USD``.

        Raises:
            KeyError: nothing by that name.
        """
        if isinstance(symbol, int) or str(symbol).isdigit():
            found = self.get(int(symbol))
            if found is None:
                raise KeyError(f"no instrument with conId {symbol}")
            return found
        text = str(symbol).upper()
        for inst in self.instruments.values():
            if inst.local_symbol == text:
                return inst
        front = self.front_month(text)
        if front is not None:
            return front
        matches = self.lookup(ContractQuery(symbol=text, sec_type="STK"))
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"unknown symbol {symbol!r}")

    def market_rules(self) -> dict[int, list[tuple[float, float]]]:
        """Market rule id -> (low edge, increment) pairs, from the instruments that use it.

        One increment from zero: the simulator prices every instrument on one tick grid.
        """
        rules: dict[int, float] = {}
        for inst in self.instruments.values():
            tick = rules.get(inst.market_rule_id)
            rules[inst.market_rule_id] = inst.min_tick if tick is None else min(tick, inst.min_tick)
        return {rule: [(0.0, tick)] for rule, tick in rules.items()}

    def answer_contract(self, instrument: Instrument, q: ContractQuery) -> Instrument:
        """The instrument as reported back for this request (stocks keep the asked exchange)."""
        if instrument.sec_type == "STK" and q.exchange and q.exchange.upper() != "SMART":
            return replace(instrument, exchange=q.exchange.upper())
        return instrument
