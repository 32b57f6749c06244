"""Bounds on what one client's bad input can cost in log lines and echoed text.

A flood of 3,000 malformed requests once wrote 3,000 log lines carrying each request's
fields (50 MiB of log from one client), and each error sent back echoed the offending value
in full. Here every echoed value is clipped, and log lines about bad input go through a token
bucket: a burst passes, the rest is counted and reported in one line when logging resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Longest value echoed back in an error text or a log line.
ECHO_LIMIT = 60
#: Longest log line about a bad request.
LINE_LIMIT = 300


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def show(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)``, clipped: how an offending value appears in an error."""
    return clip(repr(value), limit)


class LogThrottle:
    """A logger for lines one client can provoke at will, bounded in count and length.

    A token bucket of ``burst`` lines refills at ``per_second``; a line that finds the bucket
    empty is dropped and counted, and the next line that passes is preceded by the count.
    Messages are formatted only when they pass, so a dropped line costs almost nothing.
    """

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 20,
        per_second: float = 2.0,
        limit: int = LINE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.per_second = per_second
        self.limit = limit
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()
        self.suppressed = 0

    def log(self, level: int, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log one line if the budget allows; returns whether it was logged."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens < 1.0:
            self.suppressed += 1
            return False
        self.tokens -= 1.0
        if self.suppressed:
            self.logger.log(level, "%d similar log lines were suppressed", self.suppressed)
            self.suppressed = 0
        self.logger.log(level, "%s", clip(msg % args, self.limit), exc_info=exc_info)
        return True

    def warning(self, msg: str, *args: object) -> bool:
        """A WARNING line, within the budget."""
        return self.log(logging.WARNING, msg, *args)

    def exception(self, msg: str, *args: object) -> bool:
        """An ERROR line with the current exception's traceback, within the budget."""
        return self.log(logging.ERROR, msg, *args, exc_info=True)
