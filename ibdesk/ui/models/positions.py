"""The positions table: quantity, average price, market value and P&L, gains green."""

from __future__ import annotations

from collections.abc import Hashable

from PySide6.QtCore import QObject

from ibdesk.domain.account import PositionSnapshot
from ibdesk.state.account import PositionStore
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column


def _decimals(p: PositionSnapshot) -> int:
    return fmt.tick_decimals(p.instrument.min_tick)


def _columns() -> list[Column[PositionSnapshot]]:
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
    ]


class PositionsModel(CoalescingTableModel[PositionSnapshot]):
    """Rows follow the PositionStore: added and removed at once, updates coalesced."""

    def __init__(
        self, positions: PositionStore, refresh_hz: float = 25.0, parent: QObject | None = None
    ) -> None:
        super().__init__(_columns(), refresh_hz, parent)
        self.store = positions
        for key in positions.positions:
            self.insert_key(key)
        positions.added += self.insert_key
        positions.removed += self.remove_key
        positions.updated += self.mark_dirty

    def close(self) -> None:
        """Stop listening to the store."""
        self.store.added -= self.insert_key
        self.store.removed -= self.remove_key
        self.store.updated -= self.mark_dirty

    def row(self, key: Hashable) -> PositionSnapshot:
        """The position behind a row."""
        return self.store.positions[key]  # type: ignore[index]
