"""The day's account P&L over time, for the account panel's curve."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: Seconds after which an unchanged P&L is sampled again (the curve reaches "now").
HOLD = 5.0


class PnlTrail:
    """Samples (epoch seconds, dollars) of one account's daily P&L, in time order.

    A new sample is kept when the P&L changed or :data:`HOLD` seconds passed. Beyond ``cap``
    samples every other one of the older half is dropped: the curve keeps its shape and the
    morning loses resolution, never the last hour.
    """

    def __init__(self, cap: int = 20_000) -> None:
        self.cap = cap
        self._times: list[float] = []
        self._values: list[float] = []

    def __len__(self) -> int:
        return len(self._times)

    def add(self, time: float, value: float) -> bool:
        """Record the P&L at ``time``; False when it was not kept (NaN, unchanged, or not
        after the last sample)."""
        if math.isnan(value):
            return False
        if self._times:
            if time <= self._times[-1]:
                return False
            if value == self._values[-1] and time - self._times[-1] < HOLD:
                return False
        self._times.append(time)
        self._values.append(value)
        if len(self._times) > self.cap:
            half = len(self._times) // 2
            self._times[:half] = self._times[:half:2]
            self._values[:half] = self._values[:half:2]
        return True

    def clear(self) -> None:
        """Forget every sample (another account is shown)."""
        self._times.clear()
        self._values.clear()

    def arrays(self) -> tuple[F64, F64]:
        """Times and values as arrays."""
        return np.array(self._times, dtype=np.float64), np.array(self._values, dtype=np.float64)
