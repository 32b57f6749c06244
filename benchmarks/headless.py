"""The headless runner's part of ``python -m benchmarks.strategies`` (``--parts headless,rss``).

``ibdesk run`` runs in a process of its own against the same simulator as the desktop that
``benchmarks.strategies`` measures, so both figures come from one run:

* ``headless_quote_to_wire_ms_p99``: the crossings of ``strategy_quote_to_wire_ms_p99`` (the
  same Flip strategy, a price set, the placeOrder read at the simulator), with Flip running
  in ``ibdesk run`` and in the window at once, each at its own level, their crossings taken
  in turn (ten of one's, ten of the other's). Goal: at most the window's figure.
* ``headless_rss_mib``: the runner's resident set after ``--rss-minutes`` (10 by default) of
  two strategies (the shipped breakout on the four index and commodity futures, the shipped
  mean reversion on shares and FX) with the feed at about 5,000 messages a second. The
  desktop runs the same file on the same feed meanwhile; its figure is reported beside it.
  Both subscribe to the same instruments, so the rate the desktop measures is the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import SimProcess, emit, percentile, set_feed
from benchmarks.flip import FLIP, LEVEL, desk_flip, ms, turns, until, write

HEADLESS_CLIENT_ID = 9
HEADLESS_LEVEL = LEVEL - 100  # its Flip's: the window's Flip trades LEVEL meanwhile

#: The runner's config: the pre-trade limits off, as the desktop has them in this benchmark
#: (``limits_off``), and the breaker's per-minute and duplicate limits off as the desktop's
#: Flip has them (its crossings come faster than the default allows).
CONFIG = """
[risk]
max_order_qty = {"*" = 0}
max_position = {"*" = 0}
max_order_notional = 0
collar_pct = 0
collar_ticks = 0
max_open_orders = 0
max_orders_per_minute = 0
duplicate_window_ms = 0
strategy_orders_per_minute = 0
strategy_duplicate_ms = 0

[restart]
daily_at = ""  # a benchmark run at 23:40 ET measures trading, not a pause for TWS's restart
"""

#: Two strategies watching the desktop's default watchlist between them (and the micros).
WIDE = """
from ibdesk.strategies.examples.breakout import Breakout
from ibdesk.strategies.examples.mean_reversion import MeanReversion


class FuturesBreakout(Breakout):
    name = "futures_breakout"
    instruments = ("ES", "NQ", "CL", "GC", "MES", "MNQ")


class SharesReversion(MeanReversion):
    name = "shares_reversion"
    instruments = ("AAPL", "SPY", "EUR.USD")
"""


def rss_mib(pid: int | None = None) -> float:
    """A process's resident set in MiB (Linux); this process's by default."""
    with open(f"/proc/{pid or 'self'}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Runner:
    """``ibdesk run FILE`` against the simulator, its files in ``folder``, its log lines
    read as they come (the benchmark waits on them, never on time)."""

    def __init__(self, sim: SimProcess, folder: Path, strategy_file: Path, *flags: str) -> None:
        config = folder / "headless.toml"
        config.write_text(CONFIG)
        home = {k: str(folder / k.lower()) for k in ("XDG_DATA_HOME", "XDG_STATE_HOME")}
        cmd = [sys.executable, "-m", "ibdesk", "run", str(strategy_file)]
        cmd += ["--config", str(config), "--port", str(sim.port)]
        cmd += ["--client-id", str(HEADLESS_CLIENT_ID), *flags]
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **home, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    async def running(self, names: list[str]) -> None:
        """Until the runner says each strategy is running."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                tail = "\n".join(self.lines[-10:])
                raise SystemExit(f"ibdesk run exited with {self.proc.returncode}:\n{tail}")
            said = " ".join(self.lines)
            return all(f"strategy {n}: Running" in said for n in names)

        await until(ready, f"ibdesk run's strategies {names}", timeout=60)

    def stop(self) -> None:
        """SIGTERM (its strategies stop, their orders are cancelled); killed if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def runner(sim: SimProcess, folder: Path, strategy_file: Path, *flags: str) -> Iterator[Runner]:
    """A :class:`Runner`, stopped on the way out."""
    run = Runner(sim, folder, strategy_file, *flags)
    try:
        yield run
    finally:
        run.stop()


async def latency(
    desk: Any, sim: SimProcess, es: Any, folder: Path, trials: int
) -> tuple[list[float], list[float]]:
    """Flip in ``ibdesk run`` and Flip in the window, crossing their own levels in turn:
    milliseconds each, the runner's and the desktop's."""
    flip = write(folder, "flip.py", FLIP)
    with runner(sim, folder, flip, "--param", f"level={HEADLESS_LEVEL}") as run:
        await run.running(["Flip"])
        async with desk_flip(desk, folder) as window_flip:
            # Between the levels: below the window's, above the runner's.
            sim.call("set_price", symbol=es.con_id, price=(LEVEL + HEADLESS_LEVEL) / 2)
            await until(lambda: window_flip.above is False, "the window's Flip armed")
            await asyncio.sleep(0.5)  # the runner's Flip arms on the same tick
            levels = {HEADLESS_CLIENT_ID: HEADLESS_LEVEL, desk.session.client_id: LEVEL}
            pairs = await turns(sim, es.con_id, levels, trials, (LEVEL + HEADLESS_LEVEL) / 2)
    return ms(pairs[HEADLESS_CLIENT_ID]), ms(pairs[desk.session.client_id])


async def resident(desk: Any, sim: SimProcess, folder: Path, minutes: float) -> dict[str, Any]:
    """RSS of the runner and of the desktop, each running the two strategies on ~5k msgs/s."""
    path = folder / "wide.py"
    path.write_text(textwrap.dedent(WIDE))
    with runner(sim, folder, path) as run:
        await run.running(["futures_breakout", "shares_reversion"])
        names = desk.strategies.load(path)
        for name in names:
            await desk.strategies.start(name)
        sim.call("resume_market")
        rate = await set_feed(sim, desk.session.ib, 5_000)
        samples: list[tuple[float, float, float]] = []
        started = time.monotonic()
        ib, before = desk.session.ib, desk.session.ib.client._numMsgRecv
        while (elapsed := time.monotonic() - started) < minutes * 60:
            samples.append((round(elapsed), rss_mib(run.proc.pid), rss_mib()))
            await asyncio.sleep(min(10.0, minutes * 60 - elapsed))
        received = ib.client._numMsgRecv - before
        samples.append((round(time.monotonic() - started), rss_mib(run.proc.pid), rss_mib()))
        alive = run.proc.poll() is None
        if not alive:
            raise SystemExit(
                f"ibdesk run exited with {run.proc.returncode} after {elapsed:.0f} s:\n"
                + "\n".join(run.lines[-15:])
            )
        for name in names:
            desk.strategies.stop(name)
    return {
        "rate": rate,
        "mean_rate": received / (minutes * 60),
        "samples": samples,
    }


def emit_latency(headless: list[float], desktop: list[float]) -> None:
    """Print headless_quote_to_wire_ms_p99 against the desktop's figure of the same run."""
    emit(
        "headless_quote_to_wire_ms_p99",
        percentile(headless, 99),
        percentile(desktop, 99),
        "<= the desktop's figure (ratio <= 1)",
        p50_ms=round(percentile(headless, 50), 3),
        baseline_p50_ms=round(percentile(desktop, 50), 3),
        trials=len(headless),
        baseline_is="the window's Flip, its crossings taken in turn with the runner's",
    )


def emit_rss(r: dict[str, Any], minutes: float) -> None:
    """Print headless_rss_mib with the desktop's figure beside it."""
    first, last = r["samples"][0], r["samples"][-1]
    emit(
        "headless_rss_mib",
        last[1],
        last[2],
        "report (baseline: the desktop on the same feed and strategies)",
        minutes=minutes,
        messages_per_s=round(r["rate"]),
        mean_messages_per_s=round(r["mean_rate"]),
        headless_first_mib=round(first[1], 1),
        desktop_first_mib=round(first[2], 1),
        samples=[(t, round(a, 1), round(b, 1)) for t, a, b in r["samples"]],
    )
