"""``ibdesk journal ...``: the order journal from the command line.

``ibdesk journal replay REF`` (or ``--at TIME``) opens the session's replay a little before an
order was asked for: the link from the journal to what the screen showed then. The tape is
found beside the journal (its ``tapes`` folder, as the desk records by default).

``ibdesk journal export --since DATE --csv PATH [--journal PATH]`` writes every journal row
since DATE (``YYYY-MM-DD``, local midnight, or a full ISO datetime; without an offset it is
local time) to one chronological CSV. The journal is read while the app may be running (WAL
lets a reader in beside the writer).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from ibdesk.trading.journal import Journal, JournalError, default_path


def parser() -> argparse.ArgumentParser:
    """The ``ibdesk journal`` command and its subcommands."""
    p = argparse.ArgumentParser(prog="ibdesk journal", description="The order journal.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="write the journal rows since a date to a CSV file",
        description="Write every journal row since DATE (intents, order events, fills, "
        "commissions, errors, connection events, user actions) to one chronological CSV.",
    )
    export.add_argument(
        "--since",
        required=True,
        metavar="DATE",
        help="YYYY-MM-DD (local midnight) or an ISO datetime such as 2025-03-14T09:30 "
        "(local time unless it has an offset)",
    )
    export.add_argument("--csv", required=True, type=Path, metavar="PATH", help="CSV to write")
    where = export.add_mutually_exclusive_group()
    where.add_argument(
        "--journal",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"journal file (default: {default_path()})",
    )
    where.add_argument(
        "--demo", action="store_true", help=f"the demo's journal ({default_path(demo=True)})"
    )
    link = commands.add_parser(
        "replay",
        help="open the replay of the session at an order's time",
        description="Open the recorded session (ibdesk replay) paused a little before an order "
        "was asked for, or at a time.",
    )
    link.add_argument("ref", nargs="?", default=None, help="the order's ref (as the blotter shows)")
    link.add_argument("--at", default=None, metavar="TIME", help="an ISO date and time instead")
    link.add_argument(
        "--before", type=float, default=30.0, metavar="SECONDS", help="open this much earlier"
    )
    link.add_argument(
        "--print", action="store_true", help="print the replay's command instead of opening it"
    )
    place = link.add_mutually_exclusive_group()
    place.add_argument("--journal", type=Path, default=None, metavar="PATH")
    place.add_argument("--demo", action="store_true", help="the demo's journal and tapes")
    return p


def parse_since(text: str) -> float:
    """Seconds since the epoch for ``YYYY-MM-DD`` (local midnight) or an ISO datetime.

    Raises:
        ValueError: with a message that says what is accepted.
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip())  # a bare date is midnight
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: use YYYY-MM-DD (local midnight) or an ISO datetime "
            "such as 2025-03-14T09:30 or 2025-03-14T13:30:00Z"
        ) from None
    return moment.timestamp()  # a naive datetime is local time


def main(argv: list[str]) -> int:
    """Run ``ibdesk journal`` with ``argv`` (what follows ``journal``); returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else 2
    journal = args.journal or (default_path(demo=True) if args.demo else None)
    if args.command == "replay":
        return replay_link(args.ref, args.at, args.before, journal, args.print)
    return export(args.since, args.csv, journal)


def order_time(journal_path: Path, ref: str) -> float | None:
    """When an order was first asked for (its intent), else first seen, per the journal."""
    uri = f"{journal_path.resolve().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        row = db.execute(
            "SELECT min(t) FROM (SELECT min(time) AS t FROM intents WHERE ref = :ref"
            " UNION ALL SELECT min(time) FROM order_events WHERE ref = :ref"
            " UNION ALL SELECT created FROM orders WHERE ref = :ref AND created > 0)",
            {"ref": ref},
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def replay_link(
    ref: str | None, at: str | None, before: float, journal_path: Path | None, only_print: bool
) -> int:
    """``ibdesk journal replay``: find the tape and open it there (or print the command)."""
    from ibdesk.replay.tape import tape_at

    path = journal_path if journal_path is not None else default_path()
    if (ref is None) == (at is None):
        return _fail("give an order's ref or --at TIME (one of the two)")
    if at is not None:
        try:
            when = parse_since(at)
        except ValueError as exc:
            return _fail(f"--at: {exc}")
    else:
        if not path.is_file():
            return _fail(f"no journal at {path} (give its location with --journal PATH)")
        try:
            found = order_time(path, str(ref))
        except sqlite3.Error as exc:
            return _fail(f"cannot read {path}: {exc}")
        if found is None:
            return _fail(f"no order {ref} in {path}")
        when = found
    tape = tape_at(path.parent / "tapes", when)
    if tape is None:
        return _fail(f"no tape in {path.parent / 'tapes'} covers {_local(when)}")
    start = max(when - before, 0.0)
    command = [sys.executable, "-m", "ibdesk", "replay", str(tape), "--from", _local(start)]
    command.append("--paused")
    if only_print:
        print(" ".join(shlex.quote(part) for part in command))
        return 0
    return subprocess.call(command)


def _local(t: float) -> str:
    return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def export(since_text: str, csv_path: Path, journal_path: Path | None) -> int:
    """``ibdesk journal export``: returns the exit code (2: bad date, no journal, bad file)."""
    try:
        since = parse_since(since_text)
    except ValueError as exc:
        return _fail(f"--since: {exc}")
    path = journal_path if journal_path is not None else default_path()
    if not path.is_file():
        return _fail(f"no journal at {path} (give its location with --journal PATH)")
    try:
        with Journal(path) as journal:
            rows = journal.export_csv(since, csv_path)
    except JournalError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {csv_path}: {exc.strerror or exc}")
    local = dt.datetime.fromtimestamp(since).astimezone().isoformat(timespec="minutes")
    print(f"wrote {rows} journal rows since {local} to {csv_path} (journal: {path})")
    return 0


def _fail(message: str) -> int:
    print(f"ibdesk journal: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
