"""The sessions of an instrument as arrays, for vectorised questions about many bars at once:
which bars fall in regular trading hours, where N regular sessions back begin, and where each
time falls within its session (for the shape of intraday volume)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.history_past import F64


def session_windows(
    inst: Instrument, first: float, last: float, liquid: bool = True
) -> tuple[F64, F64]:
    """Opens and closes (epoch) of the regular sessions (or whole sessions, with
    ``liquid=False``) around ``[first, last]``."""
    first_day = dt.datetime.fromtimestamp(first, dt.UTC).date() - dt.timedelta(days=2)
    days = (dt.datetime.fromtimestamp(last, dt.UTC).date() - first_day).days + 3
    sessions = inst.session.liquid_sessions if liquid else inst.session.sessions
    rows = [
        (o.timestamp(), c.timestamp())
        for _, o, c in sessions(first_day, days)
        if o is not None and c is not None
    ]
    opens = np.array([r[0] for r in rows], dtype=np.float64)
    closes = np.array([r[1] for r in rows], dtype=np.float64)
    return opens, closes


def position_in_session(
    inst: Instrument, times: F64, liquid: bool = True
) -> tuple[npt.NDArray[np.bool_], F64]:
    """For each time: whether it lies in a (regular) session, and how far through it
    (0 at the open, 1 at the close; undefined outside)."""
    inside = np.zeros(len(times), dtype=bool)
    where = np.zeros(len(times), dtype=np.float64)
    if not len(times):
        return inside, where
    opens, closes = session_windows(inst, float(times.min()), float(times.max()), liquid)
    idx = np.searchsorted(opens, times, side="right") - 1
    ok = idx >= 0
    inside[ok] = closes[idx[ok]] > times[ok]
    span = closes[idx[inside]] - opens[idx[inside]]
    where[inside] = (times[inside] - opens[idx[inside]]) / span
    return inside, where


def liquid_mask(inst: Instrument, times: F64, width: float = 0.0) -> npt.NDArray[np.bool_]:
    """Which bars ``[t, t + width)`` overlap the instrument's regular trading hours.

    With no width, whether each time lies inside them. Sessions never overlap, so the
    last one to open before a bar ends is the only one that can overlap it.
    """
    result = np.zeros(len(times), dtype=bool)
    if not len(times):
        return result
    opens, closes = session_windows(inst, float(times[0]), float(times[-1]) + width)
    if width > 0:
        idx = np.searchsorted(opens, times + width, side="left") - 1
    else:
        idx = np.searchsorted(opens, times, side="right") - 1
    ok = idx >= 0
    result[ok] = closes[idx[ok]] > times[ok]
    return result


def liquid_start(inst: Instrument, end: float, sessions: int) -> float | None:
    """Where ``sessions`` regular sessions back from ``end`` begin (useRTH with ``"N D"``).

    IB counts a duration in days as trading days when only regular hours are wanted, so
    ``"1 D"`` on a Sunday is Friday's session, not an empty weekend. None if there is none.
    """
    # Weekends and holidays never outnumber trading days two to one, plus a margin.
    span = 2 * sessions + 10
    opens, _ = session_windows(inst, end - span * 86400.0, end)
    opens = opens[opens < end]
    if not len(opens):
        return None
    return float(opens[-sessions] if len(opens) >= sessions else opens[0])
