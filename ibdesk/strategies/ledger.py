"""Each strategy's own position and P&L, from its own fills.

A fill belongs to the strategy whose name its orderRef carries (``strategy:<name>#...``), so
the book is the same whether the fill arrived live, after a restart, or from the journal. What
the strategies hold, plus what the trader's own fills made, is what the account holds when
the day started flat; :meth:`StrategyLedger.unattributed` says where it does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ibdesk.domain.orders import FillSnapshot, client_of, source_of

_QTY_EPS = 1e-9


@dataclass(slots=True)
class Holding:
    """One strategy's position in one instrument, at its average cost."""

    qty: float = 0.0
    avg_price: float = 0.0
    realized: float = 0.0
    """ realized P&L (price points x multiplier), commissions not deducted """
    commission: float = 0.0
    multiplier: float = 1.0

    def add(self, signed_qty: float, price: float) -> None:
        """Book a fill: closing part first (realizing P&L), the rest opens at its price."""
        if self.qty and (self.qty > 0) != (signed_qty > 0):
            closing = min(abs(signed_qty), abs(self.qty))
            direction = 1.0 if self.qty > 0 else -1.0
            self.realized += (price - self.avg_price) * closing * direction * self.multiplier
            self.qty += closing * -direction
            signed_qty += closing * direction
            if abs(self.qty) < _QTY_EPS:
                self.qty, self.avg_price = 0.0, 0.0
        if abs(signed_qty) > _QTY_EPS:
            total = self.qty + signed_qty
            self.avg_price = (self.avg_price * self.qty + price * signed_qty) / total
            self.qty = total

    def open_pnl(self, mark: float) -> float:
        """P&L of the open position at ``mark`` (0 when flat, NaN with no mark)."""
        if not self.qty:
            return 0.0
        return (mark - self.avg_price) * self.qty * self.multiplier


class StrategyLedger:
    """Positions and P&L per strategy and instrument, kept from fills.

    Attributes:
        holdings: strategy name -> conId -> Holding
        manual: conId -> the net quantity of fills no strategy made
    """

    def __init__(self) -> None:
        self.holdings: dict[str, dict[int, Holding]] = {}
        self.manual: dict[int, float] = {}
        self.own_client: Callable[[], int] | None = None
        """ the desk's API client id (set by the desk): a strategy's fills made by another
        client (the same file under ``ibdesk run`` elsewhere) are booked apart, under
        ``"<name> @ client <id>"``, never as the desk's own copy's """
        self.handed: set[str] = set()
        """ strategies handed over to manual: their orders' later fills are the trader's """
        self._seen: set[str] = set()
        self._owed: dict[str, Holding] = {}
        """ exec id -> the holding of a fill whose commission IB has not reported yet """

    def made_here(self, ref: str) -> bool:
        """Whether this desk's API client made the order (or the ref does not say)."""
        client = client_of(ref)
        return self.own_client is None or client is None or client == self.own_client()

    def add(self, fill: FillSnapshot) -> str | None:
        """Book a fill once (by exec id); returns the strategy it belongs to, or None."""
        if fill.exec_id in self._seen:
            # IB reports the commission after the execution: the fill comes again with it.
            owed = self._owed.get(fill.exec_id)
            if owed is not None and not math.isnan(fill.commission):
                owed.commission += fill.commission
                del self._owed[fill.exec_id]
            return None
        self._seen.add(fill.exec_id)
        signed = fill.side.sign * fill.qty
        source = source_of(fill.ref)
        con_id = fill.instrument.con_id
        if source.kind != "strategy" or source.name in self.handed:
            self.manual[con_id] = self.manual.get(con_id, 0.0) + signed
            return None
        name = source.name
        if not self.made_here(fill.ref):
            name = f"{name} @ client {client_of(fill.ref)}"
        book = self.holdings.setdefault(name, {})
        holding = book.get(con_id)
        if holding is None:
            holding = book[con_id] = Holding(multiplier=fill.instrument.multiplier or 1.0)
        holding.add(signed, fill.price)
        if math.isnan(fill.commission):
            self._owed[fill.exec_id] = holding
        else:
            holding.commission += fill.commission
        return name

    def add_all(self, fills: Iterable[FillSnapshot]) -> None:
        """Book fills in time order (a restart's journal, the store's fills)."""
        for fill in sorted(fills, key=lambda f: f.time):
            self.add(fill)

    def position(self, name: str, con_id: int) -> float:
        """A strategy's signed position in an instrument."""
        holding = self.holdings.get(name, {}).get(con_id)
        return holding.qty if holding is not None else 0.0

    def positions(self, name: str) -> dict[int, float]:
        """conId -> a strategy's non-zero positions."""
        return {c: h.qty for c, h in self.holdings.get(name, {}).items() if h.qty}

    def pnl(self, name: str, mark: Callable[[int], float]) -> float:
        """A strategy's P&L today: realized plus open at ``mark(conId)``, less commissions."""
        total = 0.0
        for con_id, holding in self.holdings.get(name, {}).items():
            total += holding.realized - holding.commission
            if holding.qty:
                total += holding.open_pnl(mark(con_id))
        return total

    def attributed(self, con_id: int) -> float:
        """The strategies' and the trader's fills together, net, in one instrument."""
        strategies = sum(book[con_id].qty for book in self.holdings.values() if con_id in book)
        return strategies + self.manual.get(con_id, 0.0)

    def unattributed(self, con_id: int, account_position: float) -> float:
        """How far the account's position is from what today's fills explain (a position
        carried from an earlier day, or a fill ibdesk never saw)."""
        return account_position - self.attributed(con_id)

    def hand_over(self, name: str) -> None:
        """A strategy handed over to manual: its holdings, and its orders' later fills,
        become the trader's."""
        self.handed.add(name)
        for con_id, holding in self.holdings.pop(name, {}).items():
            self.manual[con_id] = self.manual.get(con_id, 0.0) + holding.qty

    def take_back(self, name: str) -> None:
        """A strategy started again: its new orders' fills are its own."""
        self.handed.discard(name)
