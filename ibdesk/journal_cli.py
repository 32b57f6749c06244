"""``ibdesk journal ...``: the order journal from the command line.

``ibdesk journal export --since DATE --csv PATH [--journal PATH]`` writes every journal row
since DATE (``YYYY-MM-DD``, local midnight, or a full ISO datetime; without an offset it is
local time) to one chronological CSV. The journal is read while the app may be running (WAL
lets a reader in beside the writer).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    return export(
        args.since, args.csv, args.journal or (default_path(demo=True) if args.demo else None)
    )


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
