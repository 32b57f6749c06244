"""The running desk as its users see it: one copy of its operations, by role.

The window's panels, the kill switch's bar, the charts, the blotter (and the strategy runner
and the headless runner to come) each ask for the roles they use, never for the desk itself:
``ibdesk.desk.core.Desk`` implements all of them, a test may fake one. Every order, modify and
cancel names its ``Source``; each goes through the desk's one OrderGate.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from ibdesk.domain.orders import BLOTTER, Source
from ibdesk.trading.ports import OrderDoor

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from eventkit import Event

    from ibdesk.alerts.hub import AlertHub
    from ibdesk.alerts.push import PushService
    from ibdesk.clock import Clock
    from ibdesk.config import AlertSettings, BracketTemplate, ConnectionSettings, Settings
    from ibdesk.domain.alerts import Alert
    from ibdesk.domain.bars import Timeframe
    from ibdesk.domain.instruments import Instrument
    from ibdesk.domain.orders import BracketIntent, GateDecision, OrderIntent, Side
    from ibdesk.domain.restarts import RestartView
    from ibdesk.domain.risk import KillReport, StateChange, TradingState
    from ibdesk.domain.roll import RollWarning
    from ibdesk.domain.strategy import StrategyState, StrategyStatus
    from ibdesk.domain.ticket import WhatIf
    from ibdesk.state.account import AccountStore, PositionStore
    from ibdesk.state.bars import BarKey, BarStore
    from ibdesk.state.link import LinkStore
    from ibdesk.state.orders import OrderStore
    from ibdesk.state.quotes import QuoteStore, WatchlistStore
    from ibdesk.trading.usage import Usage

__all__ = [
    "BLOTTER",
    "AlertsView",
    "DeskApi",
    "DeskStores",
    "MarketOps",
    "OrderOps",
    "RestartsView",
    "SafetyOps",
    "SafetyView",
    "SessionOps",
    "Source",
    "StrategyOps",
    "TradingDesk",
]


class SafetyView(Protocol):
    """The trading state and the kill switch's reports, to show (ibdesk.trading.killswitch)."""

    changed: Event
    """ emits a StateChange when the trading state changes """
    reported: Event
    """ emits a KillReport when a kill or flatten has verified """
    last_report: KillReport | None
    """ the last kill's or flatten's verification """

    @property
    def last_change(self) -> StateChange:
        """Who set the state in force, when and why."""


class AlertsView(Protocol):
    """The desk's alerts, for the window's tray, sounds and test dialog (ibdesk.alerts)."""

    settings: AlertSettings
    hub: AlertHub
    push: PushService | None
    push_off: str

    def test_alert(self) -> Alert:
        """The test alert."""


class RestartsView(Protocol):
    """TWS's daily restart as the desk expects it (ibdesk.desk.restarts.RestartWatch)."""

    changed: Event
    """ emits a RestartView when the stage changes """

    def view(self) -> RestartView:
        """The stage and the schedule now (a few date computations: call it at most 1/s)."""

    def acknowledge(self) -> None:
        """The trader read the report after the restart: held strategies go on."""


class DeskStores(Protocol):
    """What the desk knows, as stores that say when they change."""

    settings: Settings
    clock: Clock
    """ the desk's time (a replay's, a test's) """

    @property
    def templates(self) -> Mapping[str, BracketTemplate]:
        """The bracket templates in force, by root, type or ``*``."""

    link: LinkStore
    quotes: QuoteStore
    watchlist: WatchlistStore
    accounts: AccountStore
    positions: PositionStore
    orders: OrderStore
    bars: BarStore

    @property
    def switch(self) -> SafetyView:
        """The trading state and the kill switch's reports."""

    @property
    def alerts(self) -> AlertsView:
        """Fills, halts and disconnects told to the trader."""


class MarketOps(Protocol):
    """Instruments and their data."""

    async def add_symbol(self, text: str) -> str:
        """Resolve and watch a symbol; what was added (SymbolError: why not)."""

    def remove_symbol(self, con_id: int) -> None:
        """Stop watching an instrument."""

    async def ticket_instrument(self, text: str) -> Instrument:
        """Resolve the ticket's symbol and stream its quotes."""

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """Resolve a chart's symbol and start its bars (in ``bars`` on return)."""

    def close_chart(self, key: BarKey) -> None:
        """A chart stopped showing a series."""

    def roll_warning(self, instrument: Instrument) -> RollWarning | None:
        """A future's roll warning today (None: not within the warning days)."""


class OrderOps(OrderDoor, Protocol):
    """Orders, through the one gate (place, modify_order, cancel_order: ``OrderDoor``), and
    what the gate would say of them."""

    def judge(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """What the gate would decide for an order now (nothing is sent)."""

    def refuses_all_orders(self) -> str:
        """Why every order is refused, whatever it is ("" when orders may go): read-only
        mode, a replay. The ticket and the Quick strip say it before anything is tried."""

    def judge_modify(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """What the gate would decide for a modify now (nothing is sent)."""

    def cancel_all(self, source: Source = BLOTTER) -> GateDecision:
        """Cancel every order in the account (a global cancel)."""

    def confirm_reasons(self, intent: OrderIntent | BracketIntent) -> list[str]:
        """Why an order needs the trader's confirmation before it goes (empty: none)."""

    async def what_if(self, intent: OrderIntent | BracketIntent) -> WhatIf:
        """IB's margin and commission for a whole order or bracket."""

    def set_templates(self, templates: Mapping[str, BracketTemplate]) -> None:
        """The bracket templates now in force (the ticket's editor saved them)."""

    def template_bracket(
        self,
        instrument: Instrument,
        side: Side,
        source: Source,
        template_key: str | None = None,
        qty: float | None = None,
    ) -> BracketIntent:
        """A bracket template (the instrument's own unless ``template_key`` names another) on
        ``side``, entered at the touch; ``qty`` instead of the template's. ValueError: why
        not (no quote yet, no template, a quantity over the limit)."""


class SafetyOps(Protocol):
    """The kill switch and the limits."""

    def kill(self, who: str) -> asyncio.Task[KillReport]:
        """KILL: halt, purge, global cancel, verify."""

    def flatten_all(self, who: str) -> asyncio.Task[KillReport]:
        """Kill, close every position, verify flat."""

    def flatten_position(self, con_id: int, who: str = ...) -> asyncio.Task[KillReport]:
        """Close one position."""

    def rearm(self, who: str, reason: str, to: TradingState = ...) -> StateChange:
        """Back to ACTIVE (or HALTED to REDUCING) with a typed reason."""

    def reduce(self, who: str) -> StateChange:
        """REDUCING: exits only."""

    def retry_kill(self, who: str) -> asyncio.Task[KillReport]:
        """Cancel again, verify again."""

    def risk_usage(self) -> list[Usage]:
        """Every limit and its current use."""


class StrategyOps(Protocol):
    """The strategy runner's controls (ibdesk.strategies.runner.StrategyRunner): what the
    strategies panel, the command line and the headless runner drive. Every method raises
    ``StrategyError`` with a reason in words when it cannot do what it is asked."""

    changed: Event
    """ emits a strategy's name when its status changes """

    def load(self, path: str | Path) -> list[str]:
        """Load the strategies a file defines (STOPPED); their names."""

    def reload(self, name: str) -> list[str]:
        """Read a stopped strategy's file again."""

    def set_params(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change a stopped strategy's parameters (typed as their defaults)."""

    async def start(self, name: str) -> None:
        """Start (or resume) a strategy."""

    def pause(self, name: str, why: str = ...) -> None:
        """PAUSE: no new risk; exits still pass."""

    def resume(self, name: str) -> None:
        """From PAUSED back to RUNNING."""

    def stop(self, name: str, flatten: bool = False, why: str = ...) -> None:
        """STOP (and flatten): on_stop, its orders cancelled (its position closed)."""

    def hand_over(self, name: str) -> None:
        """Its orders and position become the trader's; it stops."""

    def state_of(self, name: str) -> StrategyState | None:
        """A strategy's state (None: not loaded)."""

    def traders_of(self, con_id: int) -> list[tuple[str, StrategyState, float]]:
        """(name, state, its own position) of the running or paused strategies that trade
        an instrument: whom a manual order on it may fight."""

    def statuses(self) -> list[StrategyStatus]:
        """Every loaded strategy, as the panel shows it."""

    def status(self, name: str) -> StrategyStatus:
        """One strategy, as the panel shows it."""


class SessionOps(Protocol):
    """The connection."""

    def reconnect(self, connection: ConnectionSettings) -> None:
        """Connect somewhere else."""

    def versions(self) -> dict[str, str]:
        """Component versions for a bug report."""


class TradingDesk(DeskStores, MarketOps, OrderOps, Protocol):
    """What the ticket and the charts trade through."""


class DeskApi(DeskStores, MarketOps, OrderOps, SafetyOps, SessionOps, Protocol):
    """Every role: what the window hands its parts."""

    @property
    def strategies(self) -> StrategyOps:
        """The strategy runner."""

    @property
    def restarts(self) -> RestartsView:
        """TWS's daily restart: the countdown, the pause, the expected disconnect."""

    @property
    def strategy_rows(self) -> StrategyOps:
        """What the strategies panel lists: the runner's strategies, and (when the desk
        watches other clients) the remote ones, read-only."""
