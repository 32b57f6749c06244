"""Logging: a rotating file in the user log folder, plus whatever handlers the UI adds; what
of the client library reaches them; and the two bounds that keep a hostile stream from
turning logging into a freeze.

The client library (ib_async / ib_insync, and eventkit under it) logs at INFO a dump of every
portfolio row, order and position it receives: 99 % of the log panel on a quiet desk, with
ibdesk's own events lost among them (issue 14). Its records are for debugging the wire, so
:class:`LibraryFilter` keeps them out of the panel, and out of the file below WARNING, unless
the debug switch (``[log] library = true``) is on. Its lines about IB's codes are left out
even at ERROR: ibdesk logs every code itself at the level it deserves (ibdesk.broker.codes).

Measured on the desk (issue 12): one 1 MiB error text, logged verbatim, cost 30 s in the log
panel; 30,000 undecodable frames became 30,000 tracebacks to stderr, file and panel and a 7 s
stall. So every handler formats through :class:`BoundedFormatter` (no record longer than the
handler can afford), and the client library's loggers (and the broker's own) go through a
:class:`FloodGuard` (one record per kind of problem per window, then a summary).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ibdesk import files
from ibdesk.config import APP_NAME

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the rotated-to ones included, is private (it lives
    here, not in ``ibdesk.files``, which the window imports before its first paint and which
    so stays free of ``logging.handlers``)."""

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's own override point
        files.private_file(Path(self.baseFilename))
        return super()._open()


def log_dir() -> Path:
    """The user log folder (e.g. ~/.local/state/ibdesk/log on Linux)."""
    return platformdirs.user_log_path(APP_NAME)


def setup(level: int = logging.INFO, directory: Path | None = None, library: bool = False) -> Path:
    """Log to ``ibdesk.log`` (5 files of 5 MB) and to stderr for warnings; returns the file.

    ``library`` is the debug switch: the client library's records at every level, instead
    of its warnings and errors only.
    """
    folder = files.private_folder(directory or log_dir())
    path = folder / "ibdesk.log"
    root = logging.getLogger()
    root.setLevel(level)
    file_handler = PrivateRotatingFileHandler(
        path, maxBytes=5 << 20, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(BoundedFormatter(FORMAT, max_chars=8000, max_lines=80))
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(BoundedFormatter(FORMAT, max_chars=2000, max_lines=30))
    for handler in (file_handler, console):
        handler.addFilter(LibraryFilter(ALL if library else logging.WARNING))
        root.addHandler(handler)
    return path


LIBRARY_LOGGERS = ("ib_async", "ib_insync", "eventkit")
""" the client libraries' logger trees (names only: nothing here imports them) """
ALL = 0
""" a :class:`LibraryFilter` floor that lets every library record through (the debug switch) """
NONE = logging.CRITICAL + 1
""" a floor that lets none through (the log panel's default) """


def from_library(record: logging.LogRecord) -> bool:
    """Whether the record comes from the client library's loggers."""
    return record.name.partition(".")[0] in LIBRARY_LOGGERS


def about_a_code(record: logging.LogRecord) -> bool:
    """Whether it is the library's own line about a code TWS sent ("Error 202, reqId 7: Order
    Canceled", and what the library concluded from it): both libraries log those from their
    wrapper's ``error`` callback, and ibdesk logs every code again at its own level."""
    return record.funcName == "error" and record.name.endswith(".wrapper")


class LibraryFilter(logging.Filter):
    """A handler filter: ibdesk's records pass; the client library's pass only from ``floor``
    up (:data:`ALL`, a level, or :data:`NONE`), and its lines about codes only with
    :data:`ALL` (they repeat, at the library's levels, what ibdesk logs at its own)."""

    def __init__(self, floor: int) -> None:
        super().__init__()
        self.floor = floor

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether the handler takes the record."""
        if not from_library(record):
            return True
        if self.floor == ALL:
            return True
        return record.levelno >= self.floor and not about_a_code(record)


def clamp(text: str, max_chars: int, max_lines: int) -> str:
    """``text`` cut to at most ``max_lines`` lines (the first ones and the last two, which
    in a traceback hold the exception) and ``max_chars`` characters, saying how much went."""
    if text.count("\n") >= max_lines:
        lines = text.split("\n")
        head, tail = lines[: max_lines - 3], lines[-2:]
        cut = len(lines) - len(head) - len(tail)
        text = "\n".join([*head, f"    ... [{cut:,} more lines]", *tail])
    if len(text) > max_chars:
        text = f"{text[:max_chars]} ... [{len(text) - max_chars:,} more characters]"
    return text


class BoundedFormatter(logging.Formatter):
    """A formatter whose output never exceeds ``max_chars`` characters and ``max_lines``
    lines (see :func:`clamp`): a handler's cost per record is bounded whatever was logged."""

    def __init__(
        self,
        fmt: str = FORMAT,
        datefmt: str | None = None,
        *,
        max_chars: int = 4000,
        max_lines: int = 40,
    ) -> None:
        super().__init__(fmt, datefmt)
        self.max_chars = max_chars
        self.max_lines = max_lines

    def format(self, record: logging.LogRecord) -> str:
        """The record formatted as usual, then clamped."""
        return clamp(super().format(record), self.max_chars, self.max_lines)


@dataclass(slots=True)
class _Kind:
    """One kind of record on one logger, in the current window."""

    started: float
    level: int
    sample: str
    passed: int = 0
    suppressed: int = 0


_DIGITS = re.compile(r"\d+")
SUMMARY = "flood_summary"
""" the LogRecord attribute that marks a guard's own summary (it always passes) """
KEY = "flood_key"
""" a LogRecord attribute (``extra={"flood_key": ...}``) naming a record's kind """


class FloodGuard(logging.Filter):
    """A filter for loggers that hostile input can flood: per window, the first record of
    each kind passes (with its traceback), the rest are counted, and :meth:`flush` logs one
    summary per kind ("29,999 more like this in 10 s"). Records below WARNING always pass.

    A record's kind is its ``flood_key`` extra, else its message template when it has
    arguments (our own %-style records), else its first 40 characters with digits blanked
    (the client libraries log f-strings: "Error handling fields: [...]"). A logger may pass
    at most ``per_logger`` records per window whatever their kinds, so that varying the text
    does not get a flood through.

    Attach it with :meth:`attach` (counted: several sessions may share it) and call
    :meth:`flush` about once a second.
    """

    MAX_KINDS = 200
    """ kinds tracked per logger; beyond, records share one "other" kind """

    def __init__(
        self,
        window: float = 10.0,
        per_logger: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window = window
        self.per_logger = per_logger
        self.clock = clock
        self._lock = threading.Lock()  # the library logs from the watchdog's thread too
        self._kinds: dict[str, dict[str, _Kind]] = {}
        """ logger name -> kind -> its window """
        self._budget: dict[str, tuple[float, int]] = {}
        """ logger name -> (window start, records passed) """
        self._owed: list[tuple[str, _Kind]] = []
        """ summaries of windows that ended, for the next flush """
        self._names: list[str] = []
        self._users = 0

    # ---- attaching ------------------------------------------------------------------------

    def attach(self, *names: str) -> None:
        """Guard these loggers (one more user of the guard)."""
        with self._lock:
            self._users += 1
            for name in names:
                if name not in self._names:
                    self._names.append(name)
                logging.getLogger(name).addFilter(self)  # a no-op if already there

    def detach(self) -> None:
        """One user less; the last one removes the guard and forgets every count."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users:
                return
            for name in self._names:
                logging.getLogger(name).removeFilter(self)
            self._names.clear()
            self._kinds.clear()
            self._budget.clear()
            self._owed.clear()

    # ---- filtering ------------------------------------------------------------------------

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether the record goes on to the handlers."""
        if record.levelno < logging.WARNING or getattr(record, SUMMARY, False):
            return True
        now = self.clock()
        with self._lock:
            kinds = self._kinds.setdefault(record.name, {})
            key = self._kind_of(record, kinds)
            kind = kinds.get(key)
            if kind is None or now - kind.started >= self.window:
                if kind is not None and kind.suppressed:
                    self._owed.append((record.name, kind))
                kind = kinds[key] = _Kind(now, record.levelno, _sample(record))
            start, passed = self._budget.get(record.name, (now, 0))
            if now - start >= self.window:
                start, passed = now, 0
            if kind.passed or passed >= self.per_logger:
                kind.suppressed += 1
                return False
            kind.passed += 1
            self._budget[record.name] = (start, passed + 1)
            return True

    def _kind_of(self, record: logging.LogRecord, kinds: dict[str, _Kind]) -> str:
        explicit = getattr(record, KEY, None)
        if explicit:
            key = str(explicit)
        elif record.args:
            key = str(record.msg)[:200]
        else:
            key = _DIGITS.sub("#", str(record.msg)[:80])[:40]
        if key not in kinds and len(kinds) >= self.MAX_KINDS:
            return "(other messages)"
        return key

    # ---- summaries ------------------------------------------------------------------------

    def flush(self) -> int:
        """Log a summary for every kind whose window has ended with records held back;
        returns how many summaries were logged."""
        now = self.clock()
        with self._lock:
            owed, self._owed = self._owed, []
            for name, kinds in self._kinds.items():
                for key, kind in list(kinds.items()):
                    if now - kind.started >= self.window:
                        if kind.suppressed:
                            owed.append((name, kind))
                        del kinds[key]
        by_logger: dict[str, list[_Kind]] = {}
        for name, kind in owed:
            by_logger.setdefault(name, []).append(kind)
        logged = 0
        for name, ended in by_logger.items():
            ended.sort(key=lambda k: -k.suppressed)
            shown, rest = ended[: self.per_logger], ended[self.per_logger :]
            logger = logging.getLogger(name)
            for kind in shown:
                logger.log(
                    kind.level,
                    "%s more like this in %g s were held back to keep the desk responsive: %s",
                    f"{kind.suppressed:,}",
                    self.window,
                    kind.sample,
                    extra={SUMMARY: True},
                )
            if rest:
                count = sum(k.suppressed for k in rest)
                logger.log(
                    max(k.level for k in rest),
                    "%s more records of %d other kinds were held back",
                    f"{count:,}",
                    len(rest),
                    extra={SUMMARY: True},
                )
            logged += len(shown) + bool(rest)
        return logged


def _sample(record: logging.LogRecord) -> str:
    """The first 200 characters of a record's message (for its kind's summary)."""
    try:
        return record.getMessage()[:200]
    except (TypeError, ValueError):  # arguments that do not fit the template
        return str(record.msg)[:200]
