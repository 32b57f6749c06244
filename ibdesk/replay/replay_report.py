"""The report of a strategy replay: its trades, realised P&L with commissions, max drawdown and
the orders the gate refused, by the check that refused them.

Pure arithmetic over what the replay collected (fills, the prices it applied, the gate's
refusals), so that it can be tested on numbers alone and gives the same report for the same
inputs. Equity is realised P&L less commissions plus the open positions marked at the last
price applied; the drawdown is its deepest fall from a previous peak (starting at zero).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of a strategy's order (commission NaN: not reported)."""

    time: float
    con_id: int
    symbol: str
    side: str
    """ ``BUY`` or ``SELL`` """
    qty: float
    price: float
    multiplier: float
    commission: float
    ref: str


@dataclass(frozen=True, slots=True)
class Mark:
    """A price the replay applied to the market: what open positions are worth from then."""

    time: float
    con_id: int
    price: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """An intent the gate refused: who asked, which check, and why."""

    time: float
    source: str
    check: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a strategy did on a tape."""

    tape: str
    start: float | None
    end: float | None
    quotes: int
    """ tape quotes applied to the simulator's market """
    trades: tuple[Fill, ...]
    realized_pnl: float
    unrealized_pnl: float
    """ open positions at the last price applied """
    commissions: float
    max_drawdown: float
    refused: tuple[Refusal, ...]
    message: str | None = None
    """ what the trader must know of the tape (cut short), or None """

    @property
    def net_pnl(self) -> float:
        """Realised P&L less commissions."""
        return self.realized_pnl - self.commissions

    def refused_by_check(self) -> dict[str, int]:
        """Refusals counted by the check that refused them, most first."""
        return dict(Counter(r.check for r in self.refused).most_common())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (NaN commissions as None), for JSON."""
        trades = [
            {**dataclasses.asdict(t), "commission": _number(t.commission)} for t in self.trades
        ]
        return {
            "tape": self.tape,
            "start": self.start,
            "end": self.end,
            "quotes": self.quotes,
            "trades": trades,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "commissions": self.commissions,
            "net_pnl": self.net_pnl,
            "max_drawdown": self.max_drawdown,
            "refused_by_check": self.refused_by_check(),
            "refused": [dataclasses.asdict(r) for r in self.refused],
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplayReport:
        """The report :meth:`to_dict` made (read back from a replay run in another process)."""
        trades = tuple(
            Fill(**{**t, "commission": math.nan if t["commission"] is None else t["commission"]})
            for t in data["trades"]
        )
        return cls(
            data["tape"],
            data["start"],
            data["end"],
            data["quotes"],
            trades,
            data["realized_pnl"],
            data["unrealized_pnl"],
            data["commissions"],
            data["max_drawdown"],
            tuple(Refusal(**r) for r in data["refused"]),
            data["message"],
        )

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict())

    def text(self) -> str:
        """The report for a terminal."""
        n = len(self.trades)
        lines = [
            f"Strategy replay of {self.tape}: {_at(self.start)} to {_at(self.end)}, "
            f"{self.quotes} quotes",
            f"  {n} trade{'' if n == 1 else 's'}",
        ]
        for t in self.trades:
            lines.append(
                f"    {_at(t.time)} {t.side:<4} {t.qty:g} {t.symbol} @ {t.price:g}"
                f"  commission {_money(t.commission)}  {t.ref}"
            )
        lines += [
            f"  realised P&L {self.realized_pnl:,.2f}, commissions {self.commissions:,.2f}, "
            f"net {self.net_pnl:,.2f}; open positions {self.unrealized_pnl:,.2f}",
            f"  max drawdown {self.max_drawdown:,.2f}",
            f"  orders refused: {len(self.refused)}",
        ]
        lines += [f"    {check}: {count}" for check, count in self.refused_by_check().items()]
        if self.message:
            lines.append(f"  {self.message}")
        return "\n".join(lines)


def build_report(
    tape: str,
    fills: Iterable[Fill],
    marks: Iterable[Mark],
    refused: Iterable[Refusal],
    *,
    start: float | None,
    end: float | None,
    quotes: int,
    message: str | None = None,
) -> ReplayReport:
    """The report from what a replay collected (each in any order; fills before marks at the
    same time)."""
    trades = tuple(sorted(fills, key=lambda f: f.time))
    timeline: list[tuple[float, int, Fill | Mark]] = [(f.time, 0, f) for f in trades]
    timeline += [(m.time, 1, m) for m in marks]
    timeline.sort(key=lambda e: (e[0], e[1]))
    book = _Book()
    for _, _, event in timeline:
        if isinstance(event, Fill):
            book.fill(event)
        else:
            book.mark(event)
    return ReplayReport(
        tape,
        start,
        end,
        quotes,
        trades,
        book.realized,
        book.unrealized(),
        book.commissions,
        book.max_drawdown,
        tuple(sorted(refused, key=lambda r: r.time)),
        message,
    )


@dataclass(slots=True)
class _Position:
    qty: float = 0.0
    avg: float = 0.0
    multiplier: float = 1.0
    mark: float = math.nan


class _Book:
    """Positions at average cost, realised P&L, commissions and the equity's drawdown."""

    def __init__(self) -> None:
        self.positions: dict[int, _Position] = {}
        self.realized = 0.0
        self.commissions = 0.0
        self.peak = 0.0
        self.max_drawdown = 0.0

    def fill(self, f: Fill) -> None:
        p = self.positions.setdefault(f.con_id, _Position())
        p.multiplier = f.multiplier  # a mark may have made the position before its first fill
        signed = f.qty if f.side == "BUY" else -f.qty
        if p.qty and (p.qty > 0) != (signed > 0):  # reduces (and may reverse) the position
            closed = min(abs(signed), abs(p.qty))
            direction = 1.0 if p.qty > 0 else -1.0
            self.realized += closed * (f.price - p.avg) * direction * p.multiplier
            p.qty += closed * -direction
            left = abs(signed) - closed
            if left:
                p.qty, p.avg = math.copysign(left, signed), f.price
        else:
            total = p.qty + signed
            p.avg = (p.avg * p.qty + f.price * signed) / total
            p.qty = total
        if not math.isnan(f.commission):
            self.commissions += f.commission
        if math.isnan(p.mark):
            p.mark = f.price
        self._measure()

    def mark(self, m: Mark) -> None:
        p = self.positions.get(m.con_id)
        if p is None:
            self.positions[m.con_id] = _Position(mark=m.price)
            return
        p.mark = m.price
        self._measure()

    def unrealized(self) -> float:
        return sum(
            p.qty * (p.mark - p.avg) * p.multiplier
            for p in self.positions.values()
            if p.qty and not math.isnan(p.mark)
        )

    def _measure(self) -> None:
        equity = self.realized - self.commissions + self.unrealized()
        self.peak = max(self.peak, equity)
        self.max_drawdown = max(self.max_drawdown, self.peak - equity)


def _number(x: float) -> float | None:
    return None if math.isnan(x) else x


def _money(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.2f}"


def _at(t: float | None) -> str:
    if t is None:
        return "?"
    return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")
