"""The strategy runner: loads strategy files, runs their callbacks on the desk's loop, and
keeps each one's state (STOPPED, RUNNING, PAUSED, HALTED) with the reason.

The gate asks the runner of every strategy order (``state_of``, ``position_of``), so PAUSE and
HALT hold whatever a strategy's code does. The trader's controls and the desk's state rule
everything: a kill stops every strategy and none restarts by itself; REDUCING pauses them all;
a lost connection pauses them until the broker's book is reconciled. An exception, a breach of
the runaway breaker or a slow callback is pinned on the strategy that caused it, and only that
strategy stops.

Events:
    changed(name): a strategy's status changed (state, position, orders, last signal...).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibdesk import events
from ibdesk.config import RiskSettings, StrategySettings
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import FillSnapshot, OrderState, source_of
from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.domain.strategy import StrategyState, StrategyStatus
from ibdesk.state.bars import BarKey
from ibdesk.strategies.base import Strategy
from ibdesk.strategies.breaker import BreakerLimits, RunawayBreaker
from ibdesk.strategies.context import StrategyContext
from ibdesk.strategies.handles import BarEvent
from ibdesk.strategies.host import StrategyHost
from ibdesk.strategies.ledger import StrategyLedger
from ibdesk.strategies.loader import StrategyError, load_file, typed_params
from ibdesk.tasks import TaskGroup

log = logging.getLogger("ibdesk.strategies")

SLOW_WINDOW = 60.0
""" seconds over which the slowest callback is shown """
FIRST_QUOTE_WAIT = 5.0
""" seconds a start waits for its instruments' first quotes before on_start """


@dataclass(eq=False)
class _Entry:
    """One loaded strategy and everything the runner keeps for it."""

    cls: type[Strategy]
    path: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    state: StrategyState = StrategyState.STOPPED
    reason: str = "loaded"
    instance: Strategy | None = None
    context: StrategyContext | None = None
    breaker: RunawayBreaker | None = None
    tasks: TaskGroup | None = None
    quote_ids: frozenset[int] = frozenset()
    bar_keys: dict[BarKey, int] = field(default_factory=dict)
    """ series -> how many of its bars were there at the last look """
    auto_paused: str = ""
    """ why the desk paused it ("connection", "data", "restart"; "" for none): the desk
    resumes it """
    slowest: tuple[float, float] = (0.0, 0.0)
    """ (ms, when) of the slowest callback of the last minute """
    slow: bool = False
    errors: int = 0
    left_position: bool = False
    timer_due: float | None = None
    """ when its next on_timer is due, by the host's clock (timers on the clock only) """

    @property
    def name(self) -> str:
        return self.cls.id()

    @property
    def params(self) -> dict[str, Any]:
        return {**self.cls.params, **self.overrides}


class StrategyRunner:
    """Every loaded strategy of one desk.

    Args:
        host: the desk (orders through its gate, its stores).
        settings: the [strategies] section (callback budget, autostart).
        risk: the [risk] section (the runaway breaker's limits).
    """

    def __init__(self, host: StrategyHost, settings: StrategySettings, risk: RiskSettings) -> None:
        self.host = host
        self.settings = settings
        self.limits = BreakerLimits.from_risk(risk)
        self.ledger = StrategyLedger()
        self.entries: dict[str, _Entry] = {}
        """ name -> entry, in the order loaded """
        self.current = ""
        """ the strategy whose callback is running now ("" between callbacks) """
        self.timers_on_clock = False
        """ True: strategies' timers keep the host's clock, not the loop's, and whoever moves
        the clock fires them (:meth:`fire_timers`): a strategy replay runs a day's tape in
        seconds, and a 10 s timer must still fire every ten seconds of the tape """
        self.desk_state = TradingState.ACTIVE
        self.data_down = False
        """ the market-data farm is down: prices are stale """
        self.changed = events.new("strategyChanged")
        self.tasks = TaskGroup("strategy runner", log)
        self._by_con_id: dict[int, list[_Entry]] = {}
        self.holds: dict[str, str] = {}
        """ what the desk holds every strategy paused for ("restart") -> why, in words """
        self._to_start: dict[str, Callable[[str, StrategyError], object] | None] = {}
        """ strategies to start at the next reconcile -> who hears of a failure """
        host.orders.added += self._on_order
        host.orders.updated += self._on_order
        host.orders.filled += self._on_fill
        host.orders.completed += self._on_commission
        host.bars.updated += self._on_bars
        self.ledger.add_all(host.orders.fills.values())

    # ---- what the gate asks -------------------------------------------------------------------

    def state_of(self, name: str) -> StrategyState | None:
        """A strategy's state; None for a name not loaded."""
        entry = self.entries.get(name)
        return entry.state if entry is not None else None

    def position_of(self, name: str, con_id: int) -> float:
        """A strategy's own position (from its own fills)."""
        return self.ledger.position(name, con_id)

    def paused_why(self, name: str) -> str:
        """Why a strategy is paused, in words; empty when it is not paused."""
        entry = self.entries.get(name)
        return entry.reason if entry is not None and entry.state is StrategyState.PAUSED else ""

    def traders_of(self, con_id: int) -> list[tuple[str, StrategyState, float]]:
        """(name, state, its own position) of every running or paused strategy that trades
        an instrument: whom a manual order on it may fight."""
        return [
            (e.name, e.state, self.ledger.position(e.name, con_id))
            for e in self._by_con_id.get(con_id, ())
            if e.state.active
        ]

    # ---- loading ------------------------------------------------------------------------------

    def load(self, path: str | Path) -> list[str]:
        """Load the strategies a file defines (STOPPED); returns their names.

        Raises:
            StrategyError: the file does not load, defines no strategy, or a name is
                taken by a strategy from another file.
        """
        path = Path(path).resolve()
        classes = load_file(path)
        for cls in classes:
            known = self.entries.get(cls.id())
            if known is not None and known.path != path:
                raise StrategyError(f"{cls.id()} is already loaded from {known.path.name}")
        names = []
        for cls in classes:
            known = self.entries.get(cls.id())
            if known is not None:
                if known.state.active:
                    raise StrategyError(f"{cls.id()} is running: stop it before reloading")
                known.cls = cls
                known.reason = "reloaded"
            else:
                self.entries[cls.id()] = _Entry(cls, path)
            names.append(cls.id())
            self._publish(self.entries[cls.id()])
        log.info("loaded %s from %s", ", ".join(names), path.name)
        return names

    def reload(self, name: str) -> list[str]:
        """Read a stopped strategy's file again (its code changed)."""
        return self.load(self._entry(name).path)

    def set_params(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change a stopped strategy's parameters; each keeps its default's type.

        Raises:
            StrategyError: it is running, a name is unknown, or a value has the wrong type.
        """
        entry = self._entry(name)
        if entry.state.active:
            raise StrategyError(f"{name} is {entry.state.value.lower()}: stop it first")
        entry.overrides.update(typed_params(entry.cls, values))
        self._publish(entry)
        return entry.params

    # ---- the trader's controls -------------------------------------------------------------------

    async def start(self, name: str) -> None:
        """Start (or resume) a strategy: its instruments resolved and watched, its bars
        loaded, then ``on_start``.

        Raises:
            StrategyError: the desk is not ACTIVE, or an instrument cannot be resolved.
        """
        entry = self._entry(name)
        if entry.state is StrategyState.PAUSED:
            self.resume(name)
            return
        if entry.state is StrategyState.RUNNING:
            return
        if self.desk_state is not TradingState.ACTIVE:
            raise StrategyError(
                f"Trading is {self.desk_state.value}: re-arm before starting {name}."
            )
        breaker = RunawayBreaker(self.limits)
        context = StrategyContext(
            name, self.host, self.ledger, breaker, lambda why: self.halt(name, why)
        )
        timeframe = _timeframe(entry.cls.bar_size)
        try:
            for text in entry.cls.instruments:
                inst = await self.host.resolve(text)
                context.add_instrument(text, inst)
                self.host.watch_quotes(inst)
                if timeframe is not None:
                    _, key = await self.host.open_chart(text, timeframe)
                    context.bar_keys[inst.con_id] = key
                    series = self.host.bars.get(key)
                    entry.bar_keys[key] = len(series) if series is not None else 0
        except Exception as exc:
            for key in entry.bar_keys:
                self.host.close_chart(key)
            entry.bar_keys.clear()
            raise StrategyError(f"{name} cannot start: {exc}") from exc
        await self._first_quotes(name, context.by_con_id)
        self.ledger.take_back(name)
        entry.context, entry.breaker = context, breaker
        entry.instance = entry.cls(context, entry.params)
        entry.tasks = TaskGroup(f"strategy {name}", log)
        entry.quote_ids = frozenset(context.by_con_id)
        entry.errors, entry.slow, entry.left_position = 0, False, False
        for con_id in entry.quote_ids:
            self._by_con_id.setdefault(con_id, []).append(entry)
        self._listen_to_quotes()
        held = next(iter(self.holds.items()), None)
        if held is None:
            self._set(entry, StrategyState.RUNNING, "started")
        else:  # it starts (its on_start may place exits) but adds no risk until the release
            entry.auto_paused = held[0]
            self._set(entry, StrategyState.PAUSED, held[1])
        self._journal(entry, "started", _params_text(entry.params))
        self._call(entry, "on_start")
        entry.timer_due = None
        if entry.cls.timer and entry.state.active:
            if self.timers_on_clock:
                entry.timer_due = self.host.clock() + entry.cls.timer
            else:
                entry.tasks.spawn(self._timer(entry, entry.cls.timer), "timer")

    async def _first_quotes(self, name: str, instruments: Mapping[int, Instrument]) -> None:
        """Wait (a little) until every instrument has a quote, so ``on_start`` can price
        from them; a market that stays silent is logged, not waited on forever."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_QUOTE_WAIT
        quotes = self.host.quotes
        while any(quotes.get(c) is None for c in instruments):
            if loop.time() > deadline:
                missing = [i.local_symbol for c, i in instruments.items() if quotes.get(c) is None]
                log.warning("%s starts with no quote yet for %s", name, ", ".join(missing))
                return
            await asyncio.sleep(0.02)

    def pause(self, name: str, why: str = "paused by the trader") -> None:
        """PAUSE: no new risk; its exits, stop moves and cancels still pass the gate."""
        entry = self._entry(name)
        if entry.state is StrategyState.RUNNING:
            entry.auto_paused = ""
            self._set(entry, StrategyState.PAUSED, why)
            self._journal(entry, "paused", why)

    def resume(self, name: str) -> None:
        """From PAUSED back to RUNNING (the desk must be ACTIVE).

        Raises:
            StrategyError: the desk is not ACTIVE.
        """
        entry = self._entry(name)
        if entry.state is not StrategyState.PAUSED:
            return
        if self.desk_state is not TradingState.ACTIVE:
            raise StrategyError(f"Trading is {self.desk_state.value}: re-arm first.")
        entry.auto_paused = ""
        self._set(entry, StrategyState.RUNNING, "resumed")
        self._journal(entry, "resumed")

    def stop(self, name: str, flatten: bool = False, why: str = "stopped by the trader") -> None:
        """STOP: ``on_stop``, then its working orders are cancelled; its position stays
        (shown as left by it) unless ``flatten``, which closes it at market."""
        entry = self._entry(name)
        if not entry.state.active:
            return
        self._call(entry, "on_stop")
        context = entry.context
        if context is not None:
            if flatten:
                # Its closing orders go while it may still trade: paused, the gate would
                # count the stops whose cancels are on the way as exits already working.
                entry.state = StrategyState.RUNNING
                context.flatten(f"{why} (stop and flatten)")
            else:
                context.cancel_all()
        self._wind_down(entry, StrategyState.STOPPED, why)
        entry.left_position = not flatten and bool(self.ledger.positions(name))
        self._journal(entry, "stopped and flattened" if flatten else "stopped", why)
        self._publish(entry)

    def halt(self, name: str, why: str) -> None:
        """HALTED (a breaker, an error): its orders cancelled, its code no longer called;
        only the trader starts it again."""
        entry = self._entry(name)
        if not entry.state.active:
            return  # stopped or halted already: the gate sends nothing of it
        was_active = entry.state.active
        if entry.context is not None and was_active:
            entry.context.cancel_all()
        self._wind_down(entry, StrategyState.HALTED, why)
        entry.left_position = bool(self.ledger.positions(name))
        log.error("strategy %s halted: %s", name, why)
        self._journal(entry, "halted", why)
        self._publish(entry)

    def hand_over(self, name: str) -> None:
        """Hand over to manual: the strategy stops, its orders stay at the broker and, like
        its position, are the trader's from now on."""
        entry = self._entry(name)
        if entry.state.active:
            self._wind_down(entry, StrategyState.STOPPED, "handed over to manual")
        self.ledger.hand_over(name)
        entry.left_position = False
        self._journal(entry, "handed over to manual")
        self._publish(entry)

    # ---- the desk's state -----------------------------------------------------------------------

    def on_trading_state(self, change: StateChange) -> None:
        """HALTED stops every strategy (latched: a re-arm restarts none); REDUCING pauses
        every running one."""
        self.desk_state = change.state
        for entry in list(self.entries.values()):
            if change.state is TradingState.HALTED and entry.state.active:
                self._wind_down(entry, StrategyState.STOPPED, f"kill switch: {change.why}")
                entry.left_position = bool(self.ledger.positions(entry.name))
                self._journal(entry, "stopped by the kill switch", change.why)
                self._publish(entry)
            elif change.state is TradingState.REDUCING and entry.state is StrategyState.RUNNING:
                self.pause(entry.name, f"trading is REDUCING ({change.who})")

    def on_disconnected(self) -> None:
        """The connection dropped: running strategies pause until the book is reconciled."""
        self._auto_pause("connection", "connection lost: waiting for the broker")

    def hold(self, kind: str, why: str) -> None:
        """The desk pauses every strategy for ``kind`` (the TWS restart) until
        :meth:`release`: running ones now, those the lost connection or stale data paused
        too (a reconcile must not resume them), and one started meanwhile starts paused."""
        self.holds[kind] = why
        for entry in self.entries.values():
            if entry.state is StrategyState.PAUSED and entry.auto_paused in ("connection", "data"):
                entry.auto_paused = kind
                self._set(entry, StrategyState.PAUSED, why)
        self._auto_pause(kind, why)

    def release(self, kind: str, why: str) -> None:
        """End a :meth:`hold`: the strategies it paused go on (if trading is ACTIVE; those
        with stale prices wait for the data)."""
        if self.holds.pop(kind, None) is None:
            return
        if self.data_down:
            for entry in self.entries.values():
                if entry.auto_paused == kind and entry.state is StrategyState.PAUSED:
                    entry.auto_paused = "data"
                    self._set(entry, StrategyState.PAUSED, "market data farm down: stale prices")
            return
        self._auto_resume(kind, why)

    def start_after_reconcile(
        self, names: Iterable[str], on_error: Callable[[str, StrategyError], object] | None = None
    ) -> None:
        """Start these strategies once the broker's book is next reconciled: a strategy must
        see its own earlier orders and fills before it trades. A strategy that does not
        start is logged and handed to ``on_error`` (the window says it in its panel)."""
        for name in names:
            self._to_start.setdefault(name, on_error)

    async def _start_reconciled(
        self, name: str, on_error: Callable[[str, StrategyError], object] | None
    ) -> None:
        try:
            await self.start(name)
        except StrategyError as exc:
            log.error("strategy %s did not start: %s", name, exc)
            if on_error is not None:
                on_error(name, exc)
        else:
            log.info("strategy %s started, the book reconciled", name)

    def on_reconciled(self, _counts: Mapping[str, int] | None = None) -> None:
        """The broker's book is reconciled after a connect: the strategies waiting for it
        start, and those the lost connection paused go on (if trading is ACTIVE and market
        data flows)."""
        waiting, self._to_start = self._to_start, {}
        for name, on_error in waiting.items():
            self.tasks.spawn(self._start_reconciled(name, on_error), f"starting {name}")
        if self.data_down:
            for entry in self.entries.values():
                if entry.auto_paused == "connection":
                    entry.auto_paused = "data"
                    self._set(entry, StrategyState.PAUSED, "market data farm down: stale prices")
            return
        self._auto_resume("connection", "reconnected and reconciled")

    def on_market_data(self, flowing: bool) -> None:
        """The market-data farm went down (prices stale: pause) or came back (go on)."""
        if flowing == (not self.data_down):
            return
        self.data_down = not flowing
        if not flowing:
            self._auto_pause("data", "market data farm down: stale prices")
        else:
            self._auto_resume("data", "market data back")

    def _auto_pause(self, kind: str, why: str) -> None:
        for entry in self.entries.values():
            if entry.state is StrategyState.RUNNING:
                entry.auto_paused = kind
                self._set(entry, StrategyState.PAUSED, why)
                self._journal(entry, "paused by the desk", why)

    def _auto_resume(self, kind: str, why: str) -> None:
        if self.desk_state is not TradingState.ACTIVE:
            return
        held = next(((k, w) for k, w in self.holds.items() if k != kind), None)
        for entry in self.entries.values():
            if entry.auto_paused == kind and entry.state is StrategyState.PAUSED:
                if held is not None:  # back from a lost connection, but held for the restart
                    entry.auto_paused = held[0]
                    self._set(entry, StrategyState.PAUSED, held[1])
                    continue
                entry.auto_paused = ""
                self._set(entry, StrategyState.RUNNING, why)
                self._journal(entry, "resumed by the desk", why)

    # ---- what the panel shows -------------------------------------------------------------------

    def statuses(self) -> list[StrategyStatus]:
        """Every loaded strategy, in the order loaded."""
        return [self.status(name) for name in self.entries]

    def status(self, name: str) -> StrategyStatus:
        """One strategy as the panel shows it."""
        entry = self._entry(name)
        context = entry.context
        held = self.ledger.positions(name)
        names = {}
        if context is not None:
            names = {c: i.local_symbol for c, i in context.by_con_id.items()}
        slowest, when = entry.slowest
        recent = time.monotonic() - when < SLOW_WINDOW
        return StrategyStatus(
            name=name,
            path=str(entry.path),
            state=entry.state,
            reason=entry.reason,
            instruments=tuple(entry.cls.instruments),
            position=sum(held.values()),
            positions=tuple((names.get(c, str(c)), q) for c, q in held.items()),
            held=tuple(held.items()),
            pnl=context.pnl() if context is not None else self.ledger.pnl(name, _no_mark),
            working=len(context.orders()) if context is not None else 0,
            last_why=context.last_why if context is not None else "",
            callback_ms=slowest if recent else 0.0,
            slow=entry.slow,
            errors=entry.errors,
            left_position=entry.left_position,
            params=tuple(entry.params.items()),
        )

    async def close(self) -> None:
        """The desk is closing: callbacks stop (orders stay at the broker, as a crash would
        leave them: brackets are native)."""
        for entry in self.entries.values():
            if entry.tasks is not None:
                await entry.tasks.close()
        await self.tasks.close()

    # ---- events from the stores -----------------------------------------------------------------

    def _listen_to_quotes(self) -> None:
        # The quote store skips its emit when nobody listens: listen only while needed.
        listening = self._on_quote in self.host.quotes.updated
        wanted = any(self._by_con_id.values())
        if wanted and not listening:
            self.host.quotes.updated += self._on_quote
        elif listening and not wanted:
            self.host.quotes.updated -= self._on_quote

    def _on_quote(self, con_id: int) -> None:
        entries = self._by_con_id.get(con_id)
        if not entries:
            return
        quote = self.host.quotes.get(con_id)
        for entry in entries:
            self._call(entry, "on_quote", quote)

    def _on_bars(self, key: BarKey, _from_index: int) -> None:
        for entry in self.entries.values():
            seen = entry.bar_keys.get(key)
            if seen is None or not entry.state.active or entry.context is None:
                continue
            series = self.host.bars.get(key)
            if series is None:
                continue
            count = len(series)
            entry.bar_keys[key] = count
            inst = entry.context.by_con_id[key.con_id]
            # Every bar before the forming (last) one that was forming or new at the last
            # look has closed since.
            for index in range(max(seen - 1, 0), count - 1):
                self._call(entry, "on_bar", BarEvent(inst, series.bar(index)))

    def _on_order(self, ref: str) -> None:
        source = source_of(ref)
        if source.kind != "strategy":
            return
        entry = self.entries.get(source.name)
        snap = self.host.orders.get(ref)
        if entry is None or snap is None or not self.ledger.made_here(ref):
            return  # not loaded here, or another client's copy of it
        breaker = entry.breaker
        if breaker is not None and entry.state.active:
            if snap.state is OrderState.REJECTED:
                breach = breaker.rejected()
                if breach:
                    self.halt(entry.name, breach)
                    return
            elif snap.state in (OrderState.WORKING, OrderState.FILLED, OrderState.PARTIAL):
                breaker.accepted()
        self._call(entry, "on_order", snap)
        self._publish(entry)

    def _on_fill(self, fill: FillSnapshot) -> None:
        name = self.ledger.add(fill)
        entry = self.entries.get(name) if name else None
        if entry is None:
            return
        if entry.breaker is not None:
            entry.breaker.filled()
        self._call(entry, "on_fill", fill)
        self._publish(entry)

    def _on_commission(self, fill: FillSnapshot) -> None:
        """A fill completed by its commission report (IB sends it after the execution)."""
        self.ledger.add(fill)
        name = source_of(fill.ref).name
        entry = self.entries.get(name)
        if entry is not None and self.ledger.made_here(fill.ref):
            self._publish(entry)

    def next_timer(self) -> float | None:
        """When the next strategy timer is due by the host's clock (timers on the clock)."""
        due = [
            e.timer_due for e in self.entries.values() if e.timer_due is not None and e.state.active
        ]
        return min(due, default=None)

    def fire_timers(self, now: float) -> None:
        """Call ``on_timer`` of each strategy whose timer is due at ``now`` (the clock reads
        it), and set its next one a period later."""
        for entry in list(self.entries.values()):
            due, period = entry.timer_due, entry.cls.timer
            if due is None or not period or due > now or not entry.state.active:
                continue
            entry.timer_due = due + period
            self._call(entry, "on_timer")

    async def _timer(self, entry: _Entry, period: float) -> None:
        while entry.state.active:
            await asyncio.sleep(period)
            self._call(entry, "on_timer")

    # ---- calling a strategy's code ------------------------------------------------------------

    def _call(self, entry: _Entry, callback: str, *args: Any) -> None:
        """Run one callback, timed; an exception halts this strategy only."""
        instance = entry.instance
        if instance is None or not entry.state.active:
            return
        self.current = entry.name
        started = time.perf_counter()
        try:
            result = getattr(instance, callback)(*args)
        except Exception as exc:
            self.current = ""
            self._failed(entry, callback, exc)
            return
        finally:
            self.current = ""
        self._timed(entry, callback, (time.perf_counter() - started) * 1000.0)
        if inspect.isawaitable(result) and entry.tasks is not None:
            entry.tasks.spawn(self._await(entry, callback, result), callback)

    async def _await(self, entry: _Entry, callback: str, result: Any) -> None:
        try:
            await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(entry, callback, exc)

    def _timed(self, entry: _Entry, callback: str, ms: float) -> None:
        now = time.monotonic()
        slowest, when = entry.slowest
        if ms >= slowest or now - when > SLOW_WINDOW:
            entry.slowest = (ms, now)
        if ms > self.settings.callback_budget_ms:
            entry.slow = True
            log.warning(
                "strategy %s: %s took %.0f ms (budget %.0f ms)",
                entry.name,
                callback,
                ms,
                self.settings.callback_budget_ms,
            )
            self._journal(entry, "slow callback", f"{callback} took {ms:.0f} ms")
            self._publish(entry)

    def _failed(self, entry: _Entry, callback: str, exc: BaseException) -> None:
        entry.errors += 1
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log.error(
            "strategy %s: %s raised %s",
            entry.name,
            callback,
            text,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        self.halt(entry.name, f"error in {callback}: {text}")

    # ---- helpers --------------------------------------------------------------------------------

    def _wind_down(self, entry: _Entry, state: StrategyState, why: str) -> None:
        """No more callbacks: out of the quote and bar fan-out, timer and tasks cancelled."""
        entry.state, entry.reason, entry.auto_paused = state, why, ""
        for con_id in entry.quote_ids:
            listeners = self._by_con_id.get(con_id, [])
            if entry in listeners:
                listeners.remove(entry)
        entry.quote_ids = frozenset()
        self._listen_to_quotes()
        for key in entry.bar_keys:
            self.host.close_chart(key)
        entry.bar_keys.clear()
        if entry.tasks is not None:
            entry.tasks.cancel_all()

    def _set(self, entry: _Entry, state: StrategyState, why: str) -> None:
        entry.state, entry.reason = state, why
        self._publish(entry)

    def _publish(self, entry: _Entry) -> None:
        self.changed.emit(entry.name)

    def _journal(self, entry: _Entry, action: str, detail: str = "") -> None:
        self.host.journal.action(f"strategy:{entry.name}", f"strategy {action}", detail)

    def _entry(self, name: str) -> _Entry:
        entry = self.entries.get(name)
        if entry is None:
            raise StrategyError(f"No strategy named {name!r} is loaded.")
        return entry


def _timeframe(bar_size: str | None) -> Timeframe | None:
    if bar_size is None:
        return None
    for tf in Timeframe:
        if bar_size in (tf.bar_size, tf.label):
            return tf
    sizes = ", ".join(repr(tf.bar_size) for tf in Timeframe)
    raise StrategyError(f"bar_size {bar_size!r} is not one of {sizes}")


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _no_mark(_con_id: int) -> float:
    return float("nan")


def load_all(runner: StrategyRunner, paths: Iterable[str | Path]) -> list[str]:
    """Load several files; the names loaded (StrategyError on the first that fails)."""
    names: list[str] = []
    for path in paths:
        names += runner.load(path)
    return names
