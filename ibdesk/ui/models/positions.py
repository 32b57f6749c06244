"""The positions table: quantity, average price, market value and P&L, gains green; a
futures position not covered by working stops shaded red ("naked").

The cover comes from a :class:`StopCoverIndex` kept on every order change: a flush asks it
for each dirty row, and walking every order there (as it once did) made one order change
cost O(all orders) twice per flush. A row is marked dirty only when its instrument's cover
changed, not on every order change.

The Strategies column says who holds which part of a position: each strategy's own part
(from its own fills, as the strategies panel shows it; "(left)" once it stopped and no longer
manages it) and the rest, "manual". A strategy's change marks only the name; the flush takes
one snapshot per changed strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject

from ibdesk.desk.api import StrategyOps
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import SecType
from ibdesk.state.account import PositionStore
from ibdesk.state.orders import OrderStore
from ibdesk.strategies.loader import StrategyError
from ibdesk.trading.protection import StopCoverIndex
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column


def _decimals(p: PositionSnapshot) -> int:
    return p.instrument.price_decimals


def _cover_text(p: PositionSnapshot, cover: Callable[[PositionSnapshot], float]) -> str:
    if p.instrument.sec_type is not SecType.FUTURE or not p.qty:
        return ""
    return f"{fmt.quantity(min(cover(p), abs(p.qty)))} / {fmt.quantity(abs(p.qty))}"


Holder = tuple[str, float, bool]
""" (strategy, its own part of a position, whether it left it: stopped, no longer managing) """

HOLDERS_TIP = (
    "Who holds which part: each strategy's own part, from its own fills; the rest is manual"
)


def holders_text(p: PositionSnapshot, holders: list[Holder]) -> str:
    """``Probe +2 (left), manual +1``: each strategy's part, then the rest (empty when no
    strategy holds any of it)."""
    if not holders:
        return ""
    parts = [f"{name} {qty:+g}" + (" (left)" if left else "") for name, qty, left in holders]
    rest = p.qty - sum(qty for _name, qty, _left in holders)
    if abs(rest) > 1e-9:
        parts.append(f"manual {rest:+g}")
    return ", ".join(parts)


def _holders_hint(holders: list[Holder]) -> str:
    lines = [
        f"{name} stopped with {qty:+g} and no longer manages it: hand it over in the "
        "strategies panel to take it as yours, or start it again."
        if left
        else f"{name}: {qty:+g}, its own, from its own fills."
        for name, qty, left in holders
    ]
    if lines:
        lines.append("manual: the rest of the position, which no strategy holds.")
    return "\n".join(lines)


def _columns(
    cover: Callable[[PositionSnapshot], float],
    holders: Callable[[PositionSnapshot], list[Holder]],
) -> list[Column[PositionSnapshot]]:
    return [
        Column(
            "Symbol", lambda p: p.instrument.display, lambda p: p.instrument.display, numeric=False
        ),
        Column("Account", lambda p: p.account, lambda p: p.account, numeric=False),
        Column(
            "Qty", lambda p: p.qty, lambda p: fmt.quantity(p.qty), tone=lambda p: fmt.tone(p.qty)
        ),
        Column(
            "Avg Price", lambda p: p.avg_price, lambda p: fmt.price(p.avg_price, _decimals(p) + 2)
        ),
        Column(
            "Mkt Price", lambda p: p.market_price, lambda p: fmt.price(p.market_price, _decimals(p))
        ),
        Column("Mkt Value", lambda p: p.market_value, lambda p: fmt.money(p.market_value)),
        Column(
            "Unrealized P&L",
            lambda p: p.unrealized_pnl,
            lambda p: fmt.money(p.unrealized_pnl),
            tone=lambda p: fmt.tone(p.unrealized_pnl),
        ),
        Column(
            "Daily P&L",
            lambda p: p.daily_pnl,
            lambda p: fmt.money(p.daily_pnl),
            tone=lambda p: fmt.tone(p.daily_pnl),
        ),
        Column(
            "Realized P&L",
            lambda p: p.realized_pnl,
            lambda p: fmt.money(p.realized_pnl),
            tone=lambda p: fmt.tone(p.realized_pnl),
        ),
        Column(
            "Stops",
            cover,
            lambda p: _cover_text(p, cover),
            tip="Contracts covered by working stops at the broker / position (futures)",
        ),
        Column(
            "Strategies",
            lambda p: holders_text(p, holders(p)),
            lambda p: holders_text(p, holders(p)),
            numeric=False,
            tone=lambda p: "warn" if any(left for _n, _q, left in holders(p)) else None,
            tip=HOLDERS_TIP,
            hint=lambda p: _holders_hint(holders(p)),
        ),
    ]


class PositionsModel(CoalescingTableModel[PositionSnapshot]):
    """Rows follow the PositionStore: added and removed at once, updates coalesced."""

    def __init__(
        self,
        positions: PositionStore,
        refresh_hz: float = 25.0,
        parent: QObject | None = None,
        orders: OrderStore | None = None,
        strategies: StrategyOps | None = None,
    ) -> None:
        super().__init__(_columns(self.stop_cover, self.holders), refresh_hz, parent)
        self.store = positions
        self.orders = orders
        self.strategies = strategies
        self._held: dict[str, tuple[tuple[int, float], ...]] = {}
        """ strategy -> its own positions by conId, as last read """
        self._left: dict[str, bool] = {}
        """ strategy -> whether it left its position (stopped, no longer managing it) """
        self._stale: set[str] = set()
        """ strategies changed since their last read """
        self.stop_index = StopCoverIndex(orders) if orders is not None else None
        for key in positions.positions:
            self.insert_key(key)
        positions.added += self.insert_key
        positions.removed += self.remove_key
        positions.updated += self.mark_dirty
        if self.stop_index is not None:
            self.stop_index.changed += self._cover_changed
        if strategies is not None:
            for status in strategies.statuses():  # read once here, then per change
                self._held[status.name] = status.held
                self._left[status.name] = status.left_position
            strategies.changed += self._strategy_changed

    def close(self) -> None:
        """Stop listening to the stores."""
        self.store.added -= self.insert_key
        self.store.removed -= self.remove_key
        self.store.updated -= self.mark_dirty
        if self.stop_index is not None:
            self.stop_index.changed -= self._cover_changed
            self.stop_index.close()
        if self.strategies is not None:
            self.strategies.changed -= self._strategy_changed

    def stop_cover(self, p: PositionSnapshot) -> float:
        """Contracts of a position that working stops at the broker would close."""
        return self.stop_index.cover(p) if self.stop_index is not None else 0.0

    def holders(self, p: PositionSnapshot) -> list[Holder]:
        """The strategies holding part of a position: (name, their part, left by them)."""
        if self._stale:
            self._read_strategies()
        con_id = p.instrument.con_id
        return [
            (name, qty, self._left[name])
            for name, held in self._held.items()
            for c, qty in held
            if c == con_id and qty
        ]

    def _read_strategies(self) -> None:
        assert self.strategies is not None
        stale, self._stale = self._stale, set()
        for name in stale:
            try:
                status = self.strategies.status(name)
            except StrategyError:  # no longer listed
                self._held.pop(name, None)
                continue
            self._held[name], self._left[name] = status.held, status.left_position

    def _strategy_changed(self, name: str) -> None:
        self._stale.add(name)
        for key in self.store.positions:  # a few positions; the flush reads the name once
            self.mark_dirty(key)

    def naked(self, key: Hashable) -> bool:
        """Whether a futures position lacks working stops for all of its size."""
        p = self.store.positions.get(key)  # type: ignore[call-overload]
        return p is not None and self.stop_index is not None and self.stop_index.naked(p)

    def background(self, key: Hashable) -> str | None:
        """Naked futures positions are shaded red."""
        return "naked" if self.naked(key) else None

    def _cover_changed(self, con_id: int) -> None:
        for key, p in self.store.positions.items():  # a few positions, not the orders
            if p.instrument.con_id == con_id:
                self.mark_dirty(key)

    def row(self, key: Hashable) -> PositionSnapshot:
        """The position behind a row."""
        return self.store.positions[key]  # type: ignore[index]
