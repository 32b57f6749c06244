"""The desk's clock: the one place the running desk asks what time it is.

Everything the desk stamps or compares with "now" (orders, notices, checks, loss locks, the
reconnect report) takes a ``Clock`` from the desk instead of calling ``time.time()``, so that
a replay can run the desk on a recorded day and a test can run it on a clock it controls.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

Clock = Callable[[], float]
""" seconds since the epoch """

system: Clock = time.time
""" the machine's clock, the desk's unless it is given another """


def today(clock: Clock) -> dt.date:
    """The local date at the clock's now."""
    return dt.datetime.fromtimestamp(clock()).date()
