"""Seeded chaos runs of the headless desk against a misbehaving simulated TWS (issue 18).

``python -m benchmarks.chaos --runs 1000 --seed 1``

Run ``i`` plays the plan of seed ``S + i`` (``benchmarks.chaos_plan``): two to four faults
(drops, a drop right behind a bracket, restarts with and without the working orders,
nextValidId rolled back, 1-byte writes, latency with jitter, order reports sent twice or
late, partial fills, rejects) applied through the simulator's control port, five to ten
manual intents (limits, market orders, brackets, modifies, cancels), the ``chaos`` strategy
in most runs, and the kill at a random moment in about a tenth. Then it checks the
invariants of ``benchmarks.chaos_checks`` against the simulator's state. A failing run
prints its seed and the line that replays it: ``--seed S --runs 1``.

Metrics (one JSON object each, as the other benchmarks):

* ``chaos_runs``: runs played, with ``failed`` and the seeds of the failures. Goal: 1,000
  with 0 duplicated orders, 0 lost intents, 0 position mismatches, 0 crashes.
* ``chaos_duplicated_orders``, ``chaos_lost_intents``, ``chaos_position_mismatches``,
  ``chaos_crashes``: runs with that kind of violation. Goal 0 each.
* ``chaos_kills``: runs that killed, with how many were verified.
* ``chaos_loop_lag_ms_p99``: the worst run's loop lag p99 (faults included).
* ``chaos_run_seconds``: the median wall time of a run.

``--write-docs`` records the figures in ``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.chaos_harness import ErrorTrap, trapped
from benchmarks.chaos_plan import make_plan
from benchmarks.chaos_run import RunResult, run_once
from benchmarks.common import emit

#: Violation kinds (by the prefix of their text) and the metric that counts them.
KINDS = {
    "chaos_duplicated_orders": ("duplicate id", "duplicated order"),
    "chaos_lost_intents": ("lost intent", "dishonest state", "unknown order", "fill mismatch"),
    "chaos_position_mismatches": ("position mismatch",),
    "chaos_journal_mismatches": ("journal",),
    "chaos_unsettled": ("unsettled",),
    "chaos_crashes": ("crash",),
    "chaos_kill_lies": ("kill",),
}


async def run_many(
    first_seed: int, runs: int, jobs: int = 3, verbose: bool = False
) -> list[RunResult]:
    """Play ``runs`` plans from ``first_seed`` on, ``jobs`` at a time on this loop (a run
    mostly waits: for reconnects, restarts, the market)."""
    results: list[RunResult] = []
    seeds = iter(range(first_seed, first_seed + runs))

    async def worker(trap: ErrorTrap, folder: Path) -> None:
        for seed in seeds:
            result = await run_once(make_plan(seed), folder, trap)
            results.append(result)
            say(result, verbose)

    with tempfile.TemporaryDirectory(prefix="ibdesk-chaos-") as folder, trapped() as trap:
        await asyncio.gather(*(worker(trap, Path(folder)) for _ in range(max(1, jobs))))
    return sorted(results, key=lambda r: r.seed)


def say(result: RunResult, verbose: bool) -> None:
    """A failing run's seed, replay line and violations (every run's line when verbose)."""
    if not result.ok:
        print(
            f"FAILED seed {result.seed}: replay with --seed {result.seed} --runs 1", file=sys.stderr
        )
        for line in [*result.faults, *result.violations]:
            print(f"    {line}", file=sys.stderr)
    elif verbose:
        print(
            f"seed {result.seed}: ok in {result.seconds:.1f} s, {result.orders} orders, "
            f"{result.fills} fills, faults {result.faults}, kill {result.kill or '-'}"
            + (f", by design: {result.by_design}" if result.by_design else ""),
            file=sys.stderr,
        )


def count(results: list[RunResult], prefixes: tuple[str, ...]) -> list[int]:
    """Seeds of the runs with a violation of one of these kinds."""
    return [r.seed for r in results if any(v.startswith(prefixes) for v in r.violations)]


def report(results: list[RunResult], wall: float) -> dict[str, float]:
    """Print the metrics; return them by name (for the docs)."""
    failed = [r.seed for r in results if not r.ok]
    figures: dict[str, float] = {"chaos_runs": len(results), "chaos_failed": len(failed)}
    emit(
        "chaos_runs",
        len(results),
        None,
        "1000 runs, 0 failed",
        failed=len(failed),
        seeds=failed[:50],
        wall_s=round(wall, 1),
    )
    for metric, prefixes in KINDS.items():
        seeds = count(results, prefixes)
        figures[metric] = len(seeds)
        emit(metric, len(seeds), None, "0", seeds=seeds[:50])
    kills = [r for r in results if r.kill]
    verified = sum(r.kill == "verified" for r in results)
    figures["chaos_kills"] = len(kills)
    emit("chaos_kills", len(kills), None, "about a tenth of the runs", verified=verified)
    lag = max((r.lag_p99_ms for r in results), default=0.0)
    figures["chaos_loop_lag_ms_p99"] = lag
    emit("chaos_loop_lag_ms_p99", lag, None, "informative: the worst run's p99")
    seconds = statistics.median(r.seconds for r in results) if results else 0.0
    figures["chaos_run_seconds"] = seconds
    emit(
        "chaos_run_seconds",
        seconds,
        None,
        "informative",
        orders=sum(r.orders for r in results),
        fills=sum(r.fills for r in results),
        reconnects=sum(r.reconnects for r in results),
        by_design=sum(len(r.by_design) for r in results),
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1, help="the first run's seed")
    parser.add_argument("--jobs", type=int, default=3, help="runs at a time (one loop)")
    parser.add_argument("--verbose", action="store_true", help="a line for every run")
    parser.add_argument(
        "--write-docs", action="store_true", help="record the figures in docs/reliability.md"
    )
    a = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(run_many(a.seed, a.runs, a.jobs, a.verbose))
    figures = report(results, time.perf_counter() - started)
    if a.write_docs:
        from benchmarks.reliability import record

        record("chaos", f"--runs {a.runs} --seed {a.seed}", figures)
    return 1 if figures["chaos_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
