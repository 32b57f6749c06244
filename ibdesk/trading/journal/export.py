"""The CSV export: every journal table merged into one chronological file.

Each table is read in time order by its own query, and the streams are merged with
:func:`heapq.merge`, so the export never holds the journal in memory. Rows with equal times
come out in table order, then by id, which is the order they were written in: the journal's
clock is strictly increasing within a process (see ``Journal._now``).
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ibdesk.trading.journal.rows import _FILL, _dumps, _fill_from

Cells = tuple[str, str, str, str]  # kind, ref, what, detail
ExportRow = tuple[float, int, int, str, str, str, str]  # time, stream, id, then the cells


def _write_csv(db: sqlite3.Connection, since: float, path: Path) -> int:
    """Write every row written at or after ``since`` to ``path`` (the body of
    ``Journal.export_csv``, which documents the columns).

    Args:
        db: the journal's connection.
        since: seconds since the epoch; older rows are left out.
        path: the CSV file, overwritten.

    Returns:
        The number of data rows written (the header not counted).
    """
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("time", "kind", "ref", "what", "detail"))
        for t, _, _, kind, ref, what, detail in heapq.merge(*_export_streams(db, since)):
            writer.writerow((_iso(t), kind, ref, what, detail))
            count += 1
    return count


def _export_streams(db: sqlite3.Connection, since: float) -> list[Iterator[ExportRow]]:
    """One time-ordered stream per table, for heapq.merge (ties: table order, then id)."""

    def stream(order: int, sql: str, cells: Callable[..., Cells]) -> Iterator[ExportRow]:
        for t, rowid, *rest in db.execute(sql, (since,)):
            kind, ref, what, detail = cells(*rest)
            yield (t, order, rowid, kind, ref, what, detail)

    return [stream(i, sql, cells) for i, (sql, cells) in enumerate(_EXPORTS)]


def _simple(sql: str) -> str:
    """A table's query with the common tail: rows at or after ``since``, in time order."""
    return f"{sql} WHERE time >= ? ORDER BY time, id"


def _intent_cells(
    ref: str, kind: str, source: str, account: str, parent: str, details: str
) -> Cells:
    """An ``intents`` row: the intent kind, and its terms with who asked, in the detail."""
    detail = {"source": source, "account": account, "parent_ref": parent}
    return "intent", ref, kind, _dumps({**detail, "details": json.loads(details)})


def _event_cells(
    ref: str, state: str, status: str, filled: Any, avg: Any, reason: str, *names: Any
) -> Cells:
    """An ``order_events`` row, named by its order's symbol and side (from ``orders``)."""
    local, symbol, side = names
    detail = {"symbol": local or symbol, "side": side, "broker_status": status,
              "filled": filled, "avg_fill_price": avg, "reason": reason}  # fmt: skip
    return "order", ref, state, _dumps(detail)


def _fill_cells(*row: Any) -> Cells:
    """A ``fills`` row, summed up as "BUY 100 AAPL @ 187.5"."""
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
        # Fills by when they were journaled (``logged``), like every other table; ``time`` is
        # the execution's, which can be much older (a reconciliation after a reconnect).
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
        # id_floors keeps one row per client (no id): the client id breaks ties instead.
        "SELECT time, client_id, client_id, next_id FROM id_floors"
        " WHERE time >= ? ORDER BY time, client_id",
        lambda client, next_id: ("id_floor", "", f"client {client}", str(next_id)),
    ),
)


def _num(x: float) -> str:
    """A quantity or price as written by hand: ``100`` rather than ``100.0``."""
    return str(int(x)) if math.isfinite(x) and x.is_integer() and abs(x) < 1e15 else repr(x)


def _iso(t: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds (empty for NaN)."""
    if not math.isfinite(t):
        return ""
    stamp = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
