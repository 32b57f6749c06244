"""The state stores announce exactly the changes they hold."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ibdesk import events
from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore

ES = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
AAPL = Instrument(2, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")


def test_watchlist_adds_once_and_removes() -> None:
    store = WatchlistStore()
    seen: list[tuple[str, int]] = []
    store.added += lambda inst, row: seen.append(("add", row))
    store.removed += lambda inst, row: seen.append(("remove", row))
    assert store.add(ES) and store.add(AAPL) and not store.add(ES)
    assert store.remove(1) and not store.remove(1)
    assert seen == [("add", 0), ("add", 1), ("remove", 0)]
    assert store.symbols() == ["AAPL"]


def test_quotes_announce_updates() -> None:
    store = QuoteStore()
    seen: list[int] = []
    store.updated += seen.append
    store.put(Quote(1, bid=1.0))
    assert seen == [1] and store.get(1) is not None


def test_positions_add_update_remove() -> None:
    store = PositionStore()
    seen: list[str] = []
    store.added += lambda k: seen.append("added")
    store.updated += lambda k: seen.append("updated")
    store.removed += lambda k: seen.append("removed")
    pos = PositionSnapshot("DU1", ES, 2, 340000.0)
    store.put(pos)
    store.put(pos)  # unchanged: silent
    store.merge(pos.key, daily_pnl=12.5)
    store.put(PositionSnapshot("DU1", ES, 0, 0.0))
    assert seen == ["added", "updated", "removed"]
    assert pos.avg_price == 6800.0


def test_account_merge_only_announces_changes() -> None:
    store = AccountStore()
    seen: list[str] = []
    store.updated += seen.append
    store.merge("DU1", net_liquidation=1.0)
    store.merge("DU1", net_liquidation=1.0)
    assert seen == ["DU1"]
    assert store.get("DU1").is_paper


def test_a_raising_listener_is_logged_not_swallowed(
    caplog: pytest.LogCaptureFixture, expected_faults: Any
) -> None:
    expected_faults.allow_errors("ibdesk.events")
    event = events.new("probe")

    def broken() -> None:
        raise RuntimeError("listener bug")

    event += broken
    with caplog.at_level(logging.ERROR, logger="ibdesk.events"):
        event.emit()
    [record] = [r for r in caplog.records if r.name == "ibdesk.events"]
    assert "listener bug" in record.getMessage()
