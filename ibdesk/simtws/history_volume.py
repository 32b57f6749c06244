"""How much each instrument trades, and when: the volume of historical bars.

Every instrument has its own daily volume, of the size its market has (ES about 1.5 million
contracts, AAPL some 55 million shares), spread over the day by a profile:

* stocks: a U over regular hours (busiest at the open and the close), a trickle in the
  pre-market and evening sessions, nothing when closed;
* futures: steady regular hours with a milder U, and an overnight lull on Globex;
* FX: flat around the clock.

Volume is defined per 5-second slot (an integer, from a deterministic noise), and a bar's
volume is the sum of its slots, so every bar size adds up exactly to the smaller ones it
spans. Daily bars older than the minute history come from the day's expected volume.
"""

from __future__ import annotations

import datetime as dt
import functools
import zlib

import numpy as np

from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.history_past import F64, TAPE, noise
from ibdesk.simtws.history_sessions import position_in_session

#: Typical daily volume of the front month / of a stock (contracts, shares).
DAILY_VOLUME = {
    "ES": 1_500_000,
    "MES": 1_100_000,
    "NQ": 550_000,
    "MNQ": 900_000,
    "CL": 350_000,
    "MCL": 60_000,
    "GC": 200_000,
    "MGC": 45_000,
    "AAPL": 55_000_000,
    "MSFT": 22_000_000,
    "NVDA": 180_000_000,
    "TSLA": 95_000_000,
    "SPY": 65_000_000,
    "QQQ": 45_000_000,
    "EUR": 2_000_000_000,
}
#: Share of the front month's volume a later expiry trades.
BACK_MONTH_SHARE = 0.04
#: Weight outside regular hours, against 1 at the quietest moment of regular hours.
OFF_HOURS = {"STK": 0.05, "FUT": 0.15, "CASH": 1.0}
#: Height of the U over regular hours: weight 1 + U * (2x - 1)^2, x from 0 (open) to 1.
U_SHAPE = {"STK": 3.0, "FUT": 1.0, "CASH": 0.0}
#: Typical trade size, for the trade count of a bar.
TRADE_SIZE = {"STK": 100.0, "FUT": 3.0, "CASH": 100_000.0}


def daily_volume(inst: Instrument) -> float:
    """What the instrument trades on a typical day."""
    base = DAILY_VOLUME.get(inst.symbol)
    if base is None:
        # Unlisted in the table: a steady figure of the right size, fixed by the symbol.
        base = 3_000_000 + zlib.crc32(inst.symbol.encode()) % 27_000_000
    return base * (BACK_MONTH_SHARE if inst.basis else 1.0)


def _weights(inst: Instrument, times: F64) -> F64:
    """The profile's weight at each time (0 when the market is closed)."""
    kind = inst.sec_type if inst.sec_type in OFF_HOURS else "STK"
    in_session, _ = position_in_session(inst, times, liquid=False)
    in_liquid, x = position_in_session(inst, times, liquid=True)
    weight = np.where(in_session, OFF_HOURS[kind], 0.0)
    shaped = 1.0 + U_SHAPE[kind] * (2.0 * x - 1.0) ** 2
    return np.asarray(np.where(in_liquid, shaped, weight), dtype=np.float64)


@functools.cache
def _norm(inst: Instrument) -> float:
    """The profile's integral over one trading day (weight x seconds)."""
    kind = inst.sec_type if inst.sec_type in OFF_HOURS else "STK"
    # A Wednesday; sessions are the same every weekday.
    ref = dt.date(2025, 3, 5)
    [(_, lo, lc)] = list(inst.session.liquid_sessions(ref, 1))
    [(_, so, sc)] = list(inst.session.sessions(ref, 1))
    assert lo is not None and lc is not None and so is not None and sc is not None
    liquid = (lc - lo).total_seconds()
    whole = (sc - so).total_seconds()
    return liquid * (1.0 + U_SHAPE[kind] / 3.0) + (whole - liquid) * OFF_HOURS[kind]


def slot_volumes(inst: Instrument, slots: F64) -> tuple[F64, F64]:
    """Volume and trade count of 5-second slots starting at ``slots`` (integers)."""
    kind = inst.sec_type if inst.sec_type in OFF_HOURS else "STK"
    rate = daily_volume(inst) * _weights(inst, slots + TAPE / 2) / _norm(inst)
    salt = (inst.con_id % 9973) / 97.0
    volume = np.round(rate * TAPE * (0.5 + noise(slots / TAPE, salt)))
    count = np.where(volume > 0, np.maximum(1.0, np.round(volume / TRADE_SIZE[kind])), 0.0)
    return volume, count


def bar_volumes(inst: Instrument, times: F64, width: int, until: float) -> tuple[F64, F64]:
    """Volume and count of base bars ``[t, t + width)``: the sums of their slots before
    ``until`` (width 5 or 60), or the day's expected volume with noise (daily bars)."""
    if width >= 86400:
        salt = (inst.con_id % 9973) / 89.0
        volume = np.round(daily_volume(inst) * (0.6 + 0.8 * noise(times / 86400, salt)))
        kind = inst.sec_type if inst.sec_type in OFF_HOURS else "STK"
        return volume, np.maximum(1.0, np.round(volume / TRADE_SIZE[kind]))
    per = width // TAPE
    slots = (times[:, None] + TAPE * np.arange(per)[None, :]).ravel()
    volume, count = slot_volumes(inst, slots)
    live = (slots < until).astype(np.float64)
    volume = (volume * live).reshape(len(times), per).sum(axis=1)
    count = (count * live).reshape(len(times), per).sum(axis=1)
    return volume, count
