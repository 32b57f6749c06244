"""Snapshots to tape rows and back: one JSON array per event, ``[t, kind, *fields]``.

A row is plain JSON (NaN written as ``NaN``, as Python's json does) so that a tape can be read
by anything that reads SQLite, zlib and JSON; docs/tape.md lists every kind and its fields.
Instruments are written once per tape file, in its ``instruments`` table, with the chunk that
first needs them; rows name them by conId. That halves an order's row and keeps quotes (the
bulk of a tape) to numbers only.

Encoding runs on the recorder's writer thread, never on the desk's loop: it only reads frozen
snapshots (and the bar rows the recorder copied), so it needs no lock.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ibdesk.domain.account import AccountSnapshot, PositionSnapshot
from ibdesk.domain.bars import Bar, Timeframe
from ibdesk.domain.connection import Farm, LinkState, LinkStatus, Notice, Severity
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side, Tif

# Event kinds, one letter each (docs/tape.md).
INSTRUMENT = "i"
QUOTE = "q"
WATCH = "w"
UNWATCH = "u"
ORDER = "o"
FILL = "f"
ACCOUNT = "a"
POSITION = "p"
BARS = "b"
STATUS = "s"
FARM = "m"
NOTICE = "n"
CLEARED = "c"
DECISION = "g"
TRADING = "t"
KINDS = {
    INSTRUMENT: "instrument",
    QUOTE: "quote",
    WATCH: "watch",
    UNWATCH: "unwatch",
    ORDER: "order",
    FILL: "fill",
    ACCOUNT: "account",
    POSITION: "position",
    BARS: "bars",
    STATUS: "connection",
    FARM: "farm",
    NOTICE: "notice",
    CLEARED: "notice cleared",
    DECISION: "intent",
    TRADING: "trading state",
}
""" kind letter -> what it records (the CSV export's words) """

_INSTRUMENT_FIELDS = [f.name for f in dataclasses.fields(Instrument)]
_QUOTE_FIELDS = [f.name for f in dataclasses.fields(Quote)]
_ORDER_FIELDS = [f.name for f in dataclasses.fields(OrderSnapshot) if f.name != "instrument"]
_FILL_FIELDS = [f.name for f in dataclasses.fields(FillSnapshot) if f.name != "instrument"]
_ACCOUNT_FIELDS = [f.name for f in dataclasses.fields(AccountSnapshot)]
_POSITION_FIELDS = [
    f.name for f in dataclasses.fields(PositionSnapshot) if f.name not in ("account", "instrument")
]
_STATUS_FIELDS = [f.name for f in dataclasses.fields(LinkStatus)]


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    # attrgetter of several names returns them as one tuple, in C: the writer thread encodes
    # a quote in a fraction of what a Python loop over the fields costs.
    return operator.attrgetter(*names)


_instrument_values = _getter(_INSTRUMENT_FIELDS)
_quote_values = _getter(_QUOTE_FIELDS)
_order_values = _getter(_ORDER_FIELDS)
_fill_values = _getter(_FILL_FIELDS)
_account_values = _getter(_ACCOUNT_FIELDS)
_position_values = _getter(_POSITION_FIELDS)
_status_values = _getter(_STATUS_FIELDS)


@dataclass(frozen=True, slots=True)
class BarsChange:
    """Bars of one series that changed, copied off the store on the loop (the store's numpy
    buffer is not safe to read from the writer thread)."""

    con_id: int
    timeframe: Timeframe
    rows: tuple[tuple[float, float, float, float, float, float], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gate decided for an intent (orders it accepted appear as order rows too)."""

    kind: str
    source: str
    accepted: bool
    refs: tuple[str, ...]
    reason: str
    check: str


class Event(NamedTuple):
    """One decoded tape event: its time (epoch s), its kind letter, and what it carries (a
    domain snapshot, or a small tuple for the kinds that have no snapshot). A named tuple:
    a replay makes one per event, and a frozen dataclass costs three times as much to make."""

    time: float
    kind: str
    value: Any


class Encoder:
    """Turns (time, kind, payload) into rows; the instruments they name, the first time,
    into :attr:`new_instruments` (the tape writes those to its instrument table)."""

    def __init__(self) -> None:
        self.defined: dict[int, Instrument] = {}
        self.new_instruments: list[list[Any]] = []
        """ instrument rows not yet written: ``[con_id, symbol, ...]`` """

    def _inst(self, inst: Instrument, _t: float, _out: list[list[Any]]) -> int:
        if self.defined.get(inst.con_id) != inst:
            self.defined[inst.con_id] = inst
            self.new_instruments.append(list(_instrument_values(inst)))
        return inst.con_id

    def encode(self, t: float, kind: str, payload: Any, out: list[list[Any]]) -> None:
        """Append the row(s) of one event to ``out`` (an instrument row may come first)."""
        if kind == QUOTE:
            out.append([t, kind, *_quote_values(payload)])
        elif kind == ORDER:
            con_id = self._inst(payload.instrument, t, out)
            out.append([t, kind, con_id, *_order_values(payload)])
        elif kind == FILL:
            con_id = self._inst(payload.instrument, t, out)
            out.append([t, kind, con_id, *_fill_values(payload)])
        elif kind == POSITION:
            con_id = self._inst(payload.instrument, t, out)
            out.append([t, kind, payload.account, con_id, *_position_values(payload)])
        elif kind == ACCOUNT:
            out.append([t, kind, *_account_values(payload)])
        elif kind == WATCH:
            out.append([t, kind, self._inst(payload, t, out)])
        elif kind == BARS:
            rows = [list(r) for r in payload.rows]
            out.append([t, kind, payload.con_id, payload.timeframe.label, rows])
        elif kind == STATUS:
            out.append([t, kind, *_status_values(payload)])
        elif kind == NOTICE:
            sev = payload.severity.name
            out.append([t, kind, payload.key, sev, payload.text, payload.code, payload.time])
        elif kind == DECISION:
            d = payload
            out.append([t, kind, d.kind, d.source, d.accepted, list(d.refs), d.reason, d.check])
        else:  # UNWATCH (conId), FARM (name, ok), CLEARED (key), TRADING (state, who, why)
            out.append([t, kind, *(payload if isinstance(payload, tuple) else (payload,))])


def _nan(value: Any) -> Any:
    return math.nan if value is None else value


class Decoder:
    """Turns rows back into :class:`Event` s, keeping the instruments the tape defined."""

    def __init__(self) -> None:
        self.instruments: dict[int, Instrument] = {}
        """ conId -> Instrument, as the tape defined them so far """

    def instrument(self, con_id: int) -> Instrument:
        """The instrument a row names (a bare one if the tape never defined it)."""
        inst = self.instruments.get(con_id)
        if inst is None:
            inst = Instrument(con_id, str(con_id), SecType.FUTURE, "", "USD", str(con_id))
        return inst

    def decode(self, row: list[Any]) -> Event | None:
        """The event of one row; None for an instrument definition (``[t, "i", ...]``: kept,
        not replayed)."""
        t, kind, fields = row[0], row[1], row[2:]
        handler = _DECODERS.get(kind)
        if handler is None:
            return Event(t, kind, tuple(fields))  # a kind from a newer ibdesk: carried as is
        value = handler(self, fields)
        return None if kind == INSTRUMENT else Event(t, kind, value)


def _d_instrument(dec: Decoder, f: list[Any]) -> Instrument:
    values = dict(zip(_INSTRUMENT_FIELDS, f, strict=False))
    values["sec_type"] = SecType(values["sec_type"])
    inst = Instrument(**values)
    dec.instruments[inst.con_id] = inst
    return inst


def _d_quote(_dec: Decoder, f: list[Any]) -> Quote:
    return Quote(*f)  # numbers only (NaN arrives as NaN): no per-field work on the bulk kind


def _d_order(dec: Decoder, f: list[Any]) -> OrderSnapshot:
    values = dict(zip(_ORDER_FIELDS, f[1:], strict=False))
    values["side"] = Side(values["side"])
    values["order_type"] = OrderType(values["order_type"])
    values["state"] = OrderState(values["state"])
    values["tif"] = Tif(values["tif"])
    values["avg_fill_price"] = _nan(values["avg_fill_price"])
    return OrderSnapshot(instrument=dec.instrument(f[0]), **values)


def _d_fill(dec: Decoder, f: list[Any]) -> FillSnapshot:
    values = dict(zip(_FILL_FIELDS, f[1:], strict=False))
    values["side"] = Side(values["side"])
    for name in ("commission", "realized_pnl", "price"):
        values[name] = _nan(values[name])
    return FillSnapshot(instrument=dec.instrument(f[0]), **values)


def _d_account(_dec: Decoder, f: list[Any]) -> AccountSnapshot:
    return AccountSnapshot(f[0], *(_nan(v) for v in f[1:]))


def _d_position(dec: Decoder, f: list[Any]) -> PositionSnapshot:
    return PositionSnapshot(f[0], dec.instrument(f[1]), *(_nan(v) for v in f[2:]))


def _d_bars(_dec: Decoder, f: list[Any]) -> BarsChange:
    rows = tuple(tuple(_nan(v) for v in r) for r in f[2])
    return BarsChange(f[0], Timeframe.from_label(f[1]), rows)


def _d_status(_dec: Decoder, f: list[Any]) -> LinkStatus:
    values = dict(zip(_STATUS_FIELDS, f, strict=False))
    values["state"] = LinkState(values["state"])
    values["accounts"] = tuple(values["accounts"])
    return LinkStatus(**values)


def _d_notice(_dec: Decoder, f: list[Any]) -> Notice:
    return Notice(f[0], Severity[f[1]], f[2], f[3], f[4])


def _d_decision(_dec: Decoder, f: list[Any]) -> Decision:
    return Decision(f[0], f[1], bool(f[2]), tuple(f[3]), f[4], f[5])


_DECODERS: dict[str, Callable[[Decoder, list[Any]], Any]] = {
    INSTRUMENT: _d_instrument,
    QUOTE: _d_quote,
    ORDER: _d_order,
    FILL: _d_fill,
    ACCOUNT: _d_account,
    POSITION: _d_position,
    BARS: _d_bars,
    STATUS: _d_status,
    NOTICE: _d_notice,
    DECISION: _d_decision,
    WATCH: lambda dec, f: dec.instrument(f[0]),
    UNWATCH: lambda _dec, f: int(f[0]),
    FARM: lambda _dec, f: (Farm(f[0]), f[1]),
    CLEARED: lambda _dec, f: str(f[0]),
    TRADING: lambda _dec, f: tuple(f),
}


def bar_rows(bars: Iterable[Bar]) -> tuple[tuple[float, float, float, float, float, float], ...]:
    """Bars as the rows a :class:`BarsChange` carries."""
    return tuple((b.time, b.open, b.high, b.low, b.close, b.volume) for b in bars)
