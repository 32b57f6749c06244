"""The order journal: round trips, change-only events, idempotent fills, the id floor, schema
migrations, the CSV export and its command line."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gc
import json
import math
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibdesk import journal_cli
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side, Tif
from ibdesk.trading import journal as journal_module
from ibdesk.trading.journal import SCHEMA_VERSION, Journal, JournalError, default_path

T0 = dt.datetime(2025, 3, 14, 18, 0, tzinfo=dt.UTC).timestamp()
DAY = 86400.0

ES = Instrument(
    495512563, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50.0, 0.25, "20261218", "ES", "",
    "E-mini S&P 500",
)  # fmt: skip
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL", 1.0, 0.01, "", "NMS",
                  "NASDAQ", "APPLE INC")  # fmt: skip


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 0.001) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path: Path, clock: Clock):
    with Journal(tmp_path / "data" / "journal.sqlite", clock=clock) as j:
        yield j


def order(ref: str = "ticket#a1b2c3", **changes: Any) -> OrderSnapshot:
    base = OrderSnapshot(
        ref, ES, Side.BUY, 2.0, OrderType.LIMIT, OrderState.WORKING, account="DU123",
        limit_price=5001.25, order_id=17, perm_id=9001, client_id=3, created=T0, updated=T0,
        broker_status="Submitted",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def fill(exec_id: str = "0000e0d5.6650f2a1.01.01", **changes: Any) -> FillSnapshot:
    base = FillSnapshot(exec_id, T0, "ticket#a1b2c3", 17, 9001, ES, Side.BUY, 1.0, 5001.25, "DU123")
    return dataclasses.replace(base, **changes)


def same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (repr shows every field, NaN as nan)."""
    return repr(a) == repr(b)


def exported(j: Journal, path: Path, since: float = 0.0) -> list[dict[str, str]]:
    out = path / "export.csv"
    count = j.export_csv(since, out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert count == len(rows)
    return rows


def order_events(j: Journal, path: Path) -> list[dict[str, str]]:
    return [r for r in exported(j, path) if r["kind"] == "order"]


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(OrderState))
def test_an_order_snapshot_comes_back_whole_in_every_state(
    journal: Journal, state: OrderState
) -> None:
    snap = order(
        state=state, order_type=OrderType.STOP_LIMIT, stop_price=5000.0, tif=Tif.GTC,
        parent_ref="ticket#parent", filled=1.0, avg_fill_price=5001.0, reason="why not",
    )  # fmt: skip
    journal.order(snap)
    (back,) = journal.orders_since(0.0)
    assert back == snap
    assert type(back.state) is OrderState and type(back.instrument.sec_type) is SecType


def test_nan_and_missing_prices_come_back_as_they_were(journal: Journal) -> None:
    snap = order(order_type=OrderType.MARKET, limit_price=None, avg_fill_price=math.nan,
                 created=math.nan)  # fmt: skip
    journal.order(snap)
    (back,) = journal.orders_since(0.0)
    assert back.limit_price is None and back.stop_price is None
    assert math.isnan(back.avg_fill_price) and math.isnan(back.created)
    assert same(back, snap)


def test_a_stock_and_a_future_keep_every_instrument_field(journal: Journal) -> None:
    journal.order(order("ticket#000001", instrument=ES))
    journal.order(order("ticket#000002", instrument=AAPL, qty=100.0, limit_price=187.31))
    back = {o.ref: o.instrument for o in journal.orders_since(0.0)}
    assert back == {"ticket#000001": ES, "ticket#000002": AAPL}
    assert back["ticket#000001"].expiry_date == dt.date(2026, 12, 18)
    assert back["ticket#000001"].tick_value == 12.5


def test_a_fill_comes_back_whole_with_nan_commission(journal: Journal) -> None:
    fut = fill("e1")
    stock = fill("e2", instrument=AAPL, side=Side.SELL, qty=100.0, price=187.31,
                 commission=1.0, realized_pnl=-12.5, time=T0 + 1)  # fmt: skip
    assert journal.fill(fut) and journal.fill(stock)
    back = journal.fills_since(0.0)
    assert [f.exec_id for f in back] == ["e1", "e2"]
    assert same(back[0], fut) and back[1] == stock
    assert math.isnan(back[0].commission) and math.isnan(back[0].realized_pnl)


# ---- order events ----------------------------------------------------------------------------


def test_order_events_are_written_only_on_real_changes(
    journal: Journal, clock: Clock, tmp_path: Path
) -> None:
    snaps = [
        order(state=OrderState.SENT, broker_status=""),  # new: an event
        order(state=OrderState.SENT, broker_status=""),  # the same: nothing
        order(state=OrderState.SENT, broker_status="", updated=T0 + 5),  # time only: no event
        order(state=OrderState.SENT, broker_status="", limit_price=5001.0),  # terms: no event
        order(limit_price=5001.0, broker_status="PreSubmitted"),  # state + status
        order(limit_price=5001.0, broker_status="Submitted"),  # status
        order(limit_price=5001.0, state=OrderState.PARTIAL, filled=1.0, avg_fill_price=5001.0),
        order(limit_price=5001.0, state=OrderState.PARTIAL, filled=1.0, avg_fill_price=5001.0),
        order(
            limit_price=5001.0,
            state=OrderState.PARTIAL,
            filled=1.0,
            avg_fill_price=5001.0,
            reason="odd lot",
        ),
        order(
            state=OrderState.FILLED,
            broker_status="Filled",
            filled=2.0,
            avg_fill_price=5001.0,
            limit_price=5001.0,
            reason="odd lot",
        ),
    ]
    for snap in snaps:
        journal.order(snap)
        clock.advance()
    events = order_events(journal, tmp_path)
    assert [(e["what"], json.loads(e["detail"])["broker_status"]) for e in events] == [
        ("Sent", ""),
        ("Working", "PreSubmitted"),
        ("Working", "Submitted"),
        ("Partially filled", "Submitted"),
        ("Partially filled", "Submitted"),
        ("Filled", "Filled"),
    ]
    assert json.loads(events[3]["detail"])["filled"] == 1.0
    assert json.loads(events[4]["detail"])["reason"] == "odd lot"
    assert journal.orders_since(0.0) == [snaps[-1]]  # the terms were kept even without events


def test_an_event_row_says_what_changed_and_when(
    journal: Journal, clock: Clock, tmp_path: Path
) -> None:
    journal.order(order(state=OrderState.SENT))
    clock.advance(2.25)
    journal.order(order(state=OrderState.REJECTED, broker_status="Inactive", reason="margin"))
    first, second = order_events(journal, tmp_path)
    assert first["time"] == "2025-03-14T18:00:00.000Z"
    assert second["time"] == "2025-03-14T18:00:02.250Z"
    assert second["ref"] == "ticket#a1b2c3" and second["what"] == "Rejected"
    assert json.loads(second["detail"]) == {
        "symbol": "ESZ6", "side": "BUY", "broker_status": "Inactive", "filled": 0.0,
        "avg_fill_price": None, "reason": "margin",
    }  # fmt: skip


# ---- fills and commissions -------------------------------------------------------------------


def test_a_fill_is_written_once_per_exec_id(journal: Journal, tmp_path: Path) -> None:
    assert journal.fill(fill("e1")) is True
    assert journal.fill(fill("e1", price=1.0)) is False
    assert [f.price for f in journal.fills_since(0.0)] == [5001.25]
    assert journal.exec_ids_since(0.0) == {"e1"}
    assert [r["kind"] for r in exported(journal, tmp_path)] == ["fill"]


def test_a_commission_is_applied_to_its_fill_when_it_comes(
    journal: Journal, tmp_path: Path
) -> None:
    journal.fill(fill("e1"))
    journal.commission("e1", 0.85, math.nan)
    (f,) = journal.fills_since(0.0)
    assert f.commission == 0.85 and math.isnan(f.realized_pnl)
    journal.commission("e1", 0.85, math.nan)  # re-sent on reconciliation: not logged again
    journal.commission("e1", 0.85, 125.0)
    (f,) = journal.fills_since(0.0)
    assert (f.commission, f.realized_pnl) == (0.85, 125.0)
    rows = [r for r in exported(journal, tmp_path) if r["kind"] == "commission"]
    assert [(r["ref"], r["what"]) for r in rows] == [("ticket#a1b2c3", "e1")] * 2
    assert json.loads(rows[0]["detail"]) == {"commission": 0.85, "realized_pnl": None}


def test_a_commission_that_comes_before_its_fill_is_kept_for_it(journal: Journal) -> None:
    journal.commission("e1", 2.05, -10.0)
    journal.fill(fill("e1"))
    journal.fill(fill("e2", commission=1.5))
    got = {f.exec_id: (f.commission, f.realized_pnl) for f in journal.fills_since(0.0)}
    assert got["e1"] == (2.05, -10.0)
    assert got["e2"][0] == 1.5 and math.isnan(got["e2"][1])


def test_fills_and_exec_ids_since_use_the_execution_time(journal: Journal) -> None:
    for i in range(5):
        journal.fill(fill(f"e{i}", time=T0 + i))
    assert [f.exec_id for f in journal.fills_since(T0 + 2)] == ["e2", "e3", "e4"]
    assert journal.exec_ids_since(T0 + 3) == {"e3", "e4"}


# ---- id floor and values -------------------------------------------------------------------


def test_the_id_floor_never_goes_down_and_is_kept_per_client(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        assert j.id_floor(3) == 1
        assert j.raise_id_floor(3, 100) == 100
        assert j.raise_id_floor(3, 50) == 100
        assert j.raise_id_floor(4, 7) == 7
        assert j.raise_id_floor(3, 101) == 101
    with Journal(path) as j:  # a gateway restart that rolls nextValidId back changes nothing
        assert j.raise_id_floor(3, 1) == 101
        assert (j.id_floor(3), j.id_floor(4), j.id_floor(5)) == (101, 7, 1)


def test_values_are_stored_as_json_and_changes_logged(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=clock) as j:
        assert j.get_value("trading_state") is None
        assert j.get_value("trading_state", "ACTIVE") == "ACTIVE"
        j.set_value("trading_state", "HALTED")
        j.set_value("trading_state", "HALTED")  # no change, no log row
        j.set_value("limits", {"max_qty": 5, "loss": math.nan, "symbols": ["ES", "NQ"]})
        j.set_value("trading_state", OrderState.WORKING)  # a StrEnum is stored by value
    with Journal(path, clock=clock) as j:
        assert j.get_value("trading_state") == "Working"
        assert j.get_value("limits") == {"max_qty": 5, "loss": None, "symbols": ["ES", "NQ"]}
        rows = [r for r in exported(j, tmp_path) if r["kind"] == "value"]
    assert [(r["what"], json.loads(r["detail"])) for r in rows] == [
        ("trading_state", "HALTED"),
        ("limits", {"max_qty": 5, "loss": None, "symbols": ["ES", "NQ"]}),
        ("trading_state", "Working"),
    ]


# ---- orders_since --------------------------------------------------------------------------


def test_orders_since_brings_back_todays_orders_and_old_live_ones(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=clock) as j:
        old_live = order("ticket#0000aa", created=T0, updated=T0, state=OrderState.WORKING)
        old_done = order("ticket#0000bb", created=T0, updated=T0 + 1, state=OrderState.FILLED)
        old_unknown = order("ticket#0000cc", created=T0 + 2, updated=T0 + 2,
                            state=OrderState.UNKNOWN)  # fmt: skip
        for snap in (old_live, old_done, old_unknown):
            j.order(snap)
        clock.advance(2 * DAY)
        today = order("ticket#0000dd", created=T0 + 2 * DAY, updated=T0 + 2 * DAY,
                      state=OrderState.CANCELLED)  # fmt: skip
        j.order(today)
    with Journal(path, clock=clock) as j:
        assert j.orders_since(T0 + DAY) == [old_live, old_unknown, today]
        assert j.orders_since(T0) == [old_live, old_done, old_unknown, today]
        assert j.orders_since(T0 + 3 * DAY) == [old_live, old_unknown]


def test_orders_since_counts_when_the_journal_learned_of_an_order(
    journal: Journal, clock: Clock
) -> None:
    # Reconciliation can bring an order whose snapshot says nothing about when (updated 0).
    clock.advance(DAY)
    snap = order("ext:123", state=OrderState.CANCELLED, created=0.0, updated=0.0)
    journal.order(snap)
    assert journal.orders_since(T0 + DAY) == [snap]
    assert journal.orders_since(T0 + DAY + 1) == []


# ---- hypothesis: the journal keeps the last snapshot per ref ---------------------------------

prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)
snapshots = st.builds(
    OrderSnapshot,
    ref=st.sampled_from(["ticket#000001", "strategy:trend#0c1d7e", "ext:42"]),
    instrument=st.sampled_from([ES, AAPL]),
    side=st.sampled_from(Side),
    qty=st.floats(min_value=1, max_value=1e4),
    order_type=st.sampled_from(OrderType),
    state=st.sampled_from(OrderState),
    account=st.sampled_from(["", "DU1"]),
    limit_price=st.none() | prices,
    stop_price=st.none() | prices,
    tif=st.sampled_from(Tif),
    order_id=st.integers(0, 2**31 - 1),
    perm_id=st.integers(0, 2**31 - 1),
    filled=st.sampled_from([0.0, 1.0, 2.5]),
    avg_fill_price=st.just(math.nan) | prices,
    broker_status=st.sampled_from(["", "Submitted", "Filled"]),
    reason=st.sampled_from(["", "margin", "ünïcødé ✓"]),
    created=st.floats(min_value=1, max_value=2e9),  # -0.0 would come back as 0.0
    updated=st.floats(min_value=1, max_value=2e9),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=st.lists(snapshots, max_size=25))
def test_any_sequence_of_writes_leaves_the_last_snapshot_per_ref(
    tmp_path_factory: pytest.TempPathFactory, writes: list[OrderSnapshot]
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    last: dict[str, OrderSnapshot] = {}
    changes: dict[str, int] = {}
    for snap in writes:
        key = (snap.state, snap.filled, snap.broker_status, snap.reason)
        prev = last.get(snap.ref)
        if prev is None or (prev.state, prev.filled, prev.broker_status, prev.reason) != key:
            changes[snap.ref] = changes.get(snap.ref, 0) + 1
        last[snap.ref] = snap
    with Journal(folder / "journal.sqlite") as j:
        for snap in writes:
            j.order(snap)
        back = {o.ref: o for o in j.orders_since(-math.inf)}
        events: dict[str, int] = {}
        for row in order_events(j, folder):
            events[row["ref"]] = events.get(row["ref"], 0) + 1
    assert {ref: repr(o) for ref, o in back.items()} == {ref: repr(o) for ref, o in last.items()}
    assert events == changes


# ---- opening, migrating, refusing ----------------------------------------------------------


def header(path: Path) -> tuple[int, int, str]:
    db = sqlite3.connect(path)
    try:
        return (
            db.execute("PRAGMA user_version").fetchone()[0],
            db.execute("PRAGMA application_id").fetchone()[0],
            db.execute("PRAGMA journal_mode").fetchone()[0],
        )
    finally:
        db.close()


def test_a_new_journal_is_created_with_its_folders_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    with Journal(str(path)) as j:
        assert j.path == path
        # Per connection, so only the Journal's own connection can say (hence _db).
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert j._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert header(path) == (SCHEMA_VERSION, journal_module.APPLICATION_ID, "wal")


def test_an_empty_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.touch()
    with Journal(path) as j:
        j.fill(fill())
    with Journal(path) as j:
        assert j.exec_ids_since(0.0) == {fill().exec_id}
    assert header(path)[:2] == (SCHEMA_VERSION, journal_module.APPLICATION_ID)


def test_a_database_at_version_0_without_tables_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE scratch (x)")
    db.execute("DROP TABLE scratch")
    db.commit()
    db.close()
    assert path.read_bytes().startswith(b"SQLite format 3\0")
    assert header(path)[0] == 0
    with Journal(path) as j:
        j.order(order())
        assert j.orders_since(0.0) == [order()]
    assert header(path)[0] == SCHEMA_VERSION


def test_a_journal_from_a_newer_ibdesk_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalError, match="newer ibdesk"):
        Journal(path)
    assert header(path)[0] == SCHEMA_VERSION + 1


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    garbage = b"this is a spreadsheet, honest\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(JournalError, match="cannot be used as a journal"):
        Journal(path)
    assert path.read_bytes() == garbage


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="not an ibdesk journal"):
        Journal(path)


def test_a_folder_is_refused_with_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"cannot open|cannot be used as a journal"):
        Journal(tmp_path)


def test_a_new_migration_step_is_applied_to_an_existing_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        j.fill(fill())
    step = (
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
        "INSERT INTO notes VALUES (1, 'x')",
    )
    monkeypatch.setattr(journal_module, "MIGRATIONS", (*journal_module.MIGRATIONS, step))
    with Journal(path) as j:
        assert j.exec_ids_since(0.0) == {fill().exec_id}
        assert j._db.execute("SELECT text FROM notes").fetchall() == [("x",)]
    assert header(path)[0] == SCHEMA_VERSION + 1


def test_a_failing_migration_step_leaves_the_journal_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    broken = ("CREATE TABLE notes (id INTEGER PRIMARY KEY)", "THIS IS NOT SQL")
    monkeypatch.setattr(journal_module, "MIGRATIONS", (*journal_module.MIGRATIONS, broken))
    with pytest.raises(JournalError):
        Journal(path)
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "notes" not in tables and "fills" in tables
    assert header(path)[0] == SCHEMA_VERSION


def test_default_path_is_in_the_user_data_folder() -> None:
    assert default_path() == platformdirs.user_data_path("ibdesk") / "journal.sqlite"


def checkpoint_threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"journal checkpoints {path.name}"]


def test_close_is_idempotent_and_the_journal_reopens(tmp_path: Path) -> None:
    path = tmp_path / "close-me.sqlite"
    j = Journal(path)
    j.fill(fill())
    assert len(checkpoint_threads(path)) == 1
    j.close()
    j.close()
    assert checkpoint_threads(path) == []
    with pytest.raises(sqlite3.ProgrammingError):
        j.fill(fill("e2"))
    with Journal(path) as again:
        assert again.exec_ids_since(0.0) == {fill().exec_id}


def test_a_journal_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    path = tmp_path / "dropped.sqlite"
    j = Journal(path)
    j.fill(fill())
    assert len(checkpoint_threads(path)) == 1
    del j
    gc.collect()
    assert checkpoint_threads(path) == []
    with Journal(path) as again:
        assert again.exec_ids_since(0.0) == {fill().exec_id}


# ---- export --------------------------------------------------------------------------------


def write_a_day(j: Journal, clock: Clock) -> None:
    """One of everything, a second apart."""
    ref = "ticket#a1b2c3"
    j.connection("connected", "127.0.0.1:7497 client 3")
    clock.advance(1.0)
    j.intent(ref, "order", "ticket", "DU123",
             {"side": Side.BUY, "qty": 2.0, "limit": 5001.25, "instrument": AAPL,
              "stop": math.nan})  # fmt: skip
    clock.advance(1.0)
    j.raise_id_floor(3, 18)
    clock.advance(1.0)
    j.order(order(ref, state=OrderState.SENT, broker_status=""))
    clock.advance(1.0)
    j.order(order(ref, state=OrderState.FILLED, broker_status="Filled", filled=2.0,
                  avg_fill_price=5001.25))  # fmt: skip
    clock.advance(1.0)
    j.fill(fill("e1", qty=2.0, time=T0 - 0.5))
    clock.advance(1.0)
    j.commission("e1", 1.7, math.nan)
    clock.advance(1.0)
    j.error(None, 2104, "Market data farm connection is OK:usfarm")
    clock.advance(1.0)
    j.error(ref, 201, "Order rejected - reason: margin")
    clock.advance(1.0)
    j.action("trader", "kill", "flatten all")
    clock.advance(1.0)
    j.set_value("trading_state", "HALTED")
    clock.advance(1.0)
    j.intent("", "cancel_all", "kill", "DU123", {})


def test_export_writes_every_kind_of_row_in_time_order(
    journal: Journal, clock: Clock, tmp_path: Path
) -> None:
    write_a_day(journal, clock)
    rows = exported(journal, tmp_path)
    assert [(r["kind"], r["what"]) for r in rows] == [
        ("connection", "connected"),
        ("intent", "order"),
        ("id_floor", "client 3"),
        ("order", "Sent"),
        ("order", "Filled"),
        ("fill", "BUY 2 ESZ6 @ 5001.25"),
        ("commission", "e1"),
        ("error", "2104"),
        ("error", "201"),
        ("action", "kill"),
        ("value", "trading_state"),
        ("intent", "cancel_all"),
    ]
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    assert times[0] == "2025-03-14T18:00:00.000Z" and times[-1] == "2025-03-14T18:00:11.000Z"
    by_kind = {(r["kind"], r["what"]): r for r in rows}
    intent = json.loads(by_kind["intent", "order"]["detail"])
    assert intent["source"] == "ticket" and intent["account"] == "DU123"
    assert intent["details"]["side"] == "BUY" and intent["details"]["stop"] is None
    assert intent["details"]["instrument"]["symbol"] == "AAPL"
    fill_detail = json.loads(by_kind["fill", "BUY 2 ESZ6 @ 5001.25"]["detail"])
    assert fill_detail["exec_id"] == "e1"
    assert fill_detail["exec_time"] == "2025-03-14T17:59:59.500Z"  # the execution's own time
    assert by_kind["error", "201"]["ref"] == "ticket#a1b2c3"
    assert by_kind["error", "2104"]["ref"] == ""
    assert by_kind["error", "201"]["detail"] == "Order rejected - reason: margin"
    assert by_kind["connection", "connected"]["detail"] == "127.0.0.1:7497 client 3"
    assert json.loads(by_kind["action", "kill"]["detail"]) == {
        "who": "trader",
        "detail": "flatten all",
    }
    assert by_kind["id_floor", "client 3"]["detail"] == "18"


def test_export_since_leaves_out_what_came_before(
    journal: Journal, clock: Clock, tmp_path: Path
) -> None:
    journal.connection("connected")
    journal.fill(fill("old"))
    clock.advance(60.0)
    journal.connection("lost", "socket closed")
    journal.fill(fill("new", time=T0 + 60))
    rows = exported(journal, tmp_path, since=T0 + 30)
    assert [(r["kind"], r["what"]) for r in rows] == [
        ("connection", "lost"),
        ("fill", "BUY 1 ESZ6 @ 5001.25"),
    ]
    assert json.loads(rows[1]["detail"])["exec_id"] == "new"
    assert exported(journal, tmp_path, since=T0 + 61) == []


def test_an_unknown_intent_kind_is_refused(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown intent kind"):
        journal.intent("ticket#1", "replace", "ticket", "DU1", {})


# ---- the command line ----------------------------------------------------------------------


@pytest.fixture
def day_journal(tmp_path: Path) -> Path:
    """A journal with a row five days before T0 and a day of rows at T0."""
    path = tmp_path / "journal.sqlite"
    clock = Clock(T0 - 5 * DAY)
    with Journal(path, clock=clock) as j:
        j.connection("connected", "last week")
        clock.now = T0
        write_a_day(j, clock)
    return path


def test_cli_exports_since_a_date(
    day_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    # 2025-03-14 local midnight is before T0 (18:00 UTC) and after last week in every zone.
    code = journal_cli.main(
        ["export", "--since", "2025-03-14", "--csv", str(out), "--journal", str(day_journal)]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "wrote 12 journal rows since 2025-03-14T00:00" in printed.out
    assert str(out) in printed.out
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time,kind,ref,what,detail" and len(lines) == 13
    code = journal_cli.main(
        ["export", "--since", "2025-03-14T18:00:05Z", "--csv", str(out),
         "--journal", str(day_journal)]
    )  # fmt: skip
    assert code == 0
    assert "wrote 7 journal rows" in capsys.readouterr().out


def test_cli_since_is_local_midnight_or_an_iso_datetime() -> None:
    assert journal_cli.parse_since("2025-03-14") == dt.datetime(2025, 3, 14).timestamp()
    assert journal_cli.parse_since("2025-03-14T18:00:00Z") == T0
    assert journal_cli.parse_since("2025-03-14T19:00:00+01:00") == T0
    assert (
        journal_cli.parse_since("2025-03-14T09:30") == dt.datetime(2025, 3, 14, 9, 30).timestamp()
    )


@pytest.mark.parametrize("since", ["yesterday", "14/03/2025", "2025-13-01", ""])
def test_cli_refuses_a_bad_date(
    day_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    out = tmp_path / "out.csv"
    code = journal_cli.main(
        ["export", "--since", since, "--csv", str(out), "--journal", str(day_journal)]
    )
    assert code == 2
    assert "is not a date: use YYYY-MM-DD" in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_a_missing_journal_without_creating_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "journal.sqlite"
    code = journal_cli.main(
        ["export", "--since", "2025-03-14", "--csv", str(tmp_path / "o.csv"), "--journal",
         str(missing)]
    )  # fmt: skip
    assert code == 2
    assert f"no journal at {missing}" in capsys.readouterr().err
    assert not missing.parent.exists()


def test_cli_reports_a_file_that_is_not_a_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not a database at all " * 100)
    code = journal_cli.main(
        ["export", "--since", "2025-03-14", "--csv", str(tmp_path / "o.csv"), "--journal",
         str(bogus)]
    )  # fmt: skip
    assert code == 2
    assert "cannot be used as a journal" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert journal_cli.main([]) == 2
    assert journal_cli.main(["export", "--since", "2025-03-14"]) == 2
    assert "--csv" in capsys.readouterr().err
    assert journal_cli.main(["export", "--help"]) == 0


def test_cli_runs_as_a_module(day_journal: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    args = ["export", "--since", "2025-03-14", "--csv", str(out), "--journal", str(day_journal)]
    done = subprocess.run(
        [sys.executable, "-m", "ibdesk.journal_cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 12 journal rows" in done.stdout
    assert len(out.read_text(encoding="utf-8").splitlines()) == 13
    bad = subprocess.run(
        [sys.executable, "-m", "ibdesk.journal_cli", "export", "--since", "soon", "--csv",
         str(out), "--journal", str(day_journal)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_a_version_1_journal_gains_the_why_of_its_orders(tmp_path: Path) -> None:
    """Schema 1 -> 2 adds orders.why (a strategy's signal); old rows read back with none."""
    from ibdesk.trading.journal.schema import MIGRATIONS

    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id = {journal_module.APPLICATION_ID}")
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Journal(path) as j:
        j.order(order())
        j.order(dataclasses.replace(order(), ref="strategy:breakout#1.9", why="close > high 20"))
        whys = {o.ref: o.why for o in j.orders_since(0.0)}
    assert whys == {order().ref: "", "strategy:breakout#1.9": "close > high 20"}
    assert header(path)[0] == SCHEMA_VERSION == 2


def test_a_batch_is_one_transaction_and_a_failed_one_writes_nothing(tmp_path: Path) -> None:
    """The gate journals an order (intent and queued state) or a bracket's three in one
    commit; if anything in the batch fails, none of it is kept."""
    with Journal(tmp_path / "journal.sqlite") as j:
        with j.batch():
            j.intent("ticket#1.1", "order", "ticket", "DU123", {"qty": 1})
            j.order(order("ticket#1.1"))
            with j.batch():  # nested: joins the outer one
                j.order(order("ticket#1.2"))
            assert j._db.in_transaction  # nothing committed yet
        assert not j._db.in_transaction
        assert {o.ref for o in j.orders_since(0.0)} == {"ticket#1.1", "ticket#1.2"}
        with pytest.raises(RuntimeError), j.batch():
            j.order(order("ticket#1.3"))
            raise RuntimeError("the disk is full")
        assert {o.ref for o in j.orders_since(0.0)} == {"ticket#1.1", "ticket#1.2"}
        j.order(order("ticket#1.4"))  # and the journal goes on
        assert j.knows("ticket#1.4")
