"""The strategy API: what a strategy file writes, and all it can reach.

A strategy is a class deriving from :class:`Strategy` in a Python file. It reads the market
and its own book through the methods below and acts only through them: every order goes
through the desk's one OrderGate with the source ``strategy:<name>``, and the gate, not the
strategy, decides what a paused or halted strategy may send. These names are a promise to
users: they are extended, never renamed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ibdesk.domain.instruments import Instrument
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, Side
from ibdesk.strategies.handles import BarEvent, Bars, Handle, InstrumentLike

if TYPE_CHECKING:
    from ibdesk.strategies.context import StrategyContext

Callback = None | Awaitable[None]
""" a callback returns nothing, or is ``async def`` """


class Strategy:
    """Derive from this, name your instruments, and override the callbacks you need.

    Class attributes:
        name: a unique id (the class name by default); orders carry ``strategy:<name>``.
        instruments: symbols as the watchlist takes them (``"ES"`` is the front month).
        params: defaults, editable while stopped (and with ``--param key=value``); read
            them as ``self.p["key"]``. A value must keep its default's type.
        bar_size: ``"1 min"``, ``"5 mins"``... for ``on_bar`` and :meth:`bars` (None: no bars).
        timer: seconds between ``on_timer`` calls, at least 0.05 (None: no timer).

    Callbacks (plain or ``async def``): ``on_start``, ``on_quote(quote)``, ``on_bar(event)``
    (closed bars), ``on_order(order)`` (its own orders' changes), ``on_fill(fill)``,
    ``on_timer``, ``on_stop``. An exception in one halts this strategy only and cancels its
    orders.
    """

    name: ClassVar[str] = ""
    instruments: ClassVar[tuple[str, ...] | list[str]] = ()
    params: ClassVar[Mapping[str, Any]] = {}
    bar_size: ClassVar[str | None] = None
    timer: ClassVar[float | None] = None

    def __init__(self, context: StrategyContext, params: Mapping[str, Any]) -> None:
        self._ctx = context
        self.p: dict[str, Any] = dict(params)
        """ this run's parameters: the defaults with the trader's changes """
        self.log: logging.Logger = logging.getLogger(f"ibdesk.strategy.{context.name}")

    @classmethod
    def id(cls) -> str:
        """The strategy's unique name."""
        return cls.name or cls.__name__

    # ---- callbacks (override what you need) -------------------------------------------------

    def on_start(self) -> Callback:
        """Started (instruments resolved, bars loaded)."""

    def on_quote(self, quote: Quote) -> Callback:
        """A new quote of one of its instruments (``quote.con_id``)."""

    def on_bar(self, event: BarEvent) -> Callback:
        """A bar of one of its instruments closed."""

    def on_order(self, order: OrderSnapshot) -> Callback:
        """One of its orders changed state."""

    def on_fill(self, fill: FillSnapshot) -> Callback:
        """One of its orders filled (partly)."""

    def on_timer(self) -> Callback:
        """Every ``timer`` seconds."""

    def on_stop(self) -> Callback:
        """Stopping: its working orders are cancelled after this returns."""

    # ---- actions: every one through the gate -------------------------------------------------

    def buy(
        self,
        instrument: InstrumentLike,
        qty: float,
        limit: float | None = None,
        stop: float | None = None,
        why: str = "",
    ) -> Handle:
        """Buy: market, limit (``limit``), stop (``stop``) or stop-limit (both)."""
        return self._ctx.order(instrument, Side.BUY, qty, limit, stop, why)

    def sell(
        self,
        instrument: InstrumentLike,
        qty: float,
        limit: float | None = None,
        stop: float | None = None,
        why: str = "",
    ) -> Handle:
        """Sell: market, limit, stop or stop-limit, as :meth:`buy`."""
        return self._ctx.order(instrument, Side.SELL, qty, limit, stop, why)

    def bracket(
        self,
        instrument: InstrumentLike,
        side: Side,
        qty: float,
        entry: float | None = None,
        take_profit: float = 0.0,
        stop_loss: float = 0.0,
        why: str = "",
    ) -> Handle:
        """A native bracket: entry (limit at ``entry``, market when None), take-profit and
        stop-loss, one-cancels-other at the broker."""
        return self._ctx.bracket(instrument, side, qty, entry, take_profit, stop_loss, why)

    def modify(
        self,
        handle: Handle | str,
        qty: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> Handle:
        """Change one of its working orders (a handle, or a ref from ``orders()``)."""
        return self._ctx.modify(handle, qty, limit, stop)

    def cancel(self, handle: Handle | str) -> Handle:
        """Cancel one of its orders (every order of a bracket handle)."""
        return self._ctx.cancel(handle)

    def flatten(self, why: str = "flatten") -> list[Handle]:
        """Cancel its working orders and close its positions at market."""
        return self._ctx.flatten(why)

    # ---- reads ----------------------------------------------------------------------------------

    def instrument(self, instrument: InstrumentLike) -> Instrument:
        """One of its instruments, resolved (``"ES"`` -> the ES front month)."""
        return self._ctx.instrument(instrument)

    def position(self, instrument: InstrumentLike) -> float:
        """Its own signed position (from its own fills, not the account's)."""
        return self._ctx.position(instrument)

    def quote(self, instrument: InstrumentLike) -> Quote | None:
        """The latest quote (None before the first)."""
        return self._ctx.quote(instrument)

    def bars(self, instrument: InstrumentLike) -> Bars:
        """Its bars at ``bar_size`` as numpy arrays (empty without ``bar_size``)."""
        return self._ctx.bars(instrument)

    def orders(self) -> list[OrderSnapshot]:
        """Its live orders."""
        return self._ctx.orders()

    def pnl(self) -> float:
        """Its P&L today: realized plus open, from its own fills (in the account currency)."""
        return self._ctx.pnl()
