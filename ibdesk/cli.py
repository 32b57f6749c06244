"""``ibdesk``: the command line.

``ibdesk`` opens the window and connects per the config file (or asks where, with a dialog);
``ibdesk --demo`` starts the embedded simulated TWS on its own thread and connects to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibdesk import config, files, logs

if TYPE_CHECKING:
    from ibdesk.simtws.runner import SimThread

DEMO_POSITIONS = (("MES", 2.0), ("CL", -1.0), ("AAPL", 100.0))
DEMO_WATCHLIST = ("ES", "MES", "NQ", "CL", "GC", "AAPL", "NVDA", "SPY", "EUR.USD")


def parser() -> argparse.ArgumentParser:
    """The desktop command's flags."""
    p = argparse.ArgumentParser(
        prog="ibdesk",
        description="A trader workstation for Interactive Brokers. Also: "
        "'ibdesk journal export --since DATE --csv PATH' exports the order journal; "
        "'ibdesk kill [--flatten] [--window]' is the kill switch from a terminal.",
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
    ``ibdesk kill ...`` the kill switch's (see ibdesk.kill_cli). ``ibdesk watchdog ...`` is
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
    args = parser().parse_args(argv)
    if args.screenshot is not None and args.exit_after is None:
        parser().error("--screenshot needs --exit-after SECONDS")
    if args.sim_port is not None and not args.demo:
        parser().error("--sim-port only makes sense with --demo")
    if (args.start or args.param) and not args.strategy:
        parser().error("--start and --param need --strategy FILE")
    try:
        settings = config.load(args.config)
        settings = config.with_overrides(
            settings,
            host=args.host,
            port=args.port,
            client_id=args.client_id,
            account=args.account,
            read_only=args.read_only,
        )
    except config.ConfigError as exc:
        report_config_error(exc)
        return 2
    strategy_files: tuple[Path, ...] = ()
    strategy_params: dict[str, dict[str, Any]] = {}
    if args.strategy:  # the strategy stack (numpy) only when asked for: a fast first paint
        from ibdesk.strategies.loader import StrategyError

        try:
            strategy_files, strategy_params = checked_strategies(args.strategy, args.param)
        except StrategyError as exc:
            print(f"ibdesk: {exc}", file=sys.stderr)
            return 2
    logs.setup()
    sim = None
    connect_now = settings.connection.auto_connect or args.host is not None or args.port is not None
    if args.demo:
        sim, settings = _start_demo(settings, args.sim_port)
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


def checked_strategies(
    files: Sequence[str], params: Sequence[str]
) -> tuple[tuple[Path, ...], dict[str, dict[str, Any]]]:
    """The strategy files of ``--strategy`` and the typed values of ``--param``, each file
    loaded once to check it before anything starts (the desk loads it again for real).

    A name that is not a file is looked up among the shipped examples.

    Raises:
        StrategyError: no such file, a file that does not load or defines no strategy, two
            strategies with one name, or a parameter that is malformed, unknown or mistyped.
    """
    from ibdesk.strategies import examples
    from ibdesk.strategies.loader import StrategyError, load_file, typed_params

    paths: list[Path] = []
    classes: dict[str, tuple[type[Any], Path]] = {}
    for text in files:
        path = Path(text).expanduser()
        if not path.is_file():
            example = examples.path_of(text) if len(path.parts) == 1 else None
            if example is None:
                raise StrategyError(
                    f"--strategy {text}: no such file, and no shipped example of that name "
                    f"({', '.join(examples.names())})."
                )
            path = example
        path = path.resolve()
        if path in paths:
            continue
        for cls in load_file(path):
            known = classes.get(cls.id())
            if known is not None:
                raise StrategyError(
                    f"{path.name} and {known[1].name} both define a strategy named {cls.id()}."
                )
            classes[cls.id()] = (cls, path)
        paths.append(path)
    typed: dict[str, dict[str, Any]] = {}
    for item in params:
        target, equals, value = item.partition("=")
        name, dot, key = target.strip().partition(".")
        if not (equals and dot and name and key):
            raise StrategyError(
                f"--param {item!r}: write NAME.KEY=VALUE, e.g. {next(iter(classes))}.qty=2."
            )
        if name not in classes:
            raise StrategyError(
                f"--param {item!r}: no strategy named {name!r} is loaded "
                f"(loaded: {', '.join(classes)})."
            )
        typed.setdefault(name, {}).update(typed_params(classes[name][0], {key: value}))
    return tuple(paths), typed


def report_config_error(exc: config.ConfigError) -> None:
    """Say what is wrong on stderr, and in a dialog when there is a screen to show it on.

    ibdesk refuses to start on a bad config rather than guess: a typo must never turn a
    paper port into a live one.
    """
    lines = [f"ibdesk: invalid configuration in {exc.source}:"]
    lines += [f"  - {problem}" for problem in exc.problems]
    print("\n".join(lines), file=sys.stderr)
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


def _start_demo(
    settings: config.Settings, sim_port: int | None
) -> tuple[SimThread, config.Settings]:
    from ibdesk.simtws import SimConfig, SimThread

    sim = SimThread(
        SimConfig(
            port=sim_port or 0,
            seed=1,
            positions=DEMO_POSITIONS,
            account_update_interval=3.0,
            # The desk is TWS's master API client, as a workstation should be: it sees the
            # orders typed into TWS (below) and those of other API clients.
            master_client_id=settings.connection.client_id,
        )
    ).start()
    _demo_orders(sim)
    logging.getLogger("ibdesk.cli").info("demo: simulated TWS on 127.0.0.1:%d", sim.port)
    connection = dataclasses.replace(
        settings.connection, host="127.0.0.1", port=sim.port, profile=""
    )
    watchlist = settings.watchlist
    if watchlist == config.WatchlistSettings():
        watchlist = config.WatchlistSettings(DEMO_WATCHLIST)
    return sim, dataclasses.replace(settings, connection=connection, watchlist=watchlist)


def _demo_orders(sim: SimThread) -> None:
    """Something on the default ES chart: a long ES position with its stop and its target,
    entered as if by hand in TWS before ibdesk started."""
    last = float(sim.control.quote("ES")["last"])
    sim.control.enter_manual_order("ES", "BUY", 1, "MKT")
    sim.control.enter_manual_order("ES", "SELL", 1, "STP", stop=round(last) - 5)
    sim.control.enter_manual_order("ES", "SELL", 1, "LMT", price=round(last) + 8)
