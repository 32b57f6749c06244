"""The order journal: an SQLite file that loses nothing that was acknowledged.

Every intent, order state change, fill, commission, error, connection event, user action and
stored value is written and committed before the call returns. The file is in WAL mode with
``synchronous=NORMAL``: a commit is a ``write()`` to the WAL, so it survives the process being
killed (SIGKILL, a crash); only an operating-system crash or power loss can lose the last
commits, and that trade is what keeps a write well under a millisecond. A background thread
with its own connection moves the WAL into the database (a PASSIVE checkpoint, which never
blocks the writer) so that writes rarely pay for that themselves.

The schema is versioned with ``PRAGMA user_version`` and grows by :data:`MIGRATIONS`, one step
per version, each applied in its own transaction. ``PRAGMA application_id`` marks the file as
an ibdesk journal, so another program's database is refused instead of written into.

Storage conventions: floats are REAL and NaN is NULL (read back as NaN, or as None for the
optional prices); enums are stored by value; an Instrument is stored as its fields in every row
that carries one, so old rows keep the contract as it was then. ``time`` columns (``logged`` in
``fills``, whose ``time`` is the execution's) are the journal's clock when the row was written,
in seconds since the epoch, made strictly increasing within a process so that the export's time
order is the order things happened in.

Only the thread that created a Journal may use it (sqlite3 checks).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import heapq
import json
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import platformdirs

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side, Tif

#: Marks the file as an ibdesk journal (``PRAGMA application_id``): "ibJn".
APPLICATION_ID = 0x69624A6E

INTENT_KINDS = ("order", "bracket", "modify", "cancel", "cancel_all")

_AUTOCHECKPOINT_PAGES = 4000
_CLOCK_SETBACK = 1.0  # seconds: a clock set back further is followed (see Journal._now)
_CHECKPOINT_INTERVAL = 0.25  # seconds between background checkpoints while there are writes

_INSTRUMENT = (
    "con_id", "symbol", "sec_type", "exchange", "currency", "local_symbol", "multiplier",
    "min_tick", "expiry", "trading_class", "primary_exchange", "long_name",
)  # fmt: skip
_INSTRUMENT_DDL = """con_id INTEGER NOT NULL, symbol TEXT NOT NULL, sec_type TEXT NOT NULL,
    exchange TEXT NOT NULL, currency TEXT NOT NULL, local_symbol TEXT NOT NULL,
    multiplier REAL, min_tick REAL, expiry TEXT NOT NULL, trading_class TEXT NOT NULL,
    primary_exchange TEXT NOT NULL, long_name TEXT NOT NULL"""

#: Schema steps: MIGRATIONS[n] takes a file from user_version n to n + 1. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        f"""CREATE TABLE orders (ref TEXT PRIMARY KEY, {_INSTRUMENT_DDL},
            side TEXT NOT NULL, qty REAL, order_type TEXT NOT NULL, state TEXT NOT NULL,
            account TEXT NOT NULL, limit_price REAL, stop_price REAL, tif TEXT NOT NULL,
            order_id INTEGER NOT NULL, perm_id INTEGER NOT NULL, client_id INTEGER NOT NULL,
            parent_ref TEXT NOT NULL, filled REAL, avg_fill_price REAL,
            broker_status TEXT NOT NULL, reason TEXT NOT NULL, created REAL, updated REAL,
            live INTEGER NOT NULL, seen REAL NOT NULL)""",
        "CREATE INDEX orders_live ON orders (live) WHERE live = 1",
        "CREATE INDEX orders_seen ON orders (seen)",
        """CREATE TABLE order_events (id INTEGER PRIMARY KEY, time REAL NOT NULL,
            ref TEXT NOT NULL REFERENCES orders (ref), state TEXT NOT NULL,
            broker_status TEXT NOT NULL, filled REAL, avg_fill_price REAL,
            reason TEXT NOT NULL)""",
        "CREATE INDEX order_events_time ON order_events (time)",
        "CREATE INDEX order_events_ref ON order_events (ref, id)",
        """CREATE TABLE intents (id INTEGER PRIMARY KEY, time REAL NOT NULL, ref TEXT NOT NULL,
            kind TEXT NOT NULL, source TEXT NOT NULL, account TEXT NOT NULL,
            parent_ref TEXT NOT NULL, details TEXT NOT NULL)""",
        "CREATE INDEX intents_time ON intents (time)",
        "CREATE INDEX intents_ref ON intents (ref)",
        f"""CREATE TABLE fills (id INTEGER PRIMARY KEY, exec_id TEXT NOT NULL UNIQUE,
            time REAL, ref TEXT NOT NULL, order_id INTEGER NOT NULL, perm_id INTEGER NOT NULL,
            {_INSTRUMENT_DDL}, side TEXT NOT NULL, qty REAL, price REAL,
            account TEXT NOT NULL, commission REAL, realized_pnl REAL, logged REAL NOT NULL)""",
        "CREATE INDEX fills_time ON fills (time)",
        "CREATE INDEX fills_logged ON fills (logged)",
        "CREATE INDEX fills_ref ON fills (ref)",
        """CREATE TABLE commissions (id INTEGER PRIMARY KEY, time REAL NOT NULL,
            exec_id TEXT NOT NULL, commission REAL, realized_pnl REAL)""",
        "CREATE INDEX commissions_time ON commissions (time)",
        "CREATE INDEX commissions_exec_id ON commissions (exec_id, id)",
        """CREATE TABLE errors (id INTEGER PRIMARY KEY, time REAL NOT NULL, ref TEXT,
            code INTEGER NOT NULL, text TEXT NOT NULL)""",
        "CREATE INDEX errors_time ON errors (time)",
        """CREATE TABLE connections (id INTEGER PRIMARY KEY, time REAL NOT NULL,
            event TEXT NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX connections_time ON connections (time)",
        """CREATE TABLE actions (id INTEGER PRIMARY KEY, time REAL NOT NULL, who TEXT NOT NULL,
            action TEXT NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX actions_time ON actions (time)",
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, time REAL NOT NULL)",
        """CREATE TABLE value_changes (id INTEGER PRIMARY KEY, time REAL NOT NULL,
            key TEXT NOT NULL, value TEXT NOT NULL)""",
        "CREATE INDEX value_changes_time ON value_changes (time)",
        """CREATE TABLE id_floors (client_id INTEGER PRIMARY KEY, next_id INTEGER NOT NULL,
            time REAL NOT NULL)""",
        "CREATE INDEX id_floors_time ON id_floors (time)",
    ),
)

#: The schema version this ibdesk writes.
SCHEMA_VERSION: int = len(MIGRATIONS)

_ORDER = (
    "ref", *_INSTRUMENT, "side", "qty", "order_type", "state", "account", "limit_price",
    "stop_price", "tif", "order_id", "perm_id", "client_id", "parent_ref", "filled",
    "avg_fill_price", "broker_status", "reason", "created", "updated",
)  # fmt: skip
_FILL = (
    "exec_id", "time", "ref", "order_id", "perm_id", *_INSTRUMENT, "side", "qty", "price",
    "account", "commission", "realized_pnl",
)  # fmt: skip
# Columns whose change makes an order event, as positions in _ORDER.
_EVENT_KEY = tuple(_ORDER.index(c) for c in ("state", "filled", "broker_status", "reason"))
_ENUMS: dict[str, Callable[[Any], Any]] = {
    "sec_type": SecType, "side": Side, "order_type": OrderType, "state": OrderState, "tif": Tif,
}  # fmt: skip
_OPTIONAL = frozenset({"limit_price", "stop_price"})  # NULL reads back as None, not NaN
_FLOATS = frozenset({
    "multiplier", "min_tick", "qty", "filled", "avg_fill_price", "created", "updated", "time",
    "price", "commission", "realized_pnl",
})  # fmt: skip

_SELECT_ORDER = f"SELECT {', '.join(_ORDER)} FROM orders"
_SELECT_ORDER_BY_REF = f"{_SELECT_ORDER} WHERE ref = ?"
_UPSERT_ORDER = (
    f"INSERT INTO orders ({', '.join(_ORDER)}, live, seen) "
    f"VALUES ({', '.join('?' * (len(_ORDER) + 2))}) ON CONFLICT (ref) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_ORDER[1:], "live", "seen"))
)
_INSERT_EVENT = (
    "INSERT INTO order_events (time, ref, state, broker_status, filled, avg_fill_price, reason)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LAST_COMMISSION = (
    "SELECT {} FROM commissions WHERE exec_id = ? ORDER BY id DESC LIMIT 1"  # one column each
)
_INSERT_FILL = (
    f"INSERT INTO fills ({', '.join(_FILL)}, logged) VALUES ({', '.join('?' * (len(_FILL) - 2))}, "
    f"coalesce(?, ({_LAST_COMMISSION.format('commission')})), "
    f"coalesce(?, ({_LAST_COMMISSION.format('realized_pnl')})), ?) "
    "ON CONFLICT (exec_id) DO NOTHING"
)
_SELECT_FILL = f"SELECT {', '.join(_FILL)} FROM fills"


class JournalError(Exception):
    """The file cannot be used as a journal: not SQLite, another program's database, or
    written by a newer ibdesk."""


def default_path() -> Path:
    """``journal.sqlite`` in the user data folder (e.g. ~/.local/share/ibdesk on Linux)."""
    return platformdirs.user_data_path("ibdesk") / "journal.sqlite"


class Journal:
    """The order journal; every write is committed before it returns.

    Args:
        path: the SQLite file; it and its parent folders are created when missing.
        clock: seconds since the epoch, stamped on every row written.

    Raises:
        JournalError: the file is not SQLite, not an ibdesk journal, or from a newer ibdesk.
    """

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._last = -math.inf
        self._db = _open(self.path)
        self._closed = False
        self._checkpointer = _Checkpointer(self.path)
        self._wrote = self._checkpointer.wrote.set
        # Stops the thread of a Journal that is dropped without close(), too.
        self._stop_checkpoints = weakref.finalize(self, self._checkpointer.stop)

    def close(self) -> None:
        """Close the file (idempotent); the WAL is checkpointed into the database."""
        if not self._closed:
            self._closed = True
            self._stop_checkpoints()
            self._db.close()  # an open transaction (a failed write) is rolled back

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writes -------------------------------------------------------------------------

    def intent(
        self,
        ref: str,
        kind: str,
        source: str,
        account: str,
        details: Mapping[str, Any],
        parent_ref: str = "",
    ) -> None:
        """Record what someone asked for, before it is sent.

        Args:
            ref: the orderRef the intent concerns ("" for cancel_all).
            kind: one of ``order``, ``bracket``, ``modify``, ``cancel``, ``cancel_all``.
            source: who asked (``ticket``, ``strategy:trend`` ...).
            account: the account it is for.
            details: the intent's terms; JSON-able (enums, dataclasses and NaN are handled).
            parent_ref: the parent's orderRef for a bracket child.
        """
        if kind not in INTENT_KINDS:
            raise ValueError(f"unknown intent kind {kind!r}; expected one of {INTENT_KINDS}")
        self._execute(
            "INSERT INTO intents (time, ref, kind, source, account, parent_ref, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._now(), ref, kind, source, account, parent_ref, _dumps(dict(details))),
        )

    def order(self, snap: OrderSnapshot) -> None:
        """Keep the latest snapshot of an order, and log an event when its state, filled
        quantity, broker status or reason changed (a snapshot equal to the stored one writes
        nothing)."""
        row = _order_row(snap)
        old = self._db.execute(_SELECT_ORDER_BY_REF, (snap.ref,)).fetchone()
        if old == row:
            return
        now = self._now()
        with self._transaction() as db:
            seen = now if math.isnan(snap.updated) else max(now, snap.updated)
            db.execute(_UPSERT_ORDER, (*row, int(snap.state.live), seen))
            if old is None or any(old[i] != row[i] for i in _EVENT_KEY):
                event = (snap.state.value, snap.broker_status, _real(snap.filled))
                extra = (_real(snap.avg_fill_price), snap.reason)
                db.execute(_INSERT_EVENT, (now, snap.ref, *event, *extra))

    def fill(self, fill: FillSnapshot) -> bool:
        """Record an execution once; a commission that arrived first is applied to it.

        Returns:
            False (and nothing written) when the exec_id is already in the journal.
        """
        cur = self._execute(_INSERT_FILL, _fill_params(fill, self._now()))
        return cur.rowcount == 1

    def commission(self, exec_id: str, commission: float, realized_pnl: float) -> None:
        """Record a commission report and apply it to its fill (now, or when the fill comes).

        A report equal to the last one for the same execution (re-sent on reconciliation) is
        not logged again.
        """
        values = (_real(commission), _real(realized_pnl))
        last = self._db.execute(
            _LAST_COMMISSION.format("commission, realized_pnl"), (exec_id,)
        ).fetchone()
        if last == values:
            return
        with self._transaction() as db:
            db.execute(
                "INSERT INTO commissions (time, exec_id, commission, realized_pnl)"
                " VALUES (?, ?, ?, ?)",
                (self._now(), exec_id, *values),
            )
            db.execute(
                "UPDATE fills SET commission = ?, realized_pnl = ? WHERE exec_id = ?",
                (*values, exec_id),
            )

    def error(self, ref: str | None, code: int, text: str) -> None:
        """Record an error or rejection from the broker (``ref`` None: not about an order)."""
        self._execute(
            "INSERT INTO errors (time, ref, code, text) VALUES (?, ?, ?, ?)",
            (self._now(), ref, code, text),
        )

    def connection(self, event: str, detail: str = "") -> None:
        """Record a connection event (connected, lost, reconciled ...)."""
        self._execute(
            "INSERT INTO connections (time, event, detail) VALUES (?, ?, ?)",
            (self._now(), event, detail),
        )

    def action(self, who: str, action: str, detail: str = "") -> None:
        """Record a user action (kill, re-arm, flatten ...): who did what, and why."""
        self._execute(
            "INSERT INTO actions (time, who, action, detail) VALUES (?, ?, ?, ?)",
            (self._now(), who, action, detail),
        )

    def set_value(self, key: str, value: Any) -> None:
        """Store a small JSON-able value (trading state ...); a change is logged too."""
        text = _dumps(value)
        old = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if old is not None and old[0] == text:
            return
        now = self._now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO kv (key, value, time) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, time = excluded.time",
                (key, text, now),
            )
            db.execute(
                "INSERT INTO value_changes (time, key, value) VALUES (?, ?, ?)", (now, key, text)
            )

    def get_value(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` (NaN comes back as None), or ``default``."""
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def raise_id_floor(self, client_id: int, next_id: int) -> int:
        """Persist ``max(floor, next_id)`` as the lowest order id ``client_id`` may use.

        Returns:
            The floor after the call; it never goes down.
        """
        floor = self.id_floor(client_id)
        if next_id <= floor:
            return floor
        with self._transaction() as db:
            db.execute(
                "INSERT INTO id_floors (client_id, next_id, time) VALUES (?, ?, ?)"
                " ON CONFLICT (client_id) DO UPDATE SET next_id = excluded.next_id,"
                " time = excluded.time WHERE excluded.next_id > id_floors.next_id",
                (client_id, next_id, self._now()),
            )
            row = db.execute(
                "SELECT next_id FROM id_floors WHERE client_id = ?", (client_id,)
            ).fetchone()
        return int(row[0])

    def id_floor(self, client_id: int) -> int:
        """The lowest order id ``client_id`` may use (1 when nothing is stored)."""
        row = self._db.execute(
            "SELECT next_id FROM id_floors WHERE client_id = ?", (client_id,)
        ).fetchone()
        return 1 if row is None else max(1, int(row[0]))

    # ---- reads --------------------------------------------------------------------------

    def orders_since(self, since: float) -> list[OrderSnapshot]:
        """The latest snapshot of every order updated (or journaled) at or after ``since``,
        and of every order still live however old; oldest (by ``created``) first."""
        rows = self._db.execute(
            f"{_SELECT_ORDER} WHERE live = 1 OR seen >= ? ORDER BY created, rowid",
            (since,),
        )
        return [_order_from(row) for row in rows]

    def fills_since(self, since: float) -> list[FillSnapshot]:
        """Executions at or after ``since`` (execution time), oldest first, with their
        commissions."""
        rows = self._db.execute(f"{_SELECT_FILL} WHERE time >= ? ORDER BY time, id", (since,))
        return [_fill_from(row) for row in rows]

    def exec_ids_since(self, since: float) -> set[str]:
        """The exec_ids of executions at or after ``since`` (execution time)."""
        rows = self._db.execute("SELECT exec_id FROM fills WHERE time >= ?", (since,))
        return {row[0] for row in rows}

    def export_csv(self, since: float, path: Path) -> int:
        """Write every journal row written at or after ``since`` to one chronological CSV.

        Columns: ``time`` (ISO 8601 UTC, milliseconds), ``kind`` (intent, order, fill,
        commission, error, connection, action, value, id_floor), ``ref``, ``what`` (intent
        kind, order state, fill summary, exec_id, error code, event, action, key, client)
        and ``detail`` (JSON, or text for errors and connection events).

        Returns:
            The number of data rows written (the header not counted).
        """
        count = 0
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(("time", "kind", "ref", "what", "detail"))
            for t, _, _, kind, ref, what, detail in heapq.merge(*_export_streams(self._db, since)):
                writer.writerow((_iso(t), kind, ref, what, detail))
                count += 1
        return count

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed on exit (IMMEDIATE: no lock upgrade)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._wrote()

    def _now(self) -> float:
        """The clock, nudged a microsecond past the previous row's time when it has not moved
        (a coarse clock, or a fake one), so time order is write order within a process. A
        clock set back by more than a second is followed, not held."""
        now = self._clock()
        if self._last - _CLOCK_SETBACK < now <= self._last:
            now = self._last + 1e-6
        self._last = now
        return now

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """One statement, committed on its own (autocommit)."""
        cur = self._db.execute(sql, params)
        self._wrote()
        return cur


# ---- opening and migrating ----------------------------------------------------------------


def _open(path: Path) -> sqlite3.Connection:
    """Open (or create) a journal file, check it is ours, and bring its schema up to date."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=2.0)
    except (OSError, sqlite3.Error) as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    try:
        _check_owner(db, path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # The checkpointer thread keeps the WAL short; this is the writer's own fallback for
        # long bursts without a pause (bigger than the default 1000 pages, so a write pays for
        # a checkpoint rarely).
        db.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise JournalError(f"{path} cannot be used as a journal: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _check_owner(db: sqlite3.Connection, path: Path) -> None:
    """Refuse another program's database (reading the header also detects non-SQLite)."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or version != 0 or tables:
        raise JournalError(f"{path} is an SQLite database, but not an ibdesk journal")


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the missing MIGRATIONS steps, one transaction each.

    The version is read again inside each transaction, so two processes opening a new file at
    once do not both apply a step.
    """
    target = len(MIGRATIONS)
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > target:
                raise JournalError(
                    f"{path} was written by a newer ibdesk (journal schema {version}; "
                    f"this ibdesk knows up to {target}); upgrade ibdesk to open it"
                )
            if version == target:
                db.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


class _Checkpointer:
    """Copies the WAL into the database from a thread and connection of its own.

    SQLite otherwise checkpoints inside the commit that crosses ``wal_autocheckpoint``, with
    two fsyncs, which puts milliseconds on one write in a hundred or so. A PASSIVE checkpoint
    never blocks the writer, and once it has caught up the writer starts the WAL over.
    """

    def __init__(self, path: Path) -> None:
        self.wrote = threading.Event()
        self._stopping = threading.Event()
        self._path = path
        self._thread = threading.Thread(
            target=self._run, name=f"journal checkpoints {path.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Finish the thread (idempotent); a checkpoint under way completes first."""
        self._stopping.set()
        self.wrote.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, timeout=0)
        except sqlite3.Error:  # the writer's own autocheckpoint still keeps the WAL in hand
            return
        try:
            while self.wrote.wait() and not self._stopping.wait(_CHECKPOINT_INTERVAL):
                self.wrote.clear()
                # Busy or failing, it is retried after the next write; the writer's own
                # autocheckpoint is the fallback, so nothing is logged here.
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()


# ---- rows <-> snapshots -------------------------------------------------------------------


def _real(x: float) -> float | None:
    """A float for a REAL column: NaN becomes NULL."""
    return None if math.isnan(x) else x


def _instrument_row(inst: Instrument) -> tuple[Any, ...]:
    return (
        inst.con_id, inst.symbol, inst.sec_type.value, inst.exchange, inst.currency,
        inst.local_symbol, _real(inst.multiplier), _real(inst.min_tick), inst.expiry,
        inst.trading_class, inst.primary_exchange, inst.long_name,
    )  # fmt: skip


def _order_row(s: OrderSnapshot) -> tuple[Any, ...]:
    """The snapshot as the columns of ``_ORDER``, exactly as a SELECT returns them."""
    return (
        s.ref, *_instrument_row(s.instrument), s.side.value, _real(s.qty), s.order_type.value,
        s.state.value, s.account, _opt(s.limit_price), _opt(s.stop_price), s.tif.value,
        s.order_id, s.perm_id, s.client_id, s.parent_ref, _real(s.filled),
        _real(s.avg_fill_price), s.broker_status, s.reason, _real(s.created), _real(s.updated),
    )  # fmt: skip


def _opt(x: float | None) -> float | None:
    return None if x is None else _real(x)


def _fill_params(f: FillSnapshot, now: float) -> tuple[Any, ...]:
    """Parameters of ``_INSERT_FILL`` (the commissions twice: value, then exec_id to look up)."""
    return (
        f.exec_id, _real(f.time), f.ref, f.order_id, f.perm_id, *_instrument_row(f.instrument),
        f.side.value, _real(f.qty), _real(f.price), f.account,
        _real(f.commission), f.exec_id, _real(f.realized_pnl), f.exec_id, now,
    )  # fmt: skip


def _decoded(columns: Iterable[str], row: Iterable[Any]) -> dict[str, Any]:
    """Column values as field values: enums rebuilt, NULL floats as NaN (or None)."""
    out: dict[str, Any] = {}
    for name, stored in zip(columns, row, strict=True):
        if name in _ENUMS:
            out[name] = _ENUMS[name](stored)
        elif stored is None:
            out[name] = math.nan if name in _FLOATS else None
        elif name in _FLOATS or name in _OPTIONAL:
            out[name] = float(stored)
        else:
            out[name] = stored
    return out


def _split_instrument(fields: dict[str, Any]) -> dict[str, Any]:
    fields["instrument"] = Instrument(**{k: fields.pop(k) for k in _INSTRUMENT})
    return fields


def _order_from(row: Iterable[Any]) -> OrderSnapshot:
    return OrderSnapshot(**_split_instrument(_decoded(_ORDER, row)))


def _fill_from(row: Iterable[Any]) -> FillSnapshot:
    return FillSnapshot(**_split_instrument(_decoded(_FILL, row)))


# ---- export -------------------------------------------------------------------------------

Cells = tuple[str, str, str, str]  # kind, ref, what, detail
ExportRow = tuple[float, int, int, str, str, str, str]  # time, stream, id, then the cells


def _export_streams(db: sqlite3.Connection, since: float) -> list[Iterator[ExportRow]]:
    """One time-ordered stream per table, for heapq.merge (ties: table order, then id)."""

    def stream(order: int, sql: str, cells: Callable[..., Cells]) -> Iterator[ExportRow]:
        for t, rowid, *rest in db.execute(sql, (since,)):
            kind, ref, what, detail = cells(*rest)
            yield (t, order, rowid, kind, ref, what, detail)

    return [stream(i, sql, cells) for i, (sql, cells) in enumerate(_EXPORTS)]


def _simple(sql: str) -> str:
    return f"{sql} WHERE time >= ? ORDER BY time, id"


def _intent_cells(
    ref: str, kind: str, source: str, account: str, parent: str, details: str
) -> Cells:
    detail = {"source": source, "account": account, "parent_ref": parent}
    return "intent", ref, kind, _dumps({**detail, "details": json.loads(details)})


def _event_cells(
    ref: str, state: str, status: str, filled: Any, avg: Any, reason: str, *names: Any
) -> Cells:
    local, symbol, side = names
    detail = {"symbol": local or symbol, "side": side, "broker_status": status,
              "filled": filled, "avg_fill_price": avg, "reason": reason}  # fmt: skip
    return "order", ref, state, _dumps(detail)


def _fill_cells(*row: Any) -> Cells:
    f = _fill_from(row)
    what = f"{f.side.value} {_num(f.qty)} {f.instrument.display} @ {_num(f.price)}"
    detail = {"exec_id": f.exec_id, "exec_time": _iso(f.time), "order_id": f.order_id,
              "perm_id": f.perm_id, "account": f.account, "con_id": f.instrument.con_id,
              "symbol": f.instrument.display, "side": f.side.value, "qty": f.qty,
              "price": f.price}  # fmt: skip
    return "fill", f.ref, what, _dumps(detail)


#: (query, cells) per table, in tie-break order; each query selects time, id, then cells' args.
_EXPORTS: tuple[tuple[str, Callable[..., Cells]], ...] = (
    (
        _simple("SELECT time, id, ref, kind, source, account, parent_ref, details FROM intents"),
        _intent_cells,
    ),
    (
        "SELECT e.time, e.id, e.ref, e.state, e.broker_status, e.filled, e.avg_fill_price,"
        " e.reason, o.local_symbol, o.symbol, o.side"
        " FROM order_events e LEFT JOIN orders o USING (ref)"
        " WHERE e.time >= ? ORDER BY e.time, e.id",
        _event_cells,
    ),
    (
        f"SELECT logged, id, {', '.join(_FILL)} FROM fills WHERE logged >= ? ORDER BY logged, id",
        _fill_cells,
    ),
    (
        "SELECT c.time, c.id, coalesce(f.ref, ''), c.exec_id, c.commission, c.realized_pnl"
        " FROM commissions c LEFT JOIN fills f USING (exec_id)"
        " WHERE c.time >= ? ORDER BY c.time, c.id",
        lambda ref, exec_id, c, p: (
            "commission",
            ref,
            exec_id,
            _dumps({"commission": c, "realized_pnl": p}),
        ),
    ),
    (
        _simple("SELECT time, id, coalesce(ref, ''), code, text FROM errors"),
        lambda ref, code, text: ("error", ref, str(code), text),
    ),
    (
        _simple("SELECT time, id, event, detail FROM connections"),
        lambda event, detail: ("connection", "", event, detail),
    ),
    (
        _simple("SELECT time, id, who, action, detail FROM actions"),
        lambda who, act, detail: ("action", "", act, _dumps({"who": who, "detail": detail})),
    ),
    (
        _simple("SELECT time, id, key, value FROM value_changes"),
        lambda key, value: ("value", "", key, value),
    ),
    (
        "SELECT time, client_id, client_id, next_id FROM id_floors"
        " WHERE time >= ? ORDER BY time, client_id",
        lambda client, next_id: ("id_floor", "", f"client {client}", str(next_id)),
    ),
)


def _num(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and x.is_integer() and abs(x) < 1e15 else repr(x)


def _iso(t: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds (empty for NaN)."""
    if not math.isfinite(t):
        return ""
    stamp = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _dumps(value: Any) -> str:
    """Compact, standard JSON: NaN and infinities become null, enums their values, dataclasses
    their fields, anything else its str()."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_jsonable)
    except ValueError:  # a NaN or infinity somewhere: clean the whole value (rare)
        return json.dumps(_finite(value), separators=(",", ":"), default=_jsonable)


def _jsonable(obj: Any) -> Any:
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(obj, name) for name in fields}
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    return str(obj)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _finite(_jsonable(value))
    return value
