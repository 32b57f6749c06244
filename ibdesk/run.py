"""``ibdesk run FILE.py ...``: the same strategies headless, on plain asyncio, without Qt.

The headless root builds the very Desk the window uses (gate, checks, journal, pacing, kill
switch and its watchdog, reconciliation) and its strategy runner, loads the files, connects
and starts them. It logs one line per intent and per strategy state change on stdout (text or
JSON), and exits with a reason when it cannot go on:

* 0: asked to stop (``--exit-after``, SIGTERM, one Ctrl+C): strategies stopped, their orders
  cancelled;
* 2: it cannot start (a bad strategy file, with its line; a bad parameter; a bad config);
* 3: no connection to TWS / IB Gateway within the connect timeout;
* 4: trading was halted (``ibdesk kill``, the kill window, the watchdog, a second Ctrl+C):
  strategies are stopped and stay stopped; a supervisor should not restart it blindly.

TWS's daily restart (``[restart]``) is expected: strategies pause before it, its disconnect
is a log line rather than an alarm, and after the reconnect and the reconciliation they go on
by themselves (``resume_headless = true``) or when the process gets SIGUSR1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ibdesk import config, logs, memory

log = logging.getLogger("ibdesk.run")

EXIT_STOPPED, EXIT_CANNOT_START, EXIT_NO_CONNECTION, EXIT_HALTED = 0, 2, 3, 4


def parser() -> argparse.ArgumentParser:
    """The headless runner's flags."""
    p = argparse.ArgumentParser(
        prog="ibdesk run",
        description="Run strategies without the window (on a server next to IB Gateway).",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE.py", help="strategy files, or shipped examples by name"
    )
    p.add_argument("--demo", action="store_true", help="run against the embedded simulator")
    p.add_argument("--sim-port", type=int, default=None, metavar="N")
    p.add_argument("--sim-control-port", type=int, default=None, metavar="N")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--client-id", type=int, default=None)
    p.add_argument("--account", default=None)
    p.add_argument("--config", type=Path, default=None, metavar="PATH")
    p.add_argument("--read-only", action="store_true", default=None, help="never send an order")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[NAME.]KEY=VALUE",
        help="a strategy parameter (NAME. may be left out when one strategy is loaded)",
    )
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    replay = p.add_argument_group("strategy replay (a recorded day, on the embedded simulator)")
    replay.add_argument("--replay", type=Path, default=None, metavar="TAPE")
    replay.add_argument("--from", dest="start", default=None, metavar="HH:MM")
    replay.add_argument("--to", dest="end", default=None, metavar="HH:MM")
    replay.add_argument("--speed", default="max", metavar="max|N")
    return p


REPLAY_ALONE = (
    "ibdesk run: --replay runs against its own simulator, never a broker: "
    "leave out --host, --port, --demo and --sim-port"
)


def main(argv: Sequence[str]) -> int:
    """Entry point of ``ibdesk run``."""
    args = parser().parse_args(list(argv))
    if args.replay is not None and (
        args.host is not None or args.port is not None or args.demo or args.sim_port is not None
    ):
        print(REPLAY_ALONE, file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        settings = config.load_with_flags(args)
    except config.ConfigError as exc:
        print(f"ibdesk run: invalid configuration in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CANNOT_START
    logs.setup(library=settings.log.library)
    _log_to_stdout(args.log_format)
    memory.keep_large_blocks_mapped()  # before the broker stack allocates its buffers
    sim = None
    if args.demo:
        from ibdesk.demo import start_demo

        try:
            sim, settings = start_demo(settings, args.sim_port, args.sim_control_port)
        except OSError as exc:
            print(f"ibdesk run: {exc}", file=sys.stderr)
            return EXIT_CANNOT_START
    if args.replay is not None:
        return asyncio.run(_replay(args, settings))
    try:
        return asyncio.run(_run(args, settings))
    finally:
        if sim is not None:
            sim.stop()


async def _run(args: argparse.Namespace, settings: config.Settings) -> int:
    from ibdesk.desk.core import Desk
    from ibdesk.strategies.loader import StrategyError, checked_strategies
    from ibdesk.trading.journal import default_path

    try:
        paths, params = checked_strategies(args.files, args.param)
    except StrategyError as exc:
        print(f"ibdesk run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    desk = Desk(settings, default_path(demo=args.demo), watchlist=())
    try:
        names = _load(desk, paths, params)
        if names is None:
            return EXIT_CANNOT_START
        watch = _Watch(desk)
        desk.restarts.auto_resume = settings.restart.resume_headless
        desk.restarts.how_to_resume = f"send it SIGUSR1 (kill -USR1 {os.getpid()})"
        desk.start()
        if not await watch.connected(settings.connection.connect_timeout):
            status = desk.link.status
            print(
                f"ibdesk run: no connection to {settings.connection.host}:"
                f"{settings.connection.port} ({status.detail or status.state.value})",
                file=sys.stderr,
            )
            return EXIT_NO_CONNECTION
        try:
            for name in names:
                await desk.strategies.start(name)
        except StrategyError as exc:
            print(f"ibdesk run: {exc}", file=sys.stderr)
            return EXIT_CANNOT_START
        memory.freeze_long_lived()  # the modules, the desk and its strategies, all up now
        return await watch.until_done(args.exit_after)
    finally:
        await desk.close()


async def _replay(args: argparse.Namespace, settings: config.Settings) -> int:
    """The strategies on a tape (ibdesk.replay.strategy_replay): a simulator on this loop
    whose clock reads the tape's time, the usual desk on it, the drive between, a report."""
    import tempfile

    from ibdesk.desk.core import Desk
    from ibdesk.replay.player import ReplayClock
    from ibdesk.replay.strategy_replay import MarketDrive, ReplayError
    from ibdesk.replay.tape import TapeError, TapeReader, parse_when
    from ibdesk.simtws import SimConfig, SimServer
    from ibdesk.simtws.control import SimControl
    from ibdesk.strategies.loader import StrategyError, checked_strategies

    try:
        paths, params = checked_strategies(args.files, args.param)
        reader = TapeReader(args.replay)
        day = reader.info().started or 0.0
        start = parse_when(args.start, day) if args.start else None
        end = parse_when(args.end, day) if args.end else None
        speed = None if args.speed == "max" else float(args.speed)
        if speed is not None and speed <= 0:
            raise ValueError("--speed: max or a number above 0")
    except (StrategyError, TapeError, ValueError) as exc:
        print(f"ibdesk run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    clock = ReplayClock(start or day)
    sim = SimServer(SimConfig(port=0, start_paused=True, max_msg_rate=0), clock=clock)
    await sim.start()
    connection = dataclasses.replace(
        settings.connection, host="127.0.0.1", port=sim.port, profile=""
    )
    settings = dataclasses.replace(
        settings,
        connection=connection,
        record=dataclasses.replace(settings.record, enabled=False),
    )
    scratch = tempfile.TemporaryDirectory(prefix="ibdesk-replay-")
    desk = Desk(settings, Path(scratch.name) / "journal.sqlite", watchlist=(), clock=clock)
    drive = MarketDrive(reader, SimControl(sim), clock, desk, start, end, speed)
    try:
        names = _load(desk, paths, params)
        if names is None:
            return EXIT_CANNOT_START
        watch = _Watch(desk)
        drive.prime()
        desk.start()
        if not await watch.connected(settings.connection.connect_timeout):
            print("ibdesk run: the desk did not connect to its simulator", file=sys.stderr)
            return EXIT_NO_CONNECTION
        for name in names:
            await desk.strategies.start(name)
        log.info("replaying %s", args.replay)
        run = asyncio.ensure_future(drive.run())
        either: list[asyncio.Future[Any]] = [run, watch.done]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        drive.stop()
        try:
            await run
        except ReplayError as exc:
            log.warning("%s", exc)
            if not watch.done.done():
                watch.done.set_result(EXIT_NO_CONNECTION)
        if not watch.done.done():
            watch.done.set_result(EXIT_STOPPED)
        code = await watch.until_done(None)
        report = drive.report()
        text = json.dumps({"report": report.to_dict()}) if args.log_format == "json" else None
        print(text or report.text(), flush=True)
        return code
    except StrategyError as exc:
        print(f"ibdesk run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    finally:
        await desk.close()
        await sim.stop()
        reader.close()
        scratch.cleanup()


def _load(desk: Any, paths: Sequence[Path], params: Any) -> list[str] | None:
    """Load the strategy files into the desk and set their parameters: the names loaded,
    or None after saying why it cannot (a bad file with its line, a bad parameter)."""
    from ibdesk.strategies.loader import StrategyError

    try:
        names = [name for path in paths for name in desk.strategies.load(path)]
        for name, values in params.items():
            desk.strategies.set_params(name, values)
    except StrategyError as exc:
        print(f"ibdesk run: {exc}", file=sys.stderr)
        return None
    return names


class _Watch:
    """Logs what the desk and its strategies do, and decides when the run ends."""

    def __init__(self, desk: Any) -> None:
        self.desk = desk
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.interrupts = 0
        self.states: dict[str, str] = {}
        self.asked: set[str] = set()
        """ refs of the orders this runner asked to cancel """
        self.everything_asked = False
        self.seen_live: set[str] = set()
        """ refs this run saw working: only their cancels can be another client's doing """
        self.suspects: set[str] | None = None
        """ strategy orders live when one was cancelled unasked (None: no such cancel) """
        desk.gate.decided += self._on_decided
        desk.orders.updated += self._on_order
        desk.strategies.changed += self._on_strategy
        desk.switch.changed += self._on_trading_state
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._interrupt)
        # After TWS's restart, with resume_headless = false: the operator's go-ahead.
        loop.add_signal_handler(signal.SIGUSR1, desk.restarts.acknowledge)

    async def connected(self, timeout: float) -> bool:
        from ibdesk.domain.connection import LinkState

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.desk.link.status.state is not LinkState.CONNECTED:
            if loop.time() > deadline or self.done.done():
                return False
            await asyncio.sleep(0.05)
        return True

    async def until_done(self, exit_after: float | None) -> int:
        if exit_after is not None:
            asyncio.get_running_loop().call_later(exit_after, self._stop, "--exit-after")
        code = await self.done
        if code == EXIT_STOPPED:
            for name in list(self.desk.strategies.entries):
                self.desk.strategies.stop(name, why="ibdesk run is stopping")
            await self._orders_settled()
        return code

    async def _orders_settled(self, timeout: float = 5.0) -> None:
        """Wait (a little) until the strategies' cancels are answered, so the run exits
        with its orders gone rather than on the wire."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(self._ours(o.ref) for o in self.desk.orders.live()):
            await asyncio.sleep(0.05)

    def _stop(self, why: str) -> None:
        log.info("stopping (%s): strategies stop, their orders are cancelled", why)
        if not self.done.done():
            self.done.set_result(EXIT_STOPPED)

    def _interrupt(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self._stop("Ctrl+C; press it again to KILL")
        else:
            self.desk.kill("ibdesk run: Ctrl+C twice")

    def _on_order(self, ref: str) -> None:
        """Its strategies' orders cancelled without its asking, until none is left: another
        client's global cancel (a desktop's KILL through the same TWS). Treated as a kill."""
        from ibdesk.domain.orders import OrderState

        if not self._ours(ref):
            return  # another client's (this runner may be TWS's Master API client)
        snap = self.desk.orders.get(ref)
        if snap is not None and not snap.state.final:
            self.seen_live.add(ref)
        if (
            snap is None
            or snap.state is not OrderState.CANCELLED
            or ref not in self.seen_live  # cancelled before this run: the journal's past
            or ref in self.asked
            or self.everything_asked
            or self._closed_by_its_sibling(snap)
        ):
            return
        if self.suspects is None:
            # The orders that were live when the first one went: a global cancel takes all.
            live = {o.ref for o in self.desk.orders.live() if self._ours(o.ref)}
            self.suspects = live | {ref}
            asyncio.get_running_loop().call_later(0.5, self._cancelled_by_another)

    def _ours(self, ref: str) -> bool:
        """An order of this runner's strategies (made by its API client)."""
        return ref.startswith("strategy:") and self.desk.strategies.ledger.made_here(ref)

    def _closed_by_its_sibling(self, snap: Any) -> bool:
        """A bracket's exit the broker cancelled because the other exit filled (one cancels
        the other): the broker's doing, asked for when the bracket was placed."""
        if not snap.parent_ref:
            return False
        return any(
            o.parent_ref == snap.parent_ref and o.ref != snap.ref and o.filled > 0
            for o in self.desk.orders.orders.values()
        )

    def _cancelled_by_another(self) -> None:
        from ibdesk.domain.orders import OrderState

        suspects, self.suspects = self.suspects or set(), None
        orders = self.desk.orders
        snaps = [orders.get(ref) for ref in suspects]
        judged = [s for s in snaps if s is None or not self._closed_by_its_sibling(s)]
        gone = bool(judged) and all(
            snap is not None and snap.state is OrderState.CANCELLED and snap.ref not in self.asked
            for snap in judged
        )
        if gone and not self.done.done() and not self.everything_asked:
            self.desk.kill(
                "ibdesk run: every strategy order was cancelled by another client (a global cancel)"
            )

    def _on_decided(self, kind: str, source: Any, decision: Any) -> None:
        if decision.accepted and kind == "cancel":
            self.asked.update(decision.refs)
        elif decision.accepted and kind == "cancel_all":
            self.everything_asked = True
        verdict = "sent" if decision.accepted else f"DENIED ({decision.check}: {decision.reason})"
        log.info("%s %s from %s %s", kind, verdict, source, " ".join(decision.refs))

    def _on_strategy(self, name: str) -> None:
        status = self.desk.strategies.status(name)
        if self.states.get(name) != status.state.value:
            self.states[name] = status.state.value
            log.info("strategy %s: %s (%s)", name, status.state.value, status.reason)

    def _on_trading_state(self, change: Any) -> None:
        from ibdesk.domain.risk import TradingState

        level = logging.INFO if change.state is TradingState.ACTIVE else logging.WARNING
        why = f": {change.why}" if change.why else ""  # the start's own state has no reason
        log.log(level, "trading %s by %s%s", change.state.value, change.who, why)
        if change.state is TradingState.HALTED and not self.done.done():
            self.done.set_result(EXIT_HALTED)


def _log_to_stdout(form: str) -> None:
    """One line per intent and state change on stdout, for a terminal or a log collector."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(logging.INFO)
    handler.setFormatter(_JsonFormatter() if form == "json" else logging.Formatter(logs.FORMAT))
    for name in (
        "ibdesk.run",
        "ibdesk.strategies",
        "ibdesk.strategy",
        "ibdesk.demo",
        "ibdesk.desk.restarts",  # one line per step of TWS's daily restart
    ):
        logging.getLogger(name).addHandler(handler)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": record.created,
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )
