"""Rows <-> snapshots: the column lists of ``orders`` and ``fills``, the statements built
from them, and the conversions between their rows and OrderSnapshot / FillSnapshot.

Storage conventions: floats are REAL and NaN is NULL (read back as NaN, or as None for the
optional prices); enums are stored by value; an Instrument is stored as its fields in every row
that carries one, so old rows keep the contract as it was then. Free-form values (intent
details, stored values) are compact JSON (:func:`_dumps`).

Everything here is private to the package: the Journal (store.py) and the export (export.py)
share it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side, Tif

_INSTRUMENT = (
    "con_id", "symbol", "sec_type", "exchange", "currency", "local_symbol", "multiplier",
    "min_tick", "expiry", "trading_class", "primary_exchange", "long_name",
)  # fmt: skip
_ORDER = (
    "ref", *_INSTRUMENT, "side", "qty", "order_type", "state", "account", "limit_price",
    "stop_price", "tif", "order_id", "perm_id", "client_id", "parent_ref", "filled",
    "avg_fill_price", "broker_status", "reason", "created", "updated", "why",
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
# A commission report can arrive before its execution; the fill then takes the last one.
_INSERT_FILL = (
    f"INSERT INTO fills ({', '.join(_FILL)}, logged) VALUES ({', '.join('?' * (len(_FILL) - 2))}, "
    f"coalesce(?, ({_LAST_COMMISSION.format('commission')})), "
    f"coalesce(?, ({_LAST_COMMISSION.format('realized_pnl')})), ?) "
    "ON CONFLICT (exec_id) DO NOTHING"
)
_SELECT_FILL = f"SELECT {', '.join(_FILL)} FROM fills"


def _real(x: float) -> float | None:
    """A float for a REAL column: NaN becomes NULL."""
    return None if math.isnan(x) else x


def _opt(x: float | None) -> float | None:
    """An optional price for a REAL column: None and NaN both become NULL."""
    return None if x is None else _real(x)


def _instrument_row(inst: Instrument) -> tuple[Any, ...]:
    """The instrument as the columns of ``_INSTRUMENT``."""
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
        s.why,
    )  # fmt: skip


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
    """Fold the instrument's columns into one ``instrument`` field (in place)."""
    fields["instrument"] = Instrument(**{k: fields.pop(k) for k in _INSTRUMENT})
    return fields


def _order_from(row: Iterable[Any]) -> OrderSnapshot:
    """An OrderSnapshot from a row of ``_SELECT_ORDER``."""
    return OrderSnapshot(**_split_instrument(_decoded(_ORDER, row)))


def _fill_from(row: Iterable[Any]) -> FillSnapshot:
    """A FillSnapshot from a row of ``_SELECT_FILL`` (the columns of ``_FILL``)."""
    return FillSnapshot(**_split_instrument(_decoded(_FILL, row)))


def _dumps(value: Any) -> str:
    """Compact, standard JSON: NaN and infinities become null, enums their values, dataclasses
    their fields, anything else its str()."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_jsonable)
    except ValueError:  # a NaN or infinity somewhere: clean the whole value (rare)
        return json.dumps(_finite(value), separators=(",", ":"), default=_jsonable)


def _jsonable(obj: Any) -> Any:
    """What json cannot encode itself: a dataclass as its fields, a set sorted, else str()."""
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(obj, name) for name in fields}
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    return str(obj)


def _finite(value: Any) -> Any:
    """The value with every NaN and infinity (in containers and dataclasses too) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _finite(_jsonable(value))
    return value
