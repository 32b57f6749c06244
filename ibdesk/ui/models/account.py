"""The account figures as a two-column table (figure, value)."""

from __future__ import annotations

from collections.abc import Hashable

from PySide6.QtCore import QObject

from ibdesk.domain.account import AccountSnapshot
from ibdesk.state.account import AccountStore
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column

FIGURES: dict[str, str] = {
    "net_liquidation": "Net Liquidation",
    "available_funds": "Available Funds",
    "excess_liquidity": "Excess Liquidity",
    "init_margin": "Initial Margin",
    "maint_margin": "Maintenance Margin",
    "buying_power": "Buying Power",
    "daily_pnl": "Daily P&L",
    "unrealized_pnl": "Unrealized P&L",
    "realized_pnl": "Realized P&L",
}
PNL = {"daily_pnl", "unrealized_pnl", "realized_pnl"}


class AccountModel(CoalescingTableModel[tuple[str, float]]):
    """One row per figure of the shown account."""

    def __init__(
        self, accounts: AccountStore, refresh_hz: float = 25.0, parent: QObject | None = None
    ) -> None:
        columns: list[Column[tuple[str, float]]] = [
            Column("Figure", lambda r: FIGURES[r[0]], lambda r: FIGURES[r[0]], numeric=False),
            Column(
                "Value",
                lambda r: r[1],
                lambda r: fmt.money(r[1]),
                tone=lambda r: fmt.tone(r[1]) if r[0] in PNL else None,
            ),
        ]
        super().__init__(columns, refresh_hz, parent)
        self.store = accounts
        self.account = ""
        for name in FIGURES:
            self.insert_key(name)
        accounts.updated += self._on_updated

    def close(self) -> None:
        """Stop listening to the store."""
        self.store.updated -= self._on_updated

    def show_account(self, account: str) -> None:
        """Switch to another account's figures."""
        self.account = account
        self.mark_all_dirty()

    def snapshot(self) -> AccountSnapshot:
        """The shown account's figures."""
        return self.store.get(self.account)

    def _on_updated(self, account: str) -> None:
        if account == self.account:
            self.mark_all_dirty()

    def row(self, key: Hashable) -> tuple[str, float]:
        """(figure name, value)."""
        name = str(key)
        return name, float(getattr(self.snapshot(), name))
