"""Blotter models: working orders, completed orders, executions."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject

from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, Side, source_of
from ibdesk.state.orders import OrderStore
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column

STATE_TONES = {
    OrderState.FILLED: "gain",
    OrderState.REJECTED: "loss",
    OrderState.NOT_SENT: "loss",
    OrderState.UNKNOWN: "warn",
    OrderState.INACTIVE: "warn",
    OrderState.GONE: "warn",
    OrderState.PARTIAL: "gain",
}


def _time_column(when: Callable[[Any], float], static: bool = False) -> Column[Any]:
    """The time of an order or fill with milliseconds (the blotter is today's), in the zone
    chosen in the View menu: its instrument's exchange's, or local; labelled either way."""
    return Column(
        "Time",
        when,
        lambda r: fmt.clock(when(r), r.instrument.time_zone, millis=True),
        numeric=False,
        static=static,
        heading=fmt.time_heading,
    )


def _side_tone(side: Side) -> str:
    return "gain" if side is Side.BUY else "loss"


def _symbol_and_side() -> list[Column[Any]]:
    """The two columns orders and fills share (both carry an instrument and a side)."""
    return [
        Column(
            "Symbol",
            lambda r: r.instrument.display,
            lambda r: r.instrument.display,
            numeric=False,
            static=True,
        ),
        Column(
            "Side",
            lambda r: r.side.value,
            lambda r: r.side.value,
            numeric=False,
            tone=lambda r: _side_tone(r.side),
            static=True,
        ),
    ]


def _px(o: OrderSnapshot, value: float | None) -> str:
    return fmt.price(math.nan if value is None else value, o.instrument.price_decimals)


def order_columns(
    completed: bool, placed_by: Callable[[str], str] = lambda ref: str(source_of(ref))
) -> list[Column[OrderSnapshot]]:
    """Columns of the Working or Completed tab (``placed_by``: an orderRef in words, another
    client's with its client id)."""
    cols: list[Column[OrderSnapshot]] = [
        _time_column(lambda o: o.updated if completed else o.created),
        *_symbol_and_side(),
        Column("Qty", lambda o: o.qty, lambda o: fmt.quantity(o.qty), editable=not completed),
        Column("Filled", lambda o: o.filled, lambda o: fmt.quantity(o.filled)),
    ]
    if completed:
        cols.append(
            Column("Avg Price", lambda o: o.avg_fill_price, lambda o: _px(o, o.avg_fill_price))
        )
    else:
        cols.append(Column("Remaining", lambda o: o.remaining, lambda o: fmt.quantity(o.remaining)))
    cols += [
        Column("Type", lambda o: o.order_type.value, lambda o: o.order_type.value, numeric=False),
        Column(
            "Limit",
            lambda o: o.limit_price,
            lambda o: _px(o, o.limit_price),
            editable=not completed,
        ),
        Column(
            "Stop", lambda o: o.stop_price, lambda o: _px(o, o.stop_price), editable=not completed
        ),
        Column("TIF", lambda o: o.tif.value, lambda o: o.tif.value, numeric=False),
        Column(
            "State",
            lambda o: o.state.value,
            lambda o: o.state.value,
            numeric=False,
            tone=lambda o: STATE_TONES.get(o.state),
        ),
        Column("Reason", lambda o: o.reason, lambda o: o.reason, numeric=False),
        Column(
            "Source",
            lambda o: placed_by(o.ref),
            lambda o: placed_by(o.ref),
            numeric=False,
            static=True,
        ),
        Column(
            "Why",
            lambda o: o.why,
            lambda o: o.why,
            numeric=False,
            hint=lambda o: o.why,
            tip="What its sender said of it (a strategy's signal and its values)",
        ),
        Column("Account", lambda o: o.account, lambda o: o.account, numeric=False),
        Column(
            "Order",
            lambda o: o.order_id,
            lambda o: str(o.order_id) if o.order_id else fmt.DASH,
            static=True,
        ),
    ]
    return cols


class OrdersModel(CoalescingTableModel[OrderSnapshot]):
    """The orders a predicate admits; rows join and leave as orders change state."""

    def __init__(
        self,
        store: OrderStore,
        admit: Callable[[OrderSnapshot], bool],
        completed: bool,
        refresh_hz: float = 25.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(order_columns(completed, store.placed_by), refresh_hz, parent)
        self.store = store
        self.admit = admit
        self._changed = store.dirty_set()
        for ref, snap in store.orders.items():
            if admit(snap):
                self.insert_key(ref)

    def close(self) -> None:
        """Stop taking changes from the store."""
        self.store.release(self._changed)

    def flush(self) -> None:
        """Take changed orders: add, drop or rewrite their rows, then flush."""
        changed = self._changed
        while changed:
            ref = changed.pop()
            snap = self.store.orders.get(ref)
            inside = ref in self._pos
            if snap is not None and self.admit(snap):
                self.insert_key(ref) if not inside else self.mark_dirty(ref)
            elif inside:
                self.remove_key(ref)
        super().flush()

    def row(self, key: Hashable) -> OrderSnapshot:
        """The order behind a row."""
        return self.store.orders[str(key)]

    def forget_cell(self, row: int, col: int) -> None:
        """A user typed into a cell: rewrite it from the order at the next flush."""
        self._shown[row][col] = None
        self._dirty.add(self._keys[row])


def fill_columns(
    placed_by: Callable[[str], str] = lambda ref: str(source_of(ref)),
) -> list[Column[FillSnapshot]]:
    """Columns of the Executions tab."""

    def px(f: FillSnapshot) -> str:
        return fmt.price(f.price, f.instrument.price_decimals)

    return [
        _time_column(lambda f: f.time, static=True),
        *_symbol_and_side(),
        Column("Qty", lambda f: f.qty, lambda f: fmt.quantity(f.qty), static=True),
        Column("Price", lambda f: f.price, px, static=True),
        Column("Commission", lambda f: f.commission, lambda f: fmt.money(f.commission)),
        Column(
            "Realized P&L",
            lambda f: f.realized_pnl,
            lambda f: fmt.money(f.realized_pnl),
            tone=lambda f: fmt.tone(f.realized_pnl),
        ),
        Column(
            "Source",
            lambda f: placed_by(f.ref),
            lambda f: placed_by(f.ref),
            numeric=False,
            static=True,
        ),
        Column("Account", lambda f: f.account, lambda f: f.account, numeric=False, static=True),
        Column("Exec Id", lambda f: f.exec_id, lambda f: f.exec_id, numeric=False, static=True),
    ]


class FillsModel(CoalescingTableModel[FillSnapshot]):
    """Every execution, newest last; commissions fill in when their reports arrive."""

    def __init__(
        self, store: OrderStore, refresh_hz: float = 25.0, parent: QObject | None = None
    ) -> None:
        super().__init__(fill_columns(store.placed_by), refresh_hz, parent)
        self.store = store
        self._waiting: set[str] = set()
        """ execIds whose commission report has not arrived yet """
        for fill in store.fills.values():
            self._on_fill(fill)
        store.filled += self._on_fill

    def close(self) -> None:
        """Stop listening to the store."""
        self.store.filled -= self._on_fill

    def _on_fill(self, fill: FillSnapshot) -> None:
        self.insert_key(fill.exec_id)
        if math.isnan(fill.commission):
            self._waiting.add(fill.exec_id)

    def flush(self) -> None:
        """Commission reports complete fills in place: rewrite the rows that got one."""
        for exec_id in [e for e in self._waiting if not math.isnan(self.store.fills[e].commission)]:
            self._waiting.discard(exec_id)
            self.mark_dirty(exec_id)
        super().flush()

    def row(self, key: Hashable) -> FillSnapshot:
        """The fill behind a row."""
        return self.store.fills[str(key)]
