"""Strategies that run elsewhere (``ibdesk run`` on a server), as the desk watches them.

When the desk is TWS's Master API client it hears of every API client's orders and fills.
Those another client made for a strategy carry its name and that client's id in their
orderRef (``strategy:sma_cross#7.1043``), so each such strategy gets a read-only row: its
position and P&L from its own fills (the same book a running strategy keeps), and its
working orders, exactly as the broker reports them. Nothing here can start, stop or change
it: that is done where it runs; a KILL here still cancels its orders with everyone's.

Events:
    changed(key): a remote strategy's row changed (``"sma_cross @ client 7"``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ibdesk import events
from ibdesk.desk.api import StrategyOps
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import FillSnapshot, client_of, source_of
from ibdesk.domain.strategy import StrategyState, StrategyStatus
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore
from ibdesk.strategies.ledger import StrategyLedger
from ibdesk.strategies.loader import StrategyError

WHERE = "remote (ibdesk run)"
""" what the panel says of where such a strategy runs """


def remote_key(name: str, client_id: int) -> str:
    """A remote strategy's row key: its name and the client it trades as."""
    return f"{name} @ client {client_id}"


class RemoteStrategies:
    """Every strategy another API client trades, from its orders and fills in the store.

    Args:
        orders: the order store (everything the broker reports).
        quotes: the quote store (open positions are valued at the last price, else the mid).
        own_client: the API client id the desk trades as (its own strategies are the runner's).
    """

    def __init__(
        self, orders: OrderStore, quotes: QuoteStore, own_client: Callable[[], int]
    ) -> None:
        self.orders = orders
        self.quotes = quotes
        self.own_client = own_client
        self.ledgers: dict[int, StrategyLedger] = {}
        """ client id -> the book of its strategies' fills """
        self.strategies: dict[str, tuple[str, int]] = {}
        """ row key -> (strategy name, client id), in the order first seen """
        self.instruments: dict[int, Instrument] = {}
        """ conId -> instrument, for the positions' names """
        self._traded: dict[str, dict[str, None]] = {}
        """ row key -> the instruments it traded today (a dict as an ordered set) """
        self._execs: dict[str, list[str]] = {}
        """ row key -> the exec ids of its fills (their commissions are read from the store:
        IB reports a fill's commission after the fill) """
        self._last_why: dict[str, str] = {}
        """ row key -> the why of its last order, when the broker's report carries one """
        self.changed = events.new("remoteStrategyChanged")
        for ref in orders.orders:
            self._on_order(ref)
        for fill in sorted(orders.fills.values(), key=lambda f: f.time):
            self._on_fill(fill)
        orders.added += self._on_order
        orders.updated += self._on_order
        orders.filled += self._on_fill

    def close(self) -> None:
        """Stop listening to the store."""
        self.orders.added -= self._on_order
        self.orders.updated -= self._on_order
        self.orders.filled -= self._on_fill

    def _whose(self, ref: str) -> tuple[str, int] | None:
        """(strategy, client) of another client's strategy order; None for any other."""
        source = source_of(ref)
        client = client_of(ref)
        if source.kind != "strategy" or client is None or client == self.own_client():
            return None
        return source.name, client

    def _seen(self, whose: tuple[str, int], inst: Instrument, why: str = "") -> str:
        key = remote_key(*whose)
        self.strategies.setdefault(key, whose)
        self.instruments.setdefault(inst.con_id, inst)
        self._traded.setdefault(key, {})[inst.local_symbol or inst.symbol] = None
        if why:
            self._last_why[key] = why
        return key

    def _on_order(self, ref: str) -> None:
        whose = self._whose(ref)
        snap = self.orders.get(ref)
        if whose is None or snap is None:
            return
        self.changed.emit(self._seen(whose, snap.instrument, snap.why))

    def _on_fill(self, fill: FillSnapshot) -> None:
        whose = self._whose(fill.ref)
        if whose is None:
            return
        # Booked without its commission, which status() adds from the store: the report
        # comes after the fill, and the store completes the fill in place.
        booked = self.ledgers.setdefault(whose[1], StrategyLedger())
        if booked.add(dataclasses.replace(fill, commission=math.nan)) is None:
            return
        key = self._seen(whose, fill.instrument)
        self._execs.setdefault(key, []).append(fill.exec_id)
        self.changed.emit(key)

    def _mark(self, con_id: int) -> float:
        q = self.quotes.get(con_id)
        if q is None:
            return math.nan
        return q.last if not math.isnan(q.last) else q.mid

    def statuses(self) -> list[StrategyStatus]:
        """Every remote strategy seen today, in the order first seen."""
        return [self.status(key) for key in self.strategies]

    def status(self, key: str) -> StrategyStatus:
        """One remote strategy's row (StrategyError for a key never seen)."""
        whose = self.strategies.get(key)
        if whose is None:
            raise StrategyError(f"No strategy named {key!r} is loaded.")
        name, client = whose
        ledger = self.ledgers.get(client, StrategyLedger())
        held = ledger.positions(name)
        own = f"strategy:{name}#{client}."
        working = sum(1 for o in self.orders.live() if o.ref.startswith(own))
        return StrategyStatus(
            name=key,
            path=f"runs elsewhere as API client {client} (ibdesk run)",
            # Its state is where it runs: the desk knows only its orders and fills.
            state=StrategyState.STOPPED,
            reason=f"runs elsewhere as API client {client}: watched from its orders and fills",
            instruments=tuple(self._traded.get(key, ())),
            position=sum(held.values()),
            positions=tuple((self._symbol(c), q) for c, q in held.items()),
            held=tuple(held.items()),
            pnl=ledger.pnl(name, self._mark) - self._commissions(key),
            working=working,
            last_why=self._last_why.get(key, ""),
            client_id=client,
        )

    def _commissions(self, key: str) -> float:
        fills = self.orders.fills
        paid = (fills[e].commission for e in self._execs.get(key, ()) if e in fills)
        return sum(c for c in paid if not math.isnan(c))

    def _symbol(self, con_id: int) -> str:
        inst = self.instruments.get(con_id)
        return inst.local_symbol if inst is not None else str(con_id)


class WatchedStrategies:
    """The strategies panel's view: the desk's own strategies (the runner's controls) and,
    after them, the remote ones, read-only. A control asked of a remote row is refused with
    why, as the runner refuses what it cannot do.

    Args:
        runner: the desk's own strategy runner.
        remote: the strategies other clients trade.
    """

    def __init__(self, runner: StrategyOps, remote: RemoteStrategies) -> None:
        self.runner = runner
        self.remote = remote
        self.changed = events.new("watchedStrategyChanged")
        runner.changed += self.changed.emit
        remote.changed += self.changed.emit

    def close(self) -> None:
        """Stop relaying the two sources' changes."""
        self.runner.changed -= self.changed.emit
        self.remote.changed -= self.changed.emit

    def _refuse(self, key: str) -> None:
        if key in self.remote.strategies:
            name, client = self.remote.strategies[key]
            raise StrategyError(
                f"{name} runs elsewhere (ibdesk run, API client {client}): start, stop and "
                "change it where it runs. A KILL here still cancels its orders."
            )

    def load(self, path: str | Path) -> list[str]:
        """Load a file into the desk's own runner."""
        return self.runner.load(path)

    def reload(self, name: str) -> list[str]:
        """Read a stopped strategy's file again (the desk's own only)."""
        self._refuse(name)
        return self.runner.reload(name)

    def set_params(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change a stopped strategy's parameters (the desk's own only)."""
        self._refuse(name)
        return self.runner.set_params(name, values)

    async def start(self, name: str) -> None:
        """Start a strategy (the desk's own only)."""
        self._refuse(name)
        await self.runner.start(name)

    def pause(self, name: str, why: str = "paused by the trader") -> None:
        """PAUSE a strategy (the desk's own only)."""
        self._refuse(name)
        self.runner.pause(name, why)

    def resume(self, name: str) -> None:
        """Resume a strategy (the desk's own only)."""
        self._refuse(name)
        self.runner.resume(name)

    def stop(self, name: str, flatten: bool = False, why: str = "stopped by the trader") -> None:
        """STOP a strategy (the desk's own only)."""
        self._refuse(name)
        self.runner.stop(name, flatten, why)

    def hand_over(self, name: str) -> None:
        """Hand a strategy over to the trader (the desk's own only)."""
        self._refuse(name)
        self.runner.hand_over(name)

    def state_of(self, name: str) -> StrategyState | None:
        """A strategy of the desk's own runner's state (None for remote ones)."""
        return self.runner.state_of(name)

    def traders_of(self, con_id: int) -> list[tuple[str, StrategyState, float]]:
        """The desk's own strategies trading an instrument."""
        return self.runner.traders_of(con_id)

    def statuses(self) -> list[StrategyStatus]:
        """The desk's own strategies, then the remote ones."""
        return [*self.runner.statuses(), *self.remote.statuses()]

    def status(self, name: str) -> StrategyStatus:
        """One row, the desk's own or a remote one."""
        if name in self.remote.strategies:
            return self.remote.status(name)
        return self.runner.status(name)
