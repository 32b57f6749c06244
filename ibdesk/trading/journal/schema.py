"""Opening a journal file: the owner check, the versioned schema and its migrations, and the
background thread that checkpoints the WAL.

The schema is versioned with ``PRAGMA user_version`` and grows by :data:`MIGRATIONS`, one step
per version, each applied in its own transaction. ``PRAGMA application_id`` marks the file as
an ibdesk journal, so another program's database is refused instead of written into.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from ibdesk import files

#: Marks the file as an ibdesk journal (``PRAGMA application_id``): "ibJn".
APPLICATION_ID = 0x69624A6E

_AUTOCHECKPOINT_PAGES = 4000
_CHECKPOINT_QUIET = 0.25  # seconds without a write before a background checkpoint runs
_CHECKPOINT_LATEST = 5.0  # ... or this long after the first unchecked write, however busy

# The columns of an Instrument, in every table whose rows carry one (rows._INSTRUMENT names
# them in the same order).
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
    # 1 -> 2: what the asker said of an order (a strategy's signal), kept with it.
    ("ALTER TABLE orders ADD COLUMN why TEXT NOT NULL DEFAULT ''",),
)

#: The schema version this ibdesk writes.
SCHEMA_VERSION: int = len(MIGRATIONS)


class JournalError(Exception):
    """The file cannot be used as a journal: not SQLite, another program's database, or
    written by a newer ibdesk."""


def default_path(demo: bool = False) -> Path:
    """``journal.sqlite`` in the user data folder (e.g. ~/.local/share/ibdesk on Linux); the
    demo's in its own ``demo`` folder, so that nothing done in the demo (a kill, its fills)
    ever shows in, or latches, a real account's journal."""
    folder = platformdirs.user_data_path("ibdesk")
    return (folder / "demo" if demo else folder) / "journal.sqlite"


def _open(path: Path) -> sqlite3.Connection:
    """Open (or create) a journal file, check it is ours, and bring its schema up to date.

    Args:
        path: the SQLite file; its parent folders are created when missing.

    Raises:
        JournalError: the file is not SQLite, not an ibdesk journal, or from a newer ibdesk.
    """
    try:
        # Orders, fills and account codes are the trader's alone: SQLite gives the WAL and
        # shared-memory files the database file's own mode.
        files.private_file(path)
        files.tighten_if_present(path.with_name(path.name + "-wal"))
        files.tighten_if_present(path.with_name(path.name + "-shm"))
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
    # Looked up on the package, the public home of the name, rather than this module's global:
    # a MIGRATIONS replaced there (a test adding a step) must be the one applied.
    from ibdesk.trading import journal

    migrations = journal.MIGRATIONS
    target = len(migrations)
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
            for statement in migrations[version]:
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

    Args:
        path: the journal file; the thread opens its own connection to it.
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
        """Checkpoint once the writes pause (``_CHECKPOINT_QUIET``), or at the latest
        ``_CHECKPOINT_LATEST`` after the first write it has not copied yet.

        A checkpoint's fsyncs share the disk with the next order's commit: run while orders
        flow, it put 1-3 ms on the 99th percentile of a strategy's order (benchmarks.
        strategies); a pause in the writes is when nobody waits on the disk.
        """
        try:
            db = sqlite3.connect(self._path, isolation_level=None, timeout=0)
        except sqlite3.Error:  # the writer's own autocheckpoint still keeps the WAL in hand
            return
        try:
            while self.wrote.wait() and not self._stopping.is_set():
                started = time.monotonic()
                self.wrote.clear()
                while not self._stopping.wait(_CHECKPOINT_QUIET):
                    if not self.wrote.is_set():
                        break  # a quiet spell
                    self.wrote.clear()
                    if time.monotonic() - started >= _CHECKPOINT_LATEST:
                        break
                if self._stopping.is_set():
                    break
                # Busy or failing, it is retried after the next write; the writer's own
                # autocheckpoint is the fallback, so nothing is logged here.
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()
