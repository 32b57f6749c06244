"""The watchlist table: one row per watched instrument, live quotes, last-tick age, and a
future near its expiry marked (``ESZ6  Dec 18 · roll 3d``, amber, the whole warning as the
tooltip)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.domain.roll import RollWarning
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
    roll: RollWarning | None = None


def _symbol(r: WatchRow) -> str:
    expiry = r.inst.expiry_date
    text = f"{r.inst.display}  {expiry:%b %d}" if expiry else r.inst.display
    return f"{text} · {r.roll.marker}" if r.roll else text


def _columns() -> list[Column[WatchRow]]:
    def px(get: Callable[[Quote], float]) -> Callable[[WatchRow], str]:
        return lambda r: fmt.price(get(r.quote), r.decimals)

    return [
        Column(
            "Symbol",
            lambda r: r.inst.display,
            _symbol,
            numeric=False,
            tone=lambda r: "warn" if r.roll else None,
            # Written once per row (static), and again when a warning starts (_check_rolls).
            static=True,
            hint=lambda r: r.roll.text if r.roll else "",
        ),
        Column("Bid", lambda r: r.quote.bid, px(lambda q: q.bid)),
        Column("Ask", lambda r: r.quote.ask, px(lambda q: q.ask)),
        Column("Last", lambda r: r.quote.last, px(lambda q: q.last)),
        # Short titles as traders write them (the tips say them in full): the watchlist
        # shares the screen's width with the charts, and every column must stay in view.
        Column(
            "Chg",
            lambda r: r.quote.change,
            lambda r: fmt.signed(r.quote.change, r.decimals),
            tone=lambda r: fmt.tone(r.quote.change),
            tip="Change since the previous close",
        ),
        Column(
            "Chg %",
            lambda r: r.quote.change_pct,
            lambda r: (
                fmt.signed(r.quote.change_pct) + ("%" if not math.isnan(r.quote.change_pct) else "")
            ),
            tone=lambda r: fmt.tone(r.quote.change_pct),
            tip="Change since the previous close, in percent",
        ),
        Column(
            "Vol",
            lambda r: r.quote.volume,
            lambda r: fmt.volume(r.quote.volume),
            tip="Volume today",
        ),
        Column(
            "Age",
            lambda r: r.age,
            lambda r: fmt.age(r.age),
            tip="Time since the last update from the broker",
        ),
    ]


Roll = Callable[[Instrument], RollWarning | None]
""" an instrument's roll warning today (the desk's ``roll_warning``) """

#: How often the roll warnings are asked again (a day may pass while the desk runs).
ROLL_CHECK_MS = 60_000


class WatchlistModel(CoalescingTableModel[WatchRow]):
    """Rows follow the WatchlistStore; values follow the QuoteStore, coalesced; futures near
    their expiry follow ``roll`` (checked as rows come and once a minute)."""

    AGE_COLUMN = 7

    def __init__(
        self,
        watchlist: WatchlistStore,
        quotes: QuoteStore,
        stale_after: float,
        refresh_hz: float = 25.0,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
        roll: Roll | None = None,
    ) -> None:
        super().__init__(_columns(), refresh_hz, parent)
        self.watchlist = watchlist
        self.quotes = quotes
        self.stale_after = stale_after
        self.clock = clock
        self.roll = roll
        self._by_con_id: dict[int, Instrument] = {}
        self._decimals: dict[int, int] = {}
        self._rolls: dict[int, RollWarning | None] = {}
        """ conId -> its roll warning as last asked """
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
        self._roll_timer = QTimer(self)
        self._roll_timer.setInterval(ROLL_CHECK_MS)
        self._roll_timer.timeout.connect(self._check_rolls)
        self._roll_timer.start()

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
        self._decimals[inst.con_id] = inst.price_decimals
        self._rolls[inst.con_id] = self.roll(inst) if self.roll is not None else None
        self.insert_key(inst.con_id)

    def _on_removed(self, inst: Instrument, row: int) -> None:
        self.remove_key(inst.con_id)
        self._by_con_id.pop(inst.con_id, None)
        self._rolls.pop(inst.con_id, None)

    def _check_rolls(self) -> None:
        """Ask every row's roll warning again; when one changed (a day passed, the warning
        days were changed), rewrite the table, the static Symbol column included."""
        if self.roll is None:
            return
        fresh = {con_id: self.roll(inst) for con_id, inst in self._by_con_id.items()}
        if fresh != self._rolls:
            self._rolls = fresh
            self.repaint_all()

    def row(self, key: Hashable) -> WatchRow:
        """The current quote and age of one instrument."""
        con_id = int(key)  # type: ignore[call-overload]
        quote = self.quotes.get(con_id) or Quote(con_id)
        age = self.clock() - quote.time if quote.time else math.nan
        return WatchRow(
            self._by_con_id[con_id], quote, self._decimals[con_id], age, self._rolls.get(con_id)
        )

    def background(self, key: Hashable) -> str | None:
        """Stale rows (no update for ``stale_after`` seconds) are highlighted."""
        quote = self.quotes.get(int(key))  # type: ignore[call-overload]
        if quote is None or not quote.time:
            return "stale"
        return "stale" if self.clock() - quote.time > self.stale_after else None
