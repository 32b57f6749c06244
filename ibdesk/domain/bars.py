"""Chart timeframes and the OHLCV bar snapshot.

A :class:`Timeframe` carries what the broker layer needs to ask IB for its bars (the
``barSizeSetting`` and a first ``durationStr``) and what a chart needs to label them. Each
first duration is the longest that IB's step-size table ("Historical Data Limitations")
allows with that bar size: a request outside the table is refused with error 162, and more
history than that means paging back with an earlier ``endDateTime``, within the pacing limits.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class _Spec:
    seconds: int
    label: str
    bar_size: str
    duration: str


class Timeframe(Enum):
    """The bar sizes charts offer, from 5-second bars to daily bars.

    Intraday bars start on a grid of ``seconds`` counted from the epoch, so a 5-minute bar
    starts at :00, :05 …; a daily bar is dated by its trading day, at UTC midnight.
    """

    S5 = _Spec(5, "5s", "5 secs", "3600 S")
    M1 = _Spec(60, "1m", "1 min", "1 D")
    M5 = _Spec(300, "5m", "5 mins", "1 W")
    M15 = _Spec(900, "15m", "15 mins", "1 W")
    H1 = _Spec(3600, "1h", "1 hour", "1 M")
    D1 = _Spec(86400, "1D", "1 day", "1 Y")

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return self.value.seconds

    @property
    def label(self) -> str:
        """Short name for a chart's header and the saved layout (``"5m"``)."""
        return self.value.label

    @property
    def bar_size(self) -> str:
        """IB's ``barSizeSetting`` (``"5 mins"``)."""
        return self.value.bar_size

    @property
    def duration(self) -> str:
        """The ``durationStr`` of a first back-fill (``"1 W"``)."""
        return self.value.duration

    @property
    def intraday(self) -> bool:
        """True for bars shorter than a day (labelled by clock time, not by date)."""
        return self.seconds < 86400

    def bar_start(self, time: float) -> float:
        """Start (epoch s) of the intraday bar that holds ``time``."""
        step = self.seconds
        return float(math.floor(time / step) * step)

    def gap_duration(self, seconds: float) -> str:
        """A ``durationStr`` that covers the last ``seconds`` plus two bars (to re-join a
        series after a break), never more than the first back-fill asks for.

        IB takes seconds up to a day (``"N S"``); beyond that whole days.
        """
        need = max(0.0, seconds) + 2 * self.seconds
        if not self.intraday or need > 86400:
            days = math.ceil(need / 86400)
            text = f"{days} D"
            return text if days < _duration_days(self.duration) else self.duration
        return f"{math.ceil(need)} S"

    @classmethod
    def from_label(cls, label: str) -> Timeframe:
        """The timeframe whose :attr:`label` or :attr:`bar_size` is ``label``.

        Raises:
            ValueError: no such timeframe.
        """
        for tf in cls:
            if label in (tf.label, tf.bar_size):
                return tf
        raise ValueError(f"unknown timeframe {label!r}")


def _duration_days(text: str) -> float:
    """Days in a duration string (``"3600 S"`` -> 0.04, ``"1 W"`` -> 7)."""
    count, unit = text.split()
    return int(count) * {"S": 1 / 86400, "D": 1, "W": 7, "M": 30, "Y": 365}[unit]


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``time`` is the epoch second it starts at."""

    time: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    @property
    def up(self) -> bool:
        """True unless the bar closed below its open (a flat bar counts as up)."""
        return self.close >= self.open

    def as_datetime(self) -> dt.datetime:
        """The start as an aware UTC datetime (for display and logs)."""
        return dt.datetime.fromtimestamp(self.time, dt.UTC)


class HistoryError(Exception):
    """A back-fill the broker refused or answered with nothing (the text says why)."""
