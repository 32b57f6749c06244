"""``ibdesk kill``: the kill switch from a terminal, or as a small window of its own.

``ibdesk kill [--flatten]`` connects with its own client id, lists every open order and sends
a global cancel back to back, (closes every position,) verifies with the broker, prints what
it cancelled, closed and verified, and exits 0 only when verified. It also latches HALTED in
the journal, so a running desk halts too within a second. It works whether the desktop is
running, frozen or gone.

``ibdesk kill --reduce`` latches REDUCING (exits only) instead: nothing is cancelled here, and
a running desk adopts it within a second, cancelling its own orders that would add to a
position and keeping its exits.

``ibdesk kill --window`` opens the always-on-top kill window instead, with a connection kept
open so that a click goes out at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ibdesk import config
from ibdesk.desk.safety import CLI_ID_OFFSET, WINDOW_ID_OFFSET
from ibdesk.domain.risk import KillReport
from ibdesk.trading.journal import default_path as default_journal_path

EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The ``ibdesk kill`` command's flags (the connection flags mean what they do for
    ``ibdesk``; the client id is the kill's own)."""
    p = argparse.ArgumentParser(
        prog="ibdesk kill",
        description="Cancel every order in the account (from every client and the TWS "
        "screen), verify with the broker, and halt a running ibdesk. Exits 0 only when "
        "verified.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--flatten", action="store_true", help="also close every position")
    mode.add_argument(
        "--reduce",
        action="store_true",
        help="latch REDUCING (exits only) instead of killing: a running ibdesk cancels its own "
        "orders that would add to a position and keeps its exits; nothing else is cancelled",
    )
    mode.add_argument(
        "--window", action="store_true", help="open the always-on-top kill window instead"
    )
    p.add_argument("--host", default=None, help="TWS / IB Gateway host (default: the config's)")
    p.add_argument("--port", type=int, default=None, help="API port (default: the config's)")
    p.add_argument(
        "--client-id",
        type=int,
        default=None,
        help=f"the kill's own client id (default: the config's + {CLI_ID_OFFSET}, "
        f"or + {WINDOW_ID_OFFSET} for the window)",
    )
    p.add_argument("--account", default=None, help="account to flatten (default: the first)")
    p.add_argument("--config", type=Path, default=None, metavar="PATH", help="config file")
    p.add_argument(
        "--journal",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"journal to latch the halt in (default: {default_journal_path()}; with --demo, "
        "the demo's)",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="latch in the demo's journal (the demo's simulator port still goes in --port)",
    )
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per broker step")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="show the client library's log")
    return p


def main(argv: list[str]) -> int:
    """Run ``ibdesk kill`` with ``argv`` (what follows ``kill``); returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        settings = config.with_overrides(
            config.load(args.config), host=args.host, port=args.port, account=args.account
        )
    except config.ConfigError as exc:
        print(f"ibdesk kill: invalid configuration in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    conn = settings.connection
    offset = WINDOW_ID_OFFSET if args.window else CLI_ID_OFFSET
    client_id = args.client_id if args.client_id is not None else conn.client_id + offset
    journal = args.journal or default_journal_path(demo=args.demo)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    if args.reduce:
        return reduce(journal, conn.account)
    if args.window:
        from ibdesk.kill_window_app import run_kill_window  # Qt only for the window

        return run_kill_window(conn.host, conn.port, client_id, journal, args.exit_after)
    from ibdesk.broker.emergency import emergency_kill

    print(f"ibdesk kill: {conn.host}:{conn.port} as client {client_id}", flush=True)
    report = asyncio.run(
        emergency_kill(
            conn.host,
            conn.port,
            client_id,
            flatten=args.flatten,
            account=conn.account,
            timeout=args.timeout,
            journal_path=journal,
        )
    )
    if report.client_id and report.client_id != client_id:
        print(f"(client id {client_id} was in use; the kill connected as {report.client_id})")
    print(describe(report))
    return EXIT_VERIFIED if report.verified else EXIT_NOT_VERIFIED


def reduce(journal: Path, account: str) -> int:
    """Latch REDUCING for ``account`` (else the account the desk traded last); exit 0 once
    it is in the journal."""
    from ibdesk.broker.emergency import latch_reducing

    accounts, problem = latch_reducing(journal, "ibdesk kill (cli)", "exits only", account)
    if problem:
        print(f"ibdesk kill: REDUCING NOT latched: {problem}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    print(
        f"REDUCING latched for {', '.join(accounts) or 'the desk'} in {journal}. A running "
        "ibdesk adopts it within a second: it cancels its own orders that would add to a "
        "position and keeps its exits. Orders of other clients keep working: 'ibdesk kill' "
        "cancels everything."
    )
    return EXIT_VERIFIED


def describe(report: KillReport) -> str:
    """What a kill cancelled, closed and verified, for a terminal."""
    lines = []
    if report.cancelled:
        lines.append(f"Cancelled {len(report.cancelled)} working order(s):")
        lines += [
            f"  client {o.client_id:<4} order {o.order_id:<6} perm {o.perm_id:<10} "
            f"{o.side} {o.qty:g} {o.symbol} {o.order_type} (was {o.status})"
            for o in report.cancelled
        ]
    else:
        lines.append("No order was working.")
    if report.flatten:
        lines.append("Closing orders: " + ("; ".join(report.closing) or "none needed"))
    for o in report.open_orders:
        lines.append(
            f"STILL WORKING: client {o.client_id} order {o.order_id} {o.side} {o.qty:g} "
            f"{o.symbol} {o.order_type} ({o.status})"
        )
    for p in report.positions:
        lines.append(f"STILL OPEN: {p.account} {p.symbol} {p.qty:g}")
    lines.append(report.summary())
    return "\n".join(lines)
