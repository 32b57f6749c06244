"""The tape: one SQLite file per recorded session (part), append-only, compressed in chunks.

Format (docs/tape.md has the full list of kinds and fields):

* ``meta(key, value)``: ``format`` (this module's :data:`FORMAT`), ``started`` and, once the
  recording ended cleanly, ``closed`` (epoch seconds); ``session`` and ``part``.
* ``instruments(con_id, row)``: each instrument the tape's events name, as a JSON array.
* ``chunks(seq, t0, t1, n, body)``: ``n`` events from ``t0`` to ``t1`` (epoch s);
  ``body`` is zlib-compressed JSON: an array of rows ``[dt, kind, *fields]`` where ``dt`` is
  the event's time minus ``t0``.

Why this shape: SQLite is in the standard library and survives a process killed mid-write
(the last commit is what is there); a chunk of a few thousand events per row keeps the row
overhead and the index small (an hour at 5,000 events/s is ~9,000 rows, not 18 million), and
compressed JSON is readable by any language with no schema compiler. A reader can start at
any time through the ``t1`` index without decoding what comes before.

A tape without ``closed`` was cut (ibdesk killed, the machine down): :class:`TapeReader`
replays up to the last chunk that was committed and says so; a file cut short on disk (a copy
that stopped) is read up to the first chunk it cannot read, and says that too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibdesk import files
from ibdesk.replay.codec import Decoder, Encoder, Event

FORMAT = "ibdesk-tape 1"
APPLICATION_ID = 0x69625470  # "ibTp"
SUFFIX = ".tape"
CHUNK_EVENTS = 4096
""" events per chunk at most: big enough to compress well, small enough to seek within """
ZLIB_LEVEL = 1
""" level 1 compresses a quote stream ~6x at a fraction of level 6's time (measured:
benchmarks.replay's tape_bytes_per_msg) """

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS instruments (con_id INTEGER PRIMARY KEY, row TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chunks (seq INTEGER PRIMARY KEY, t0 REAL NOT NULL, "
    "t1 REAL NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chunks_t1 ON chunks (t1)",
)


_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _constant(name: str) -> float:
    # One NaN object for every NaN read: frozen snapshots compare as tuples, which take two
    # identical NaNs as equal, so a replayed order that did not change compares unchanged.
    return _CONSTANTS[name]


def loads(text: bytes | str) -> Any:
    """JSON as the tape writes it (NaN and infinities included)."""
    return json.loads(text, parse_constant=_constant)


class TapeError(Exception):
    """The file is not a tape this ibdesk can read."""


class TapeWriter:
    """Appends events to one tape file. Not thread-safe: the recorder's writer thread owns it.

    Args:
        path: the file (created; an existing tape is appended to).
        session: the session's name, kept in ``meta``.
        part: which part of the session this file is (rotation starts a new one).
    """

    def __init__(self, path: Path, session: str = "", part: int = 1) -> None:
        self.path = path
        files.private_file(path)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for statement in _SCHEMA:
            self.db.execute(statement)
        meta = {"format": FORMAT, "session": session, "part": str(part)}
        self.db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", meta.items())
        self.db.execute("DELETE FROM meta WHERE key = 'closed'")  # appending: open again
        self.encoder = Encoder()
        self.events = 0
        self.started: float | None = None

    def write(self, batch: list[tuple[float, str, Any]]) -> None:
        """Encode and append a batch of (time, kind, payload) in one transaction."""
        if not batch:
            return
        if self.started is None:
            self.started = batch[0][0]
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('started', ?)", (repr(self.started),)
            )
        rows: list[list[Any]] = []
        encode = self.encoder.encode
        for t, kind, payload in batch:
            encode(t, kind, payload, rows)
        self.db.execute("BEGIN")
        try:
            self._instruments()
            for i in range(0, len(rows), CHUNK_EVENTS):
                self._chunk(rows[i : i + CHUNK_EVENTS])
            self.db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise
        self.events += len(rows)

    def _instruments(self) -> None:
        new = self.encoder.new_instruments
        if new:
            self.db.executemany(
                "INSERT OR REPLACE INTO instruments VALUES (?, ?)",
                [(row[0], json.dumps(row)) for row in new],
            )
            new.clear()

    def _chunk(self, rows: list[list[Any]]) -> None:
        t0, t1 = rows[0][0], rows[-1][0]
        for row in rows:
            row[0] = round(row[0] - t0, 6)
        body = zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), ZLIB_LEVEL)
        self.db.execute(
            "INSERT INTO chunks (t0, t1, n, body) VALUES (?, ?, ?, ?)", (t0, t1, len(rows), body)
        )

    def size(self) -> int:
        """Bytes on disk now."""
        return self.path.stat().st_size

    def close(self, at: float) -> None:
        """Mark the tape as ended cleanly at ``at`` and close it."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('closed', ?)", (repr(at),))
        self.db.close()


@dataclass(frozen=True, slots=True)
class TapeInfo:
    """What a tape says of itself."""

    path: Path
    started: float | None
    ended: float | None
    """ time of the last event that can be read """
    closed: bool
    """ the recording ended cleanly (False: cut, see :attr:`TapeReader.problem`) """
    events: int
    session: str


class TapeReader:
    """Reads a tape: its events in time order, from any time, up to any time.

    ``problem`` is None for a tape read to its clean end; otherwise it says in words where the
    tape was cut or damaged, and everything before that point has been (or will be) read.

    Raises:
        TapeError: not a tape (or not SQLite at all).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise TapeError(f"{path}: no such file")
        self.problem: str | None = None
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            meta = self._meta()
        except sqlite3.DatabaseError as exc:
            # SQLite refuses a file shorter than its header says (a copy that stopped, a
            # disk that filled) unless the schema is "writable"; this connection never
            # writes, and what the file still holds can then be read.
            self.db.execute("PRAGMA writable_schema = ON")
            try:
                meta = self._meta()
            except sqlite3.DatabaseError:
                self.db.close()
                raise TapeError(f"{path}: not an ibdesk tape ({exc})") from exc
            self.problem = "the file is cut short on disk"
        if meta.get("format", "").split(" ")[0] != FORMAT.split(" ", maxsplit=1)[0]:
            self.db.close()
            raise TapeError(f"{path}: not an ibdesk tape")
        self.meta = meta
        self.decoder = Decoder()
        self._load_instruments()
        self._last_good: float | None = None
        if "closed" not in meta and self.problem is None:
            self.problem = "the recording was cut (ibdesk stopped without closing the tape)"

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def _load_instruments(self) -> None:
        try:
            for (row,) in self.db.execute("SELECT row FROM instruments"):
                self.decoder.decode([0.0, "i", *loads(row)])
        except (sqlite3.DatabaseError, ValueError) as exc:
            self.problem = f"its instrument list is damaged ({exc})"

    def info(self) -> TapeInfo:
        """Start, end and size, from the chunk index (no event is decoded)."""
        started = self.meta.get("started")
        try:
            first, last, n = self.db.execute(
                "SELECT min(t0), max(t1), sum(n) FROM chunks"
            ).fetchone()
        except sqlite3.DatabaseError:
            first, last, n = None, None, 0
        return TapeInfo(
            self.path,
            float(started) if started else first,
            last,
            "closed" in self.meta,
            int(n or 0),
            self.meta.get("session", ""),
        )

    def events(self, start: float | None = None, end: float | None = None) -> Iterator[Event]:
        """Events with ``start <= time <= end`` (None: no bound), in time order.

        Stops at the first chunk it cannot read, and says where in :attr:`problem`.
        """
        decode = self.decoder.decode
        for rows in self.chunks(start, end):
            for r in rows:
                event = decode(r)
                if event is not None:
                    yield event

    def rows(self, start: float | None = None, end: float | None = None) -> Iterator[list[Any]]:
        """The raw rows ``[time, kind, *fields]`` of :meth:`events` (the player decodes
        them itself, and may skip building quotes nobody would see)."""
        for rows in self.chunks(start, end):
            yield from rows

    def chunks(
        self, start: float | None = None, end: float | None = None
    ) -> Iterator[list[list[Any]]]:
        """The rows of each chunk in the range (times made absolute), chunk by chunk."""
        lo = -1e300 if start is None else start
        hi = 1e300 if end is None else end
        seq = self._first_seq(lo)
        while seq is not None:
            try:
                row = self.db.execute(
                    "SELECT seq, t0, body FROM chunks WHERE seq >= ? ORDER BY seq LIMIT 1", (seq,)
                ).fetchone()
                if row is None:
                    return
                seq, t0, body = row
                rows = loads(zlib.decompress(body))
            except (sqlite3.DatabaseError, zlib.error, ValueError) as exc:
                cut = self.problem or "it is damaged"
                self.problem = f"{cut}: unreadable after {self._at(self._last_good)} ({exc})"
                return
            if t0 > hi:
                return
            for r in rows:
                r[0] += t0
            if rows and (rows[0][0] < lo or rows[-1][0] > hi):
                rows = [r for r in rows if lo <= r[0] <= hi]
            if rows:
                yield rows
            self._last_good = rows[-1][0] if rows else t0
            if rows and rows[-1][0] >= hi:
                return
            seq += 1

    def _first_seq(self, lo: float) -> int | None:
        try:
            row = self.db.execute("SELECT min(seq) FROM chunks WHERE t1 >= ?", (lo,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self.problem = f"its index is damaged ({exc})"
            # The index is one b-tree, the chunks another: try the chunks from the first.
            return 1
        return None if row is None or row[0] is None else int(row[0])

    @staticmethod
    def _at(t: float | None) -> str:
        if t is None:
            return "its start"
        return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")

    def message(self) -> str | None:
        """What a trader should be told about this tape (None: nothing)."""
        if self.problem is None:
            return None
        where = self._at(self._last_good) if self._last_good is not None else "the cut"
        return f"This tape ends early: {self.problem}. Replayed up to {where}."

    def close(self) -> None:
        """Close the file."""
        self.db.close()


def parse_when(text: str, day_of: float) -> float:
    """``09:30`` or ``09:30:15`` on the (local) day of ``day_of``, or an ISO date and time;
    epoch seconds. ValueError when it is neither."""
    if len(text) <= 8:  # a time of day
        clock_time = dt.time.fromisoformat(text)
        return dt.datetime.combine(dt.datetime.fromtimestamp(day_of).date(), clock_time).timestamp()
    return dt.datetime.fromisoformat(text).timestamp()


# ---- where tapes live, and the budget ---------------------------------------------------------


def tape_name(started: float, part: int = 1) -> str:
    """``20261204-093000.tape`` (local time), ``-2`` before the suffix for later parts."""
    stamp = dt.datetime.fromtimestamp(started).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}{'' if part == 1 else f'-{part}'}{SUFFIX}"


def tape_at(folder: Path, t: float) -> Path | None:
    """The tape of ``folder`` that covers time ``t`` (the latest that started before it and
    has an event at or after it); None when no tape does."""
    for path in reversed(tapes_in(folder)):
        try:
            reader = TapeReader(path)
        except TapeError:
            continue
        try:
            info = reader.info()
        finally:
            reader.close()
        if info.started is not None and info.started <= t <= (info.ended or info.started):
            return path
    return None


def tapes_in(folder: Path) -> list[Path]:
    """The tapes of a folder, oldest first (by name: names are start times)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())


def prune(folder: Path, budget: int, keep: Path | None = None) -> list[Path]:
    """Delete the oldest tapes until the folder holds at most ``budget`` bytes of them;
    ``keep`` (the tape being written) is never deleted. Returns what was deleted."""
    tapes = tapes_in(folder)
    sizes = {p: _size(p) for p in tapes}
    total = sum(sizes.values())
    gone = []
    for path in tapes:
        if total <= budget:
            break
        if path == keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            gone.append(path)
        total -= sizes[path]
    return gone


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
