"""The positions table: quantity, average price, market value and P&L, gains green; a
futures position not covered by working stops shaded red ("naked").

The cover comes from a :class:`StopCoverIndex` kept on every order change: a flush asks it
for each dirty row, and walking every order there (as it once did) made one order change
cost O(all orders) twice per flush. A row is marked dirty only when its instrument's cover
changed, not on every order change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject

from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import SecType
from ibdesk.state.account import PositionStore
from ibdesk.state.orders import OrderStore
from ibdesk.trading.protection import StopCoverIndex
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column


def _decimals(p: PositionSnapshot) -> int:
    return p.instrument.price_decimals


def _cover_text(p: PositionSnapshot, cover: Callable[[PositionSnapshot], float]) -> str:
    if p.instrument.sec_type is not SecType.FUTURE or not p.qty:
        return ""
    return f"{fmt.quantity(min(cover(p), abs(p.qty)))} / {fmt.quantity(abs(p.qty))}"


def _columns(cover: Callable[[PositionSnapshot], float]) -> list[Column[PositionSnapshot]]:
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
    ]


class PositionsModel(CoalescingTableModel[PositionSnapshot]):
    """Rows follow the PositionStore: added and removed at once, updates coalesced."""

    def __init__(
        self,
        positions: PositionStore,
        refresh_hz: float = 25.0,
        parent: QObject | None = None,
        orders: OrderStore | None = None,
    ) -> None:
        super().__init__(_columns(self.stop_cover), refresh_hz, parent)
        self.store = positions
        self.orders = orders
        self.stop_index = StopCoverIndex(orders) if orders is not None else None
        for key in positions.positions:
            self.insert_key(key)
        positions.added += self.insert_key
        positions.removed += self.remove_key
        positions.updated += self.mark_dirty
        if self.stop_index is not None:
            self.stop_index.changed += self._cover_changed

    def close(self) -> None:
        """Stop listening to the stores."""
        self.store.added -= self.insert_key
        self.store.removed -= self.remove_key
        self.store.updated -= self.mark_dirty
        if self.stop_index is not None:
            self.stop_index.changed -= self._cover_changed
            self.stop_index.close()

    def stop_cover(self, p: PositionSnapshot) -> float:
        """Contracts of a position that working stops at the broker would close."""
        return self.stop_index.cover(p) if self.stop_index is not None else 0.0

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
