"""``ibdesk``: the command line.

``ibdesk`` opens the window and connects per the config file (or asks where, with a dialog);
``ibdesk --demo`` starts the embedded simulated TWS on its own thread and connects to it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ibdesk import config, display, files, logs


def parser() -> argparse.ArgumentParser:
    """The desktop command's flags."""
    p = argparse.ArgumentParser(
        prog="ibdesk",
        description="A trader workstation for Interactive Brokers. Also: "
        "'ibdesk journal export --since DATE --csv PATH' exports the order journal; "
        "'ibdesk kill [--flatten] [--window]' is the kill switch from a terminal, "
        "'ibdesk rearm --why TEXT' its re-arm; "
        "'ibdesk run FILE.py ...' runs strategies without the window; "
        "'ibdesk replay TAPE [--from 09:30 --to 10:00] [--speed 10]' replays a recorded "
        "session in the window (or --export CSV).",
        epilog="Config file: " + str(config.default_path()),
    )
    p.add_argument(
        "--demo", action="store_true", help="start the embedded simulated TWS and connect to it"
    )
    p.add_argument(
        "--sim-port",
        type=int,
        default=None,
        metavar="N",
        help="with --demo: the simulator listens on 127.0.0.1:N so other clients "
        "can join (default: any free port)",
    )
    p.add_argument(
        "--sim-control-port",
        type=int,
        default=None,
        metavar="N",
        help="with --demo: the simulator's JSON-lines control port (faults, prices) on "
        "127.0.0.1:N (default: any free port; the demo prints where)",
    )
    p.add_argument("--host", default=None, help="TWS / IB Gateway host")
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="API port (TWS 7496 live / 7497 paper, Gateway 4001 / 4002)",
    )
    p.add_argument("--client-id", type=int, default=None, help="API client id")
    p.add_argument("--account", default=None, help="account to show (default: the first)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help="config file (default: the one in the user config folder)",
    )
    p.add_argument("--read-only", action="store_true", default=None, help="never send an order")
    p.add_argument("--theme", choices=("dark", "light"), default=None)
    p.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="PATH",
        help="save a PNG of the window after --exit-after seconds, then exit",
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="FILE",
        help="load a strategy file, or a shipped example by name (breakout, mean_reversion); "
        "repeat for more. Loaded stopped, unless --start",
    )
    p.add_argument(
        "--start",
        action="store_true",
        help="with --strategy: start the strategies once connected and reconciled",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="with --strategy: a parameter of a loaded strategy, e.g. Breakout.lookback=30 "
        "(typed like its default); repeat for more",
    )
    p.add_argument(
        "--exit-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="close the window after this many seconds",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ibdesk`` console script.

    ``ibdesk journal ...`` is the journal's own command line (see ibdesk.journal_cli), and
    ``ibdesk kill ...`` the kill switch's (see ibdesk.kill_cli), ``ibdesk rearm ...`` its
    re-arm for a desk with no window (see ibdesk.rearm_cli). ``ibdesk watchdog ...`` is
    the desk's stall watchdog, which the desk starts as its own process (not for people, so
    not in ``--help``; see ibdesk.broker.watchdog).
    """
    argv = sys.argv[1:] if argv is None else argv
    files.private_umask()  # the journal, the log, the layout: the trader's business alone
    if argv[:1] == ["watchdog"]:
        from ibdesk.broker import watchdog_process

        return watchdog_process.main(argv[1:])
    if argv[:1] == ["journal"]:
        from ibdesk import journal_cli

        return journal_cli.main(argv[1:])
    if argv[:1] == ["kill"]:
        from ibdesk import kill_cli

        return kill_cli.main(argv[1:])
    if argv[:1] == ["rearm"]:
        from ibdesk import rearm_cli

        return rearm_cli.main(argv[1:])
    if argv[:1] == ["run"]:
        from ibdesk import run  # no Qt: strategies headless

        return run.main(argv[1:])
    if argv[:1] == ["replay"]:
        return replay_main(argv[1:])
    args = parser().parse_args(argv)
    if args.screenshot is not None and args.exit_after is None:
        parser().error("--screenshot needs --exit-after SECONDS")
    for flag in ("sim_port", "sim_control_port"):
        if getattr(args, flag) is not None and not args.demo:
            parser().error(f"--{flag.replace('_', '-')} only makes sense with --demo")
    if (args.start or args.param) and not args.strategy:
        parser().error("--start and --param need --strategy FILE")
    try:
        settings = config.load_with_flags(args)
    except config.ConfigError as exc:
        report_config_error(exc)
        return 2
    strategy_files: tuple[Path, ...] = ()
    strategy_params: dict[str, dict[str, Any]] = {}
    if args.strategy:  # the strategy stack (numpy) only when asked for: a fast first paint
        from ibdesk.strategies.loader import StrategyError, checked_strategies

        try:
            strategy_files, strategy_params = checked_strategies(args.strategy, args.param)
        except StrategyError as exc:
            print(f"ibdesk: {exc}", file=sys.stderr)
            return 2
    cannot_show = display.problem(os.environ)  # before Qt, which would abort the process
    if cannot_show is not None:
        print(cannot_show, file=sys.stderr)
        return 2
    logs.setup(library=settings.log.library)
    sim = None
    connect_now = settings.connection.auto_connect or args.host is not None or args.port is not None
    if args.demo:
        from ibdesk.demo import start_demo, where

        try:
            sim, settings = start_demo(settings, args.sim_port, args.sim_control_port)
        except OSError as exc:
            print(f"ibdesk: {exc}", file=sys.stderr)
            return 2
        print(f"ibdesk --demo: {where(sim)}", flush=True)
        connect_now = True
    from ibdesk.desktop import (  # Qt only for a window
        StrategyLaunch,
        default_state_path,
        run_desktop,
    )
    from ibdesk.trading.journal import default_path as journal_path

    try:
        return run_desktop(
            settings,
            state_path=default_state_path(demo=args.demo),
            journal_path=journal_path(demo=args.demo),
            connect_now=connect_now,
            screenshot=args.screenshot,
            exit_after=args.exit_after,
            theme_override=args.theme,
            strategies=StrategyLaunch(strategy_files, strategy_params, args.start),
        )
    finally:
        if sim is not None:
            sim.stop()


def report_config_error(exc: config.ConfigError) -> None:
    """Say what is wrong on stderr, and in a dialog when there is a screen to show it on.

    ibdesk refuses to start on a bad config rather than guess: a typo must never turn a
    paper port into a live one.
    """
    lines = [f"ibdesk: invalid configuration in {exc.source}:"]
    lines += [f"  - {problem}" for problem in exc.problems]
    print("\n".join(lines), file=sys.stderr)
    if display.problem(os.environ) is not None:
        return  # no screen for a dialog (and Qt would abort trying)
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if QApplication.platformName() in ("offscreen", "minimal"):
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "ibdesk: invalid configuration",
        "\n".join(lines[1:]),
        QMessageBox.StandardButton.Ok,
    )
    box.setInformativeText(f"Fix {exc.source} and start ibdesk again.")
    # No asyncio loop runs yet, so a modal dialog blocks nothing that matters.
    box.exec()
    del app


def replay_parser() -> argparse.ArgumentParser:
    """``ibdesk replay``'s flags."""
    p = argparse.ArgumentParser(
        prog="ibdesk replay",
        description="Replay a recorded session (a tape, see docs/tape.md) in the window: the "
        "same panels, charts and blotter, driven from the tape; nothing is sent to any broker. "
        "Or export a time range of it to CSV.",
    )
    p.add_argument("tape", type=Path, metavar="TAPE", help="a .tape file")
    p.add_argument(
        "--from",
        dest="start",
        default=None,
        metavar="TIME",
        help="start there: HH:MM[:SS] on the tape's day (local time), or an ISO date and time",
    )
    p.add_argument("--to", dest="end", default=None, metavar="TIME", help="stop there")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="tape seconds per second (default 1; 0 for as fast as it goes)",
    )
    p.add_argument("--paused", action="store_true", help="open paused at --from")
    p.add_argument(
        "--export",
        type=Path,
        default=None,
        metavar="CSV",
        help="write the range to a CSV file instead of opening the window",
    )
    p.add_argument("--config", type=Path, default=None, metavar="PATH", help="config file")
    p.add_argument("--screenshot", type=Path, default=None, metavar="PATH")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS")
    return p


def replay_main(argv: list[str]) -> int:
    """``ibdesk replay TAPE ...``: the replay window, or ``--export`` to CSV."""
    from ibdesk.replay.player import MAX
    from ibdesk.replay.tape import TapeError, TapeReader, parse_when

    args = replay_parser().parse_args(argv)
    try:
        reader = TapeReader(args.tape)
    except TapeError as exc:
        print(f"ibdesk replay: {exc}", file=sys.stderr)
        return 2
    day_of = reader.info().started or 0.0
    reader.close()
    try:
        start = None if args.start is None else parse_when(args.start, day_of)
        end = None if args.end is None else parse_when(args.end, day_of)
    except ValueError as exc:
        replay_parser().error(f"--from/--to: {exc}")
    if args.export is not None:
        from ibdesk.replay.export import export

        print(export(args.tape, args.export, start, end))
        return 0
    try:
        settings = config.load(args.config)
    except config.ConfigError as exc:
        report_config_error(exc)
        return 2
    cannot_show = display.problem(os.environ)
    if cannot_show is not None:
        print(cannot_show, file=sys.stderr)
        return 2
    logs.setup(library=settings.log.library)
    from ibdesk.replaying import run_replay  # Qt only for a window

    return run_replay(
        settings,
        args.tape,
        start=start,
        end=end,
        speed=MAX if args.speed <= 0 else args.speed,
        paused=args.paused,
        screenshot=args.screenshot,
        exit_after=args.exit_after,
    )
