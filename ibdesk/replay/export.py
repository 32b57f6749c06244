"""A tape's time range as CSV, for a spreadsheet: one line per event, the common columns first.

Columns: ``time`` (ISO, local, to the microsecond), ``epoch``, ``kind`` (in words), ``symbol``,
``con_id``, and the kind's own fields as ``name=value`` pairs in one ``detail`` column, so that
every kind fits one sheet and a filter on ``kind`` gives one table. Quotes, the bulk of a tape,
get their prices in columns of their own (``bid``, ``ask``, ``last``, ``volume``), and orders
and fills theirs (``ref``, ``side``, ``qty``, ``price``, ``state``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from ibdesk.replay import codec
from ibdesk.replay.codec import Event
from ibdesk.replay.tape import TapeReader

COLUMNS = (
    "time",
    "epoch",
    "kind",
    "symbol",
    "con_id",
    "bid",
    "ask",
    "last",
    "volume",
    "ref",
    "side",
    "qty",
    "price",
    "state",
    "detail",
)


def _num(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


_TUPLE_NAMES = {codec.FARM: ("farm", "ok"), codec.TRADING: ("state", "who", "why")}
_IN_COLUMNS = ("instrument", "ref", "side", "qty", "state", "price")
""" an order's and a fill's fields that have columns of their own """


def _detail(kind: str, value: Any) -> str:
    skip = _IN_COLUMNS if kind in (codec.ORDER, codec.FILL) else ("instrument",)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        pairs = [
            (f.name, getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in skip
        ]
    elif isinstance(value, tuple):
        names = _TUPLE_NAMES.get(kind, tuple(str(i) for i in range(len(value))))
        pairs = list(zip(names, value, strict=False))
    else:
        pairs = [("value", value)]
    return " ".join(f"{k}={_num(v)}" for k, v in pairs if _num(v) not in ("", None))


def row(event: Event, symbols: dict[int, str]) -> dict[str, Any]:
    """One CSV line of an event."""
    v = event.value
    out: dict[str, Any] = {
        "time": dt.datetime.fromtimestamp(event.time).isoformat(timespec="microseconds"),
        "epoch": f"{event.time:.6f}",
        "kind": codec.KINDS.get(event.kind, event.kind),
    }
    inst = getattr(v, "instrument", None)
    con_id = inst.con_id if inst is not None else getattr(v, "con_id", None)
    if con_id is not None:
        out["con_id"] = con_id
        out["symbol"] = inst.display if inst is not None else symbols.get(con_id, "")
    if event.kind == codec.QUOTE:
        out.update(bid=_num(v.bid), ask=_num(v.ask), last=_num(v.last), volume=_num(v.volume))
        return out
    if event.kind in (codec.ORDER, codec.FILL):
        out.update(ref=v.ref, side=v.side.value, qty=v.qty)
        if event.kind == codec.ORDER:
            out.update(state=v.state.value, price=_num(v.limit_price or v.stop_price or ""))
        else:
            out["price"] = v.price
    elif event.kind == codec.WATCH:
        out.update(con_id=v.con_id, symbol=v.display)
        return out
    out["detail"] = _detail(event.kind, v)
    return out


def write_csv(events: Iterable[Event], out: TextIO, symbols: dict[int, str]) -> int:
    """Write events as CSV lines (with a header); returns how many."""
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for event in events:
        writer.writerow(row(event, symbols))
        count += 1
    return count


def export(tape: Path, out: Path, start: float | None = None, end: float | None = None) -> str:
    """Export a tape's range to a CSV file; returns what to tell the trader."""
    reader = TapeReader(tape)
    try:
        symbols = {c: i.display for c, i in reader.decoder.instruments.items()}
        with out.open("w", newline="", encoding="utf-8") as f:
            count = write_csv(reader.events(start, end), f, symbols)
        said = f"{count:,} events of {tape.name} written to {out}."
        problem = reader.message()
        return f"{said} {problem}" if problem else said
    finally:
        reader.close()
