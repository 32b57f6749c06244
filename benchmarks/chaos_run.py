"""One chaos run: a simulator in this process, the headless desk against it, a plan played.

The simulator runs on its own thread (``SimThread``) with its JSON-lines control port open;
every fault and every read-back of its state goes through that port, as an outside tool
would use it. The desk (``ibdesk.desk.core.Desk``, no Qt) runs on this thread's asyncio loop
with a real ``ib_async`` / ``ib_insync`` client over a real socket. After the plan, the run
lets the faults go, waits for the desk to settle (connected, reconciled, no order in flight,
positions agreeing) within a bound, reads everything back and checks the invariants
(``chaos_checks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chaos_checks import Observed, violations
from benchmarks.chaos_harness import CURRENT_RUN, ControlClient, ErrorTrap, api_port
from benchmarks.chaos_plan import Plan, Step
from benchmarks.hostile import until
from ibdesk.config import ConnectionSettings, RiskSettings, Settings, limits_off
from ibdesk.desk.core import Desk
from ibdesk.domain.connection import LinkState
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import BracketIntent, OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.simtws.order_codec import parse_place_order
from tests.probe import LoopLagProbe

STRATEGY_FILE = Path(__file__).with_name("chaos_strategy.py")
MANUAL = Source("ticket")
DESK_CLIENT = 1
PLACE_ORDER = 3
HISTORY = "SELECT state, broker_status, filled FROM order_events WHERE ref = ? ORDER BY id"
IN_FLIGHT = {OrderState.QUEUED, OrderState.SENT, OrderState.UNKNOWN}


@dataclass
class RunResult:
    """What one run did and what it broke."""

    seed: int
    faults: list[str]
    violations: list[str]
    seconds: float
    orders: int = 0
    fills: int = 0
    reconnects: int = 0
    kill: str = ""
    lag_p99_ms: float = 0.0
    skipped: list[str] = field(default_factory=list)
    by_design: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.violations


class ChaosRun:
    """The pieces of one run and the steps it takes."""

    def __init__(self, plan: Plan, folder: Path) -> None:
        self.plan = plan
        self.folder = folder
        self.ctl = ControlClient()
        self.sim = SimThread(
            SimConfig(
                port=api_port(plan.seed),
                control_port=0,
                seed=plan.seed,
                tick_interval=0.05,
                pnl_interval=5.0,
            )
        )
        self.desk: Desk
        self.es: Instrument
        self.skipped: list[str] = []
        self.connects = 0
        self.reconciles = 0
        self.kill_task: asyncio.Task[Any] | None = None

    # ---- set up ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.sim.start()
        assert self.sim.control_port is not None
        await self.ctl.open(self.sim.control_port)
        risk = limits_off(RiskSettings(watchdog_halt_after=0))
        connection = ConnectionSettings(
            host="127.0.0.1", port=self.sim.port, client_id=DESK_CLIENT, connect_timeout=5.0
        )
        self.desk = Desk(
            Settings(connection=connection, risk=risk),
            self.folder / f"journal-{self.plan.seed}.sqlite",
            watchlist=("ES",),
        )
        self.desk.session.connected += self._on_connected
        self.desk.router.on_reconciled.append(self._on_reconciled)
        self.desk.start()
        await until(lambda: self.desk.link.status.state is LinkState.CONNECTED, 20, "connected")
        self.es = await self.desk.resolver.resolve("ES")
        await self.ctl.call("set_price", symbol=self.es.con_id, price=6800.0)
        await until(lambda: self.last() > 0, 10, "an ES quote")
        if self.plan.strategy:
            self.desk.strategies.load(STRATEGY_FILE)
            self.desk.strategies.set_params("chaos", {"seed": self.plan.seed})
            await self.desk.strategies.start("chaos")

    def _on_connected(self) -> None:
        self.connects += 1

    def _on_reconciled(self, _counts: dict[str, int]) -> None:
        self.reconciles += 1

    def last(self) -> float:
        quote = self.desk.quotes.get(self.es.con_id)
        return quote.last if quote is not None and quote.last > 0 else 0.0

    # ---- the plan -------------------------------------------------------------------------------

    async def play(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        steps = list(self.plan.steps)
        if self.plan.kill_at is not None:
            steps.append(Step(self.plan.kill_at, "kill"))
            steps.sort(key=lambda s: s.at)
        for step in steps:
            await asyncio.sleep(max(0.0, started + step.at - loop.time()))
            await self.do(step)
        await asyncio.sleep(max(0.0, started + self.plan.duration - loop.time()))

    async def do(self, step: Step) -> None:
        """One step; a control operation the simulator refuses is skipped and noted."""
        try:
            await self._do(step)
        except RuntimeError as exc:
            self.skipped.append(f"{step.describe()}: {exc}")

    async def _do(self, step: Step) -> None:
        kind, args = step.kind, dict(step.args)
        if kind == "kill":
            self.kill_task = self.desk.kill("chaos runner")
        elif kind in ("limit", "market"):
            self.desk.place(self._order(kind, args))
        elif kind == "bracket":
            self.desk.place(self._bracket(args))
        elif kind in ("modify", "cancel"):
            self._touch(kind, args)
        elif kind == "drop":
            await self.ctl.call("drop_clients")
        elif kind == "drop_mid_bracket":
            self.desk.place(self._bracket({"side": "BUY", "width_ticks": 6, **args}))
            await self.ctl.call("drop_clients")
        elif kind in ("restart_keep", "restart_lose", "rollback"):
            await self.ctl.call("restart", keep_orders=kind != "restart_lose", **args)
        elif kind == "slice":
            await self.ctl.call("slice_frames", size=1)
        elif kind == "latency":
            await self.ctl.call("latency", **args)
        elif kind == "duplicate":
            await self.ctl.call("duplicate_reports", **args)
        elif kind == "late":
            await self.ctl.call("late_reports", **args)
        elif kind == "partial":
            await self.ctl.call("partial_fills", on=True)
        elif kind == "reject":
            await self.ctl.call("reject_orders", **args)
        else:
            raise ValueError(f"unknown step {kind!r}")

    def _price(self, side: Side, offset_ticks: int) -> float:
        """``offset_ticks`` away from the last price on the passive side (negative crosses)."""
        last = self.last() or 6800.0
        sign = 1 if side is Side.BUY else -1
        return self.es.round_to_tick(last - sign * offset_ticks * self.es.min_tick)

    def _order(self, kind: str, args: dict[str, Any]) -> OrderIntent:
        side = Side(args["side"])
        if kind == "market":
            return OrderIntent(self.es, side, args["qty"], OrderType.MARKET, MANUAL)
        price = self._price(side, args["offset_ticks"])
        return OrderIntent(self.es, side, args["qty"], OrderType.LIMIT, MANUAL, limit_price=price)

    def _bracket(self, args: dict[str, Any]) -> BracketIntent:
        side = Side(args["side"])
        entry = self._price(side, args["offset_ticks"])
        width = args["width_ticks"] * self.es.min_tick * (1 if side is Side.BUY else -1)
        intent = OrderIntent(self.es, side, 1, OrderType.LIMIT, MANUAL, limit_price=entry)
        return BracketIntent(intent, take_profit=entry + width, stop_loss=entry - width)

    def _touch(self, kind: str, args: dict[str, Any]) -> None:
        live = sorted(
            (
                o
                for o in self.desk.orders.live()
                if o.state is OrderState.WORKING and not o.parent_ref
            ),
            key=lambda o: o.ref,
        )
        if not live:
            return
        target = live[int(args["pick"] * len(live))]
        if kind == "cancel":
            self.desk.cancel_order(target.ref, MANUAL)
        elif target.limit_price is not None:
            price = target.limit_price + args["ticks"] * self.es.min_tick
            self.desk.modify_order(target.ref, limit_price=price, source=MANUAL)

    # ---- settle, read back, check ------------------------------------------------------------

    async def settle(self, timeout: float) -> str:
        """Let the faults go and wait until the desk agrees with the broker, or ``timeout``;
        returns what was still not settled (empty: settled)."""
        if self.plan.strategy and self.desk.strategies.state_of("chaos") is not None:
            with contextlib.suppress(Exception):
                self.desk.strategies.stop("chaos", why="the chaos run is over")
        await self.ctl.call("clear_faults")
        await self.ctl.call("partial_fills", on=False)
        await asyncio.sleep(0.35)  # the scenario: late reports held up to 300 ms still arrive
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.kill_task), timeout)
        waiting = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = await self._unsettled()
            if not waiting:
                return ""
            await asyncio.sleep(0.05)
        return waiting

    async def _unsettled(self) -> str:
        if self.desk.link.status.state is not LinkState.CONNECTED:
            return "not connected"
        if (await self.ctl.call("status"))["restarting"]:
            return "the simulator is restarting"
        if self.reconciles < self.connects:
            return "not reconciled since the last connect"
        flying = [o.ref for o in self.desk.orders.orders.values() if o.state in IN_FLIGHT]
        if flying:
            return f"orders in flight: {flying}"
        if _positions(self.desk) != await self._sim_positions():
            return "positions differ"
        return ""

    async def _sim_positions(self) -> dict[int, float]:
        return {p["con_id"]: p["qty"] for p in await self.ctl.call("positions") if p["qty"]}

    async def observe(self, unsettled: str, errors: list[str]) -> Observed:
        """Everything the checks need, read from the desk, its journal and the control port."""
        desk, seen = self.desk, Observed(errors=list(errors))
        if unsettled:
            seen.errors.append(f"unsettled: {unsettled}")
        version = desk.session.server_version or 176
        for r in await self.ctl.call("received", msg_id=PLACE_ORDER, client_id=DESK_CLIENT):
            placed = parse_place_order(r["fields"], version)
            seen.placed.append((placed.order_id, placed.text("orderRef")))
        seen.desk_orders = {
            ref: (o.state.value, o.filled)
            for ref, o in desk.orders.orders.items()
            if not ref.startswith("ext:")
        }
        sim_orders = await self.ctl.call("orders")
        seen.sim_orders = {
            o["order_ref"]: (o["status"], o["filled"])
            for o in sim_orders
            if o["client_id"] == DESK_CLIENT and o["order_ref"]
        }
        seen.desk_positions = _positions(desk)
        seen.sim_positions = await self._sim_positions()
        for e in await self.ctl.call("executions"):
            sign = 1 if e["side"] == "BOT" else -1
            seen.sim_fills[e["con_id"]] = seen.sim_fills.get(e["con_id"], 0.0) + sign * e["shares"]
        for f in desk.orders.fills.values():
            _add(seen.desk_fills, f.instrument.con_id, f.side.value, f.qty)
            seen.desk_fill_ids.append(f.exec_id)
        self._read_journal(seen)
        report = self.kill_task.result() if self.kill_task and self.kill_task.done() else None
        if self.kill_task is not None:
            why = "" if report is None else report.summary()
            seen.kill = {"verified": bool(report and report.verified), "why": why or "no report"}
            if report is not None and report.verified:
                seen.open_before_kill = [
                    o["order_ref"]
                    for o in sim_orders
                    if o["status"] in ("Submitted", "PreSubmitted")
                    and o["created"] < report.started
                ]
        return _drop_zeros(seen)

    def _read_journal(self, seen: Observed) -> None:
        with contextlib.closing(sqlite3.connect(self.desk.journal_path)) as db:
            seen.journal_orders = dict(db.execute("SELECT ref, state FROM orders"))
            for exec_id, con_id, side, qty in db.execute(
                "SELECT exec_id, con_id, side, qty FROM fills"
            ):
                seen.journal_fill_ids.append(exec_id)
                _add(seen.journal_fills, con_id, side, qty)

    def histories(self, broken: list[str]) -> list[str]:
        """The journal's story of every order a violation names (to read a failure by)."""
        with contextlib.closing(sqlite3.connect(self.desk.journal_path)) as db:
            refs = [
                r for (r,) in db.execute("SELECT ref FROM orders") if any(r in b for b in broken)
            ]
            return [
                f"  history {ref}: "
                + " > ".join(
                    f"{state}/{status or '-'}/{filled:g}"
                    for state, status, filled in db.execute(HISTORY, (ref,))
                )
                for ref in refs
            ]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.desk.close()
        await self.ctl.close()
        self.sim.stop()


def _add(sums: dict[int, float], con_id: int, side: str, qty: float) -> None:
    sums[con_id] = sums.get(con_id, 0.0) + (qty if side == "BUY" else -qty)


def _positions(desk: Desk) -> dict[int, float]:
    return {con_id: p.qty for (_, con_id), p in desk.positions.positions.items() if p.qty}


def _drop_zeros(seen: Observed) -> Observed:
    for sums in (seen.sim_fills, seen.desk_fills, seen.journal_fills):
        for con_id in [k for k, v in sums.items() if abs(v) < 1e-9]:
            del sums[con_id]
    return seen


async def run_once(
    plan: Plan, folder: Path, trap: ErrorTrap, settle_timeout: float = 20.0
) -> RunResult:
    """Play ``plan`` and check the invariants; never raises for what the desk does. The
    caller installs ``trap`` (one for every run under way)."""
    CURRENT_RUN.set(plan.seed)
    trap.watch(plan.seed)
    started = time.perf_counter()
    run = ChaosRun(plan, folder)
    probe = LoopLagProbe()
    try:
        await run.start()
        probe.start()
        await run.play()
        unsettled = await run.settle(settle_timeout)
        probe.stop()
        seen = await run.observe(unsettled, trap.seen[plan.seed])
        broken = violations(seen)
        if broken:
            broken += run.histories(broken)
        kill = ""
        if seen.kill is not None:
            kill = "verified" if seen.kill["verified"] else f"not verified: {seen.kill['why']}"
        return RunResult(
            plan.seed,
            plan.faults(),
            broken,
            time.perf_counter() - started,
            orders=len(seen.desk_orders),
            fills=len(seen.desk_fill_ids),
            reconnects=max(0, run.connects - 1),
            kill=kill,
            lag_p99_ms=probe.p99(),
            skipped=run.skipped,
            by_design=list(trap.by_design[plan.seed]),
        )
    except Exception as exc:  # the harness or the desk failed outright: a crash of the run
        return RunResult(
            plan.seed, plan.faults(), [f"crash: {exc!r}"], time.perf_counter() - started
        )
    finally:
        probe.stop()
        await run.close()
        trap.forget(plan.seed)
