"""The watchlist table: one row per watched instrument, live quotes, last-tick age."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column


@dataclass(frozen=True, slots=True)
class WatchRow:
    """What one watchlist row shows."""

    inst: Instrument
    quote: Quote
    decimals: int
    age: float


def _symbol(r: WatchRow) -> str:
    expiry = r.inst.expiry_date
    return f"{r.inst.display}  {expiry:%b %d}" if expiry else r.inst.display


def _columns() -> list[Column[WatchRow]]:
    def px(get: Callable[[Quote], float]) -> Callable[[WatchRow], str]:
        return lambda r: fmt.price(get(r.quote), r.decimals)

    return [
        Column("Symbol", lambda r: r.inst.display, _symbol, numeric=False, static=True),
        Column("Bid", lambda r: r.quote.bid, px(lambda q: q.bid)),
        Column("Ask", lambda r: r.quote.ask, px(lambda q: q.ask)),
        Column("Last", lambda r: r.quote.last, px(lambda q: q.last)),
        Column(
            "Change",
            lambda r: r.quote.change,
            lambda r: fmt.signed(r.quote.change, r.decimals),
            tone=lambda r: fmt.tone(r.quote.change),
        ),
        Column(
            "Change %",
            lambda r: r.quote.change_pct,
            lambda r: (
                fmt.signed(r.quote.change_pct) + ("%" if not math.isnan(r.quote.change_pct) else "")
            ),
            tone=lambda r: fmt.tone(r.quote.change_pct),
        ),
        Column("Volume", lambda r: r.quote.volume, lambda r: fmt.volume(r.quote.volume)),
        Column(
            "Age",
            lambda r: r.age,
            lambda r: fmt.age(r.age),
            tip="Time since the last update from the broker",
        ),
    ]


class WatchlistModel(CoalescingTableModel[WatchRow]):
    """Rows follow the WatchlistStore; values follow the QuoteStore, coalesced."""

    AGE_COLUMN = 7

    def __init__(
        self,
        watchlist: WatchlistStore,
        quotes: QuoteStore,
        stale_after: float,
        refresh_hz: float = 25.0,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(_columns(), refresh_hz, parent)
        self.watchlist = watchlist
        self.quotes = quotes
        self.stale_after = stale_after
        self.clock = clock
        self._by_con_id: dict[int, Instrument] = {}
        self._decimals: dict[int, int] = {}
        for inst in watchlist.items:
            self._on_added(inst, 0)
        watchlist.added += self._on_added
        watchlist.removed += self._on_removed
        self._changed = quotes.dirty_set()
        # The age column moves with the clock, not with ticks: refresh it once a second.
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self.mark_all_dirty)
        self._clock_timer.start()

    def close(self) -> None:
        """Stop listening to the stores (the model is going away)."""
        self.watchlist.added -= self._on_added
        self.watchlist.removed -= self._on_removed
        self.quotes.release(self._changed)

    def flush(self) -> None:
        """Take the quotes that changed since the last flush, then write their rows."""
        changed = self._changed
        while changed:
            self.mark_dirty(changed.pop())
        super().flush()

    def _on_added(self, inst: Instrument, row: int) -> None:
        self._by_con_id[inst.con_id] = inst
        self._decimals[inst.con_id] = fmt.tick_decimals(inst.min_tick)
        self.insert_key(inst.con_id)

    def _on_removed(self, inst: Instrument, row: int) -> None:
        self.remove_key(inst.con_id)
        self._by_con_id.pop(inst.con_id, None)

    def row(self, key: Hashable) -> WatchRow:
        """The current quote and age of one instrument."""
        con_id = int(key)  # type: ignore[call-overload]
        quote = self.quotes.get(con_id) or Quote(con_id)
        age = self.clock() - quote.time if quote.time else math.nan
        return WatchRow(self._by_con_id[con_id], quote, self._decimals[con_id], age)

    def background(self, key: Hashable) -> str | None:
        """Stale rows (no update for ``stale_after`` seconds) are highlighted."""
        quote = self.quotes.get(int(key))  # type: ignore[call-overload]
        if quote is None or not quote.time:
            return "stale"
        return "stale" if self.clock() - quote.time > self.stale_after else None
