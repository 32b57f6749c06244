"""``ibdesk rearm --why TEXT``: the re-arm from a terminal, for a desk with no window.

A halt is latched in the journal (``ibdesk kill``, the kill window, the watchdog, a global
cancel seen by ``ibdesk run``), so a restarted ``ibdesk run`` still refuses to trade. On a
server there is no window whose Re-arm button would lift it; this is that button. It asks
for the same typed reason, journals who and why, and refuses while a daily-loss lock holds
(the lock ends by itself at the next session, as in the window). It changes the latch only:
a desk running now adopts only stricter states from other processes, so the trader restarts
``ibdesk run`` after this.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ibdesk.domain.risk import TradingState
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal, JournalError
from ibdesk.trading.journal import default_path as default_journal_path

EXIT_DONE, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
WHO = "ibdesk rearm (cli)"


def parser() -> argparse.ArgumentParser:
    """The ``ibdesk rearm`` command's flags."""
    p = argparse.ArgumentParser(
        prog="ibdesk rearm",
        description="Lift a latched halt (back to ACTIVE, or to REDUCING: exits only) with a "
        "typed reason, for the next start of ibdesk or ibdesk run.",
    )
    p.add_argument("--why", default="", help="why it is safe to trade again (journaled)")
    p.add_argument(
        "--to",
        choices=("active", "reducing"),
        default="active",
        help="ACTIVE (default), or REDUCING: exits only",
    )
    p.add_argument(
        "--journal",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"the journal holding the halt (default: {default_journal_path()}; with --demo, "
        "the demo's)",
    )
    p.add_argument("--demo", action="store_true", help="the demo's journal")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``ibdesk rearm``."""
    args = parser().parse_args(argv)
    if not args.why.strip():
        print(
            "ibdesk rearm: say why it is safe to trade again: --why TEXT (it goes in the journal)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    path = args.journal or default_journal_path(demo=args.demo)
    to = TradingState.ACTIVE if args.to == "active" else TradingState.REDUCING
    try:
        with Journal(path) as journal:
            return _rearm(journal, path, to, args.why.strip())
    except (JournalError, OSError) as exc:
        print(f"ibdesk rearm: the journal {path} cannot be used ({exc})", file=sys.stderr)
        return EXIT_REFUSED


def _rearm(journal: Journal, path: Path, to: TradingState, why: str) -> int:
    state = latch.StateLatch(journal)  # the account the desk traded last, as a desk starts
    before = state.last_change
    until = state.locked_until
    if until is not None and until > state.clock():
        when = dt.datetime.fromtimestamp(until).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        print(
            f"ibdesk rearm: refused: the daily loss lock holds until {when} ({before.why})",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    where = state.account or "the desk"
    if before.state is to:
        print(f"{to.value} already for {where} (since {before.who}: {before.why or 'start'})")
        return EXIT_DONE
    state.set(to, WHO, why)
    print(
        f"{to.value} latched for {where} in {path} (was {before.state.value} by {before.who}: "
        f"{before.why}). Start ibdesk run again to trade."
    )
    return EXIT_DONE
