"""The Journal: the order journal's writes and reads over one SQLite connection.

Every intent, order state change, fill, commission, error, connection event, user action and
stored value is written and committed before the call returns. ``time`` columns (``logged`` in
``fills``, whose ``time`` is the execution's) are the journal's clock when the row was written,
in seconds since the epoch, made strictly increasing within a process so that the export's time
order is the order things happened in.

Only the thread that created a Journal may use it (sqlite3 checks).
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ibdesk.domain.orders import FillSnapshot, OrderSnapshot
from ibdesk.trading.journal.export import _write_csv
from ibdesk.trading.journal.rows import (
    _EVENT_KEY,
    _INSERT_EVENT,
    _INSERT_FILL,
    _LAST_COMMISSION,
    _SELECT_FILL,
    _SELECT_ORDER,
    _SELECT_ORDER_BY_REF,
    _UPSERT_ORDER,
    _dumps,
    _fill_from,
    _fill_params,
    _order_from,
    _order_row,
    _real,
)
from ibdesk.trading.journal.schema import _Checkpointer, _open

INTENT_KINDS = ("order", "bracket", "modify", "cancel", "cancel_all")

_CLOCK_SETBACK = 1.0  # seconds: a clock set back further is followed (see Journal._now)


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
        self._batching = False
        """ inside :meth:`batch`: writes join its transaction """
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

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes as one transaction, committed when the block ends (rolled back if
        it raises): the gate's records of one order or bracket cost one commit, not one per
        row. A batch inside a batch joins it."""
        if self._batching:
            yield
            return
        with self._transaction():
            self._batching = True
            try:
                yield
            finally:
                self._batching = False

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

    def knows(self, ref: str) -> bool:
        """Whether an order with this orderRef was ever journaled."""
        row = self._db.execute("SELECT 1 FROM orders WHERE ref = ?", (ref,)).fetchone()
        return row is not None

    def id_floor(self, client_id: int) -> int:
        """The lowest order id ``client_id`` may use (1 when nothing is stored)."""
        row = self._db.execute(
            "SELECT next_id FROM id_floors WHERE client_id = ?", (client_id,)
        ).fetchone()
        return 1 if row is None else max(1, int(row[0]))

    # ---- reads --------------------------------------------------------------------------

    def ever_connected(self) -> bool:
        """Whether a desk has connected with this journal before (a ``connected`` row):
        asked before a session connects, whether there was an earlier session at all."""
        row = self._db.execute(
            "SELECT 1 FROM connections WHERE event = 'connected' LIMIT 1"
        ).fetchone()
        return row is not None

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
        return _write_csv(self._db, since, path)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed on exit (IMMEDIATE: no lock upgrade);
        inside :meth:`batch`, a part of the batch's."""
        db = self._db
        if self._batching:
            yield db
            return
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
