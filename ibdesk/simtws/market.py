"""The simulated market: seeded price processes, top-of-book quotes and trades.

Each *family* (SPX, NDX, WTI, GOLD, every stock, EURUSD) is one price process on its tick
grid; every instrument of the family (ES and MES, and each of their expiries) quotes the family
price plus a fixed basis. A step moves every family; only *active* instruments (someone is
subscribed, or an order rests on them) get quotes, sizes and trades, so a fast market costs
what is watched, not what is listed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from ibdesk.simtws.catalog import FAMILY_START, Catalog, Instrument

#: Daily volatility of each family, as a fraction of price.
FAMILY_DAILY_VOL = {
    "SPX": 0.010,
    "NDX": 0.013,
    "WTI": 0.022,
    "GOLD": 0.012,
    "EURUSD": 0.005,
    "AAPL": 0.017,
    "MSFT": 0.015,
    "NVDA": 0.030,
    "TSLA": 0.035,
    "SPY": 0.010,
    "QQQ": 0.013,
}
#: A step is a quarter second of market time, IB's snapshot cadence for futures and stocks.
STEP_SECONDS = 0.25
STEPS_PER_DAY = 86_400 / STEP_SECONDS

# Bits of QuoteChange.mask
BID, ASK, BID_SIZE, ASK_SIZE, TRADE, HIGH, LOW = 1, 2, 4, 8, 16, 32, 64


@dataclass(slots=True)
class Family:
    """One random walk on a tick grid (log-normal steps, so it never goes negative)."""

    name: str
    price: float
    tick: float
    sigma: float
    rng: random.Random

    def step(self) -> None:
        """Move one step: a Gaussian log return rounded to whole ticks."""
        move = self.price * (math.exp(self.rng.gauss(0.0, self.sigma)) - 1.0)
        ticks = round(move / self.tick)
        if ticks:
            self.price = max(self.tick, round(self.price + ticks * self.tick, 10))


@dataclass(slots=True)
class Quote:
    """Top of book and the day's trading figures of one instrument."""

    bid: float = -1.0
    ask: float = -1.0
    bid_size: float = 0.0
    ask_size: float = 0.0
    last: float = -1.0
    last_size: float = 0.0
    volume: float = 0.0
    high: float = 0.0
    low: float = 0.0
    open: float = 0.0
    close: float = 0.0
    last_time: float = 0.0
    vwap_num: float = 0.0

    @property
    def mid(self) -> float:
        """Midpoint of bid and ask."""
        return (self.bid + self.ask) / 2.0

    @property
    def vwap(self) -> float:
        """Volume-weighted average price of the day's trades."""
        return self.vwap_num / self.volume if self.volume else self.last


@dataclass(frozen=True, slots=True)
class QuoteChange:
    """Which parts of one instrument's quote moved in a step (bits BID, ASK …)."""

    con_id: int
    mask: int


@dataclass(slots=True)
class _Activity:
    """Per-instrument randomness for sizes and trades, started on first activation."""

    rng: random.Random
    size_unit: float
    max_units: int
    spread_ticks: int


@dataclass(slots=True)
class Market:
    """All families and the quotes of active instruments.

    Attributes:
        paused: a paused market does not move on its own (``step`` still works, for tests).
        trade_probability: chance per step that an active instrument prints a trade.
    """

    catalog: Catalog
    seed: int
    families: dict[str, Family] = field(default_factory=dict)
    quotes: dict[int, Quote] = field(default_factory=dict)
    activity: dict[int, _Activity] = field(default_factory=dict)
    paused: bool = False
    trade_probability: float = 0.6
    steps: int = 0

    def __post_init__(self) -> None:
        ticks: dict[str, float] = {}
        for inst in self.catalog.instruments.values():
            ticks[inst.family] = min(ticks.get(inst.family, inst.min_tick), inst.min_tick)
        for name, tick in ticks.items():
            start = FAMILY_START.get(name, 100.0)
            sigma = FAMILY_DAILY_VOL.get(name, 0.015) / math.sqrt(STEPS_PER_DAY)
            rng = random.Random(f"{self.seed}:{name}")
            self.families[name] = Family(
                name, round(round(start / tick) * tick, 10), tick, sigma, rng
            )

    # ---- queries --------------------------------------------------------------------------

    def family_of(self, inst: Instrument) -> Family:
        """The price process an instrument follows."""
        return self.families[inst.family]

    def quote(self, con_id: int) -> Quote:
        """The current quote of an instrument, activating it if it was idle."""
        q = self.quotes.get(con_id)
        if q is None:
            q = self._activate(con_id)
        return q

    def reference_price(self, inst: Instrument) -> float:
        """Where the instrument trades now (its family price plus basis, on its grid)."""
        return inst.round_to_tick(self.families[inst.family].price + inst.basis)

    # ---- moves ----------------------------------------------------------------------------

    def step(self, now: float) -> list[QuoteChange]:
        """Advance every family one step and requote active instruments."""
        self.steps += 1
        for fam in self.families.values():
            fam.step()
        changes = []
        for con_id in self.quotes:
            mask = self._requote(con_id, now, allow_trade=True)
            if mask:
                changes.append(QuoteChange(con_id, mask))
        return changes

    def set_price(self, inst: Instrument, price: float, now: float) -> list[QuoteChange]:
        """Move an instrument's family so the instrument trades at ``price``, with a trade.

        Used by the control port to trigger stops and P&L limits deterministically.
        """
        fam = self.families[inst.family]
        fam.price = max(fam.tick, round(round((price - inst.basis) / fam.tick) * fam.tick, 10))
        changes = []
        for con_id in list(self.quotes):
            mask = self._requote(con_id, now, allow_trade=False)
            if con_id == inst.con_id:
                mask |= self._trade(con_id, now, at=self.reference_price(inst))
            if mask:
                changes.append(QuoteChange(con_id, mask))
        if inst.con_id not in self.quotes:
            self.quote(inst.con_id)
        return changes

    # ---- internals ------------------------------------------------------------------------

    def _activate(self, con_id: int) -> Quote:
        inst = self.catalog.instruments[con_id]
        rng = random.Random(f"{self.seed}:q:{con_id}")
        if inst.sec_type == "STK":
            act = _Activity(rng, 100.0, 20, 1)
        elif inst.sec_type == "CASH":
            act = _Activity(rng, 100_000.0, 50, 1)
        else:
            act = _Activity(rng, 1.0, 60, 1)
        self.activity[con_id] = act
        price = self.reference_price(inst)
        close = inst.round_to_tick(price * (1 + rng.gauss(0.0, 0.006)))
        q = Quote(
            close=close,
            open=inst.round_to_tick((close + price) / 2),
            volume=float(rng.randint(200, 2000)) * act.size_unit,
        )
        q.high = max(q.open, price)
        q.low = min(q.open, price)
        q.vwap_num = q.volume * (q.open + price) / 2
        self.quotes[con_id] = q
        self._requote(con_id, 0.0, allow_trade=False)
        q.last = price
        q.last_size = act.size_unit
        return q

    def _requote(self, con_id: int, now: float, allow_trade: bool) -> int:
        inst = self.catalog.instruments[con_id]
        q = self.quotes[con_id]
        act = self.activity[con_id]
        rng = act.rng
        mask = 0
        bid = self.reference_price(inst)
        spread = act.spread_ticks + (1 if inst.sec_type == "STK" and rng.random() < 0.2 else 0)
        ask = round(bid + spread * inst.min_tick, 10)
        if bid != q.bid:
            q.bid = bid
            q.bid_size = rng.randint(1, act.max_units) * act.size_unit
            mask |= BID | BID_SIZE
        elif rng.random() < 0.3:
            q.bid_size = rng.randint(1, act.max_units) * act.size_unit
            mask |= BID_SIZE
        if ask != q.ask:
            q.ask = ask
            q.ask_size = rng.randint(1, act.max_units) * act.size_unit
            mask |= ASK | ASK_SIZE
        elif rng.random() < 0.3:
            q.ask_size = rng.randint(1, act.max_units) * act.size_unit
            mask |= ASK_SIZE
        if allow_trade and rng.random() < self.trade_probability:
            mask |= self._trade(con_id, now, at=bid if rng.random() < 0.5 else ask)
        return mask

    def _trade(self, con_id: int, now: float, at: float) -> int:
        q = self.quotes[con_id]
        act = self.activity[con_id]
        size = act.rng.randint(1, max(1, act.max_units // 4)) * act.size_unit
        mask = TRADE
        q.last = at
        q.last_size = size
        q.volume += size
        q.vwap_num += at * size
        q.last_time = now
        if at > q.high:
            q.high = at
            mask |= HIGH
        if at < q.low or q.low <= 0:
            q.low = at
            mask |= LOW
        return mask
