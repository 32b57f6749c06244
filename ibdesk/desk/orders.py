"""The desk's order operations (``api.OrderOps``): every one goes through the one gate.

The policies they need live in the trading layer (what needs confirming, what the template
bracket is, what the limits' use is); here they are applied to the desk's stores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Mapping

from ibdesk.broker.orders import OrderRouter
from ibdesk.broker.session import BrokerSession
from ibdesk.clock import Clock
from ibdesk.config import BracketTemplate, Settings
from ibdesk.desk.safety import Safety
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import (
    BLOTTER,
    BracketIntent,
    CancelIntent,
    GateDecision,
    ModifyIntent,
    OrderIntent,
    Side,
    Source,
)
from ibdesk.domain.risk import TradingState
from ibdesk.domain.ticket import WhatIf
from ibdesk.state.account import PositionStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore
from ibdesk.strategies.runner import StrategyRunner
from ibdesk.trading.confirm import ConfirmPolicy, reasons_to_confirm
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import READ_ONLY, OrderGate
from ibdesk.trading.ids import OrderIdError, OrderIds
from ibdesk.trading.templates import template_bracket
from ibdesk.trading.ticket import TicketMarket
from ibdesk.trading.usage import Usage, positions_by_root, usage
from ibdesk.trading.validate import stop_leg


class DeskOrders:
    """Order operations over the desk's gate and stores (a part of ``core.Desk``)."""

    settings: Settings
    clock: Clock
    session: BrokerSession
    quotes: QuoteStore
    positions: PositionStore
    orders: OrderStore
    router: OrderRouter
    ids: OrderIds
    gate: OrderGate
    safety: Safety
    strategies: StrategyRunner
    templates: dict[str, BracketTemplate]

    # ---- through the gate ---------------------------------------------------------------------

    def place(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Send an order or bracket through the gate."""
        return self.gate.submit(intent)

    def judge(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """What the gate would decide for an order now (the ticket and the chart ask before
        they offer Send); nothing is sent."""
        return self.gate.judge(intent)

    def refuses_all_orders(self) -> str:
        """Why every order is refused here, whatever it is ("" when orders may go)."""
        return READ_ONLY if self.gate.read_only else ""

    def modify_order(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """Change a working order in place (the blotter, a chart's drag, a strategy)."""
        return self.gate.modify(ModifyIntent(ref, source, qty, limit_price, stop_price))

    def judge_modify(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """What the gate would decide for a modify now; nothing is sent."""
        return self.gate.judge_modify(ModifyIntent(ref, source, qty, limit_price, stop_price))

    def cancel_order(self, ref: str, source: Source = BLOTTER) -> GateDecision:
        """Cancel one order."""
        return self.gate.cancel(CancelIntent(ref, source))

    def cancel_all(self, source: Source = BLOTTER) -> GateDecision:
        """Global cancel: every order of the account, every client's."""
        return self.gate.cancel_all(source)

    # ---- before sending -----------------------------------------------------------------------

    def confirm_reasons(self, intent: OrderIntent | BracketIntent) -> list[str]:
        """Why an order needs the trader's confirmation before it goes (empty: it does not):
        a LIVE account (per ``[ticket] confirm``), a fat-finger size or price, or a manual
        order on an instrument a running strategy trades (it may fight the strategy)."""
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        policy = ConfirmPolicy.from_settings(self.settings.risk, self.settings.ticket)
        account = entry.account or self.session.account
        market = self.last_price(entry.instrument.con_id)
        reasons = reasons_to_confirm(entry, account=account, market=market, policy=policy)
        if entry.source.kind != "strategy":
            for name, state, held in self.strategies.traders_of(entry.instrument.con_id):
                side = "flat" if not held else f"{'long' if held > 0 else 'short'} {abs(held):g}"
                reasons.append(
                    f"{entry.instrument.display} is traded by strategy {name} "
                    f"({state.value.lower()}, {side}): your order may fight it."
                )
        return reasons

    async def what_if(self, intent: OrderIntent | BracketIntent) -> WhatIf:
        """IB's margin and commission for an order, or a whole bracket, placing nothing.

        A bracket is asked as its entry and its exit at the stop (the worst case), each on
        its own and at once: IB answers a what-if order by order, and the children of a
        what-if parent have no parent at the broker to hang on. The entry gives the margin
        (the exits only reduce the position) and its commission, the exit its own.

        Raises:
            ConnectionError: not connected. TimeoutError / LookupError: no answer for the
                order (for a bracket's entry; an exit without an answer is NaN), or the desk
                is HALTED (nothing is asked).
        """
        if not self.router.connected:
            raise ConnectionError("Not connected to TWS: no what-if preview.")
        if self.gate.state is TradingState.HALTED:
            # A what-if travels as a placeOrder: a halted desk sends nothing but cancels.
            raise LookupError("Trading is HALTED: no what-if preview until a re-arm.")
        entry = intent.entry if isinstance(intent, BracketIntent) else intent
        # The library numbers each what-if with its next request id: taking one of ours
        # first puts those ids above every order id this client ever used.
        try:
            self.ids.take(1)
        except OrderIdError as exc:
            raise LookupError(str(exc)) from exc
        if not isinstance(intent, BracketIntent):
            return await self.router.what_if(entry)
        entry_answer, exit_answer = await asyncio.gather(
            self.router.what_if(entry),
            self.router.what_if(stop_leg(intent)),
            return_exceptions=True,
        )
        if isinstance(entry_answer, BaseException):
            raise entry_answer
        if isinstance(exit_answer, (ConnectionError, TimeoutError, LookupError)):
            return dataclasses.replace(entry_answer, exit_commission=math.nan)
        if isinstance(exit_answer, BaseException):
            raise exit_answer
        return dataclasses.replace(entry_answer, exit_commission=exit_answer.commission)

    def template_bracket(
        self,
        instrument: Instrument,
        side: Side,
        source: Source,
        template_key: str | None = None,
        qty: float | None = None,
    ) -> BracketIntent:
        """A bracket template on ``side`` entered at the touch, as the ticket would build it
        (ValueError: no template, no quote, a field the ticket would refuse)."""
        quote = self.quotes.get(instrument.con_id)
        market = TicketMarket() if quote is None else TicketMarket(quote.bid, quote.ask, quote.last)
        return template_bracket(
            self.settings, self.templates, instrument, side, market, source, template_key, qty
        )

    def set_templates(self, templates: Mapping[str, BracketTemplate]) -> None:
        """The bracket templates now in force (the ticket's editor saved new ones)."""
        self.templates = dict(templates)

    # ---- what the checks and the Risk panel see -----------------------------------------------

    def risk_usage(self) -> list[Usage]:
        """Every limit and its use now (the Risk panel polls this)."""
        account = self.session.account
        held = positions_by_root(self.positions.positions.values(), account)
        return usage(self.settings.risk, self.gate.full_context(), account, held)

    def last_price(self, con_id: int) -> float:
        """An instrument's last price, else its mid; NaN when it has no quote."""
        quote = self.quotes.get(con_id)
        if quote is None:
            return math.nan
        return quote.last if not math.isnan(quote.last) else quote.mid

    def check_context(self) -> CheckContext:
        """What the pre-trade checks look at now."""

        def position(account: str, con_id: int) -> float:
            # An order without an account goes to the connection's default one.
            pos = self.positions.positions.get((account or self.session.account, con_id))
            return pos.qty if pos is not None else 0.0

        return CheckContext(
            self.clock(),
            position,
            self.orders.live(),
            self.last_price,
            daily_pnl=self.safety.daily_pnl,
            loss_limit_waived=self.safety.loss_limit.waived,
        )
