"""Historical bars consistent with the live market.

Before the simulator started, each family's past is synthetic but fixed by the seed: a
log-normal walk of daily closes going back from the starting price, minute prices bridged
between them for the last 30 days, and 5-second prices bridged between those for the last
2 days. Every bar size is aggregated from those same prices, so a 1-hour bar closes where its
last 1-minute bar does. Since the start, the *tape* records what the live market really did
in 5-second bars, so the last historical bar joins the live price.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.history_past import (
    DAILY_YEARS,
    TAPE,
    Bars,
    FamilyPast,
    group_by_calendar,
    resample,
    split_seconds,
    synthesize_past,
)
from ibdesk.simtws.history_request import MONTH
from ibdesk.simtws.history_sessions import liquid_mask
from ibdesk.simtws.history_volume import bar_volumes, slot_volumes
from ibdesk.simtws.market import Market

#: Families whose synthetic past has no upward drift (commodities and currencies).
FLAT_FAMILIES = frozenset({"WTI", "GOLD", "EURUSD"})
#: Daily log drift of equity families' synthetic past (about 8 % a year).
EQUITY_DRIFT = 0.08 / 365


@dataclass(slots=True)
class _TapeBucket:
    start: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    count: float = 0.0


@dataclass(slots=True)
class Tape:
    """What the live market did since the start, in 5-second bars per family and instrument.

    Family bars carry the family (bid) price; instrument bars carry that instrument's trades.
    """

    start: float
    family: dict[str, list[_TapeBucket]] = field(default_factory=dict)
    trades: dict[int, list[_TapeBucket]] = field(default_factory=dict)

    def record_family(self, name: str, price: float, now: float) -> None:
        """Note a family price at ``now``."""
        _touch(self.family.setdefault(name, []), price, now, 0.0)

    def record_trade(self, con_id: int, price: float, size: float, now: float) -> None:
        """Note a trade of an instrument."""
        _touch(self.trades.setdefault(con_id, []), price, now, size)

    def bars(self, name: str) -> list[_TapeBucket]:
        """The family's recorded 5-second bars."""
        return self.family.get(name, [])


def _touch(rows: list[_TapeBucket], price: float, now: float, size: float) -> None:
    start = math.floor(now / TAPE) * TAPE
    if rows and rows[-1].start == start:
        row = rows[-1]
        row.high = max(row.high, price)
        row.low = min(row.low, price)
        row.close = price
    else:
        row = _TapeBucket(start, price, price, price, price)
        rows.append(row)
    if size:
        row.volume += size
        row.count += 1


def _tape_bars(rows: list[_TapeBucket]) -> Bars:
    if not rows:
        return Bars.empty()
    cols = np.array(
        [(r.start, r.open, r.high, r.low, r.close, r.volume, r.count) for r in rows],
        dtype=np.float64,
    )
    return Bars(*(cols[:, i].copy() for i in range(7)))


@dataclass(slots=True)
class HistoryService:
    """Answers historical requests from the synthetic past and the tape."""

    market: Market
    tape: Tape
    seed: int
    _past: dict[str, FamilyPast] = field(default_factory=dict)

    def past(self, family: str) -> FamilyPast:
        """The family's synthetic past (built once, on first use)."""
        got = self._past.get(family)
        if got is None:
            fam = self.market.families[family]
            if not self.tape.bars(family):
                # Asked before the market's first step (or with it paused from the start):
                # the price now is the starting price, and the bar it opens is the forming one.
                self.tape.record_family(family, fam.price, self.tape.start)
            start_price = self.tape.bars(family)[0].open
            members = [i for i in self.market.catalog.instruments.values() if i.family == family]
            since = min((self.head_timestamp(i) for i in members), default=None)
            got = synthesize_past(
                family,
                start_price,
                fam.tick,
                self.synthetic_end,
                self.seed,
                since=since,
                drift=0.0 if family in FLAT_FAMILIES else EQUITY_DRIFT,
            )
            self._past[family] = got
        return got

    @property
    def synthetic_end(self) -> float:
        """The synthetic past ends where the tape's first 5-second bar starts."""
        return math.floor(self.tape.start / TAPE) * TAPE

    def bars(
        self,
        inst: Instrument,
        bar_seconds: int,
        start: float,
        end: float,
        what: str = "TRADES",
        liquid_only: bool = False,
    ) -> Bars:
        """Bars of ``bar_seconds`` for ``inst`` starting in ``[start, end)``.

        With ``liquid_only`` (useRTH) the base bars outside regular trading hours are dropped
        *before* aggregating, so no bar carries prices from outside them; an intraday bar
        that starts before the open is labelled with the open, as IB labels it. Daily bars
        exist for trading days only; weekly and monthly bars group them by trading week and
        calendar month, each dated by its last trading day, as IB dates them.
        """
        if bar_seconds > 86400:
            days = self.bars(inst, 86400, start, end, what, liquid_only)
            return group_by_calendar(days, by_month=bar_seconds == MONTH)
        base = self._base_bars(inst, bar_seconds, start, end, what, liquid_only)
        if bar_seconds == 1:
            base = split_seconds(base).window(math.floor(start), end)
        out = resample(base, bar_seconds, label_first=liquid_only and bar_seconds < 86400)
        if bar_seconds == 86400 and len(out):
            weekday = ((out.time // 86400).astype(np.int64) + 3) % 7  # 1970-01-01: a Thursday
            out = out.select(np.isin(weekday, inst.session.days))
        return self._shift(out, inst, what)

    def _base_bars(
        self,
        inst: Instrument,
        bar_seconds: int,
        start: float,
        end: float,
        what: str,
        liquid_only: bool,
    ) -> Bars:
        """The finest bars a request aggregates, with the instrument's own volumes."""
        past = self.past(inst.family)
        unit = max(bar_seconds, TAPE) if bar_seconds < 86400 else 86400
        # Nothing before the instrument was listed (its head timestamp's day).
        first = max(float(math.floor(start / unit) * unit), listing_midnight(inst))
        if bar_seconds < 60:
            segments = [(past.five, TAPE)]
        elif bar_seconds < 86400:
            segments = [(past.minute, 60)]
        else:
            # Daily: synthetic days before the minute window, minutes within it.
            segments = [(past.daily.window(0, past.minute.time[0]), 86400), (past.minute, 60)]
        cut = min(end, self.synthetic_end)
        merged = Bars.empty()
        for seg, width in segments:
            piece = seg.window(first, cut)
            piece.volume, piece.count = bar_volumes(inst, piece.time, width, self.synthetic_end)
            if liquid_only:
                piece = piece.select(liquid_mask(inst, piece.time, width))
            merged = merged.concat(piece)
        live = self._live_bars(inst, what).window(first, end)
        if liquid_only:
            live = live.select(liquid_mask(inst, live.time, TAPE))
        return merged.concat(live)

    def _live_bars(self, inst: Instrument, what: str) -> Bars:
        """The tape since the start, as the instrument's 5-second bars.

        Trade prices are moved back into family space (minus the basis) so that one shift
        at the end serves both; where the instrument did not trade (and for quotes), the
        volume is the profile's.
        """
        out = _tape_bars(self.tape.bars(inst.family))
        out.volume, out.count = slot_volumes(inst, out.time)
        if what != "TRADES":
            return out
        for row in self.tape.trades.get(inst.con_id, []):
            i = int(np.searchsorted(out.time, row.start))
            if i < len(out.time) and out.time[i] == row.start:
                out.open[i] = row.open - inst.basis
                out.high[i] = max(row.high - inst.basis, out.high[i])
                out.low[i] = min(row.low - inst.basis, out.low[i])
                out.close[i] = row.close - inst.basis
                out.volume[i] = row.volume
                out.count[i] = row.count
        return out

    @staticmethod
    def _shift(b: Bars, inst: Instrument, what: str) -> Bars:
        offset = inst.basis + {"ASK": inst.min_tick, "MIDPOINT": inst.min_tick / 2}.get(what, 0)
        if not offset:
            return b
        tick = inst.min_tick / (2 if what == "MIDPOINT" else 1)
        return b.with_prices(lambda x: np.round((x + offset) / tick) * tick)

    def head_timestamp(self, inst: Instrument, use_rth: bool = False) -> float:
        """The earliest time any bar exists for the instrument: the open of its listing day
        (stocks: the regular open, as IB reports them; futures and FX: the session open,
        or the regular open with ``use_rth``)."""
        day = listing_day(inst)
        liquid = use_rth or inst.sec_type == "STK"
        for _, opened, _ in (
            inst.session.liquid_sessions(day, 7) if liquid else inst.session.sessions(day, 7)
        ):
            if opened is not None:
                return opened.timestamp()
        return listing_midnight(inst)


def listing_day(inst: Instrument) -> dt.date:
    """The day an instrument was listed (five years ago if the catalog does not say)."""
    if inst.listed:
        return dt.datetime.strptime(inst.listed, "%Y%m%d").date()
    return dt.date.today() - dt.timedelta(days=DAILY_YEARS * 365)


def listing_midnight(inst: Instrument) -> float:
    """UTC midnight of the listing day: no bar of the instrument starts before it."""
    day = listing_day(inst)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
