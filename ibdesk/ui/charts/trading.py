"""Trading from a chart: drag an order line to modify it, click to place, or pre-fill the ticket.

Everything goes through the desk's gate with the source ``chart`` (tick-rounded, checked, and
confirmed exactly as the ticket would confirm it). Mouse trading (clicks and drags) works only
while the chart is **armed**, which it never is when it opens: a trader panning a chart must
not be able to move a stop by accident. The context menu only pre-fills the ticket (nothing is
sent from it), so it works armed or not.

What a click or a drag means is decided in :mod:`ibdesk.trading.chart_orders` (no Qt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QWidget

from ibdesk.desk.api import StrategyOps, TradingDesk
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import GateDecision, OrderIntent
from ibdesk.domain.ticket import TicketRequest
from ibdesk.tasks import TaskGroup
from ibdesk.trading.chart_orders import CHART, click_intent, moved_prices
from ibdesk.trading.checks import price_text
from ibdesk.trading.templates import template_keys
from ibdesk.ui.charts.overlays import OrderLineItem
from ibdesk.ui.confirm import (
    OrderConfirmation,
    ask_to_confirm,
    pause_before_sending,
    running_traders,
)

log = logging.getLogger("ibdesk.ui.charts")

#: Says something to the trader: (text, tone) with tone "ok", "warn", "error" or "".
Notify = Callable[[str, str], None]


def template_qty(desk: TradingDesk, inst: Instrument) -> float:
    """The quantity of the instrument's bracket template (its root's, its type's, any)."""
    keys = template_keys(desk.templates, inst)
    return float(desk.templates[keys[0]].qty) if keys else 1.0


class ChartTrader:
    """A chart's trading actions, each a small async operation a test can call too.

    Args:
        desk: the gate and the stores.
        parent: the widget confirmations are shown over.
        on_ticket: pre-fills the order ticket.
        notify: says the outcome to the trader.
        strategies: the runner, so a confirmation can offer to pause a strategy the order
            may fight.
    """

    def __init__(
        self,
        desk: TradingDesk,
        parent: QWidget,
        on_ticket: Callable[[TicketRequest], None],
        notify: Notify,
        strategies: StrategyOps | None = None,
    ) -> None:
        self.desk = desk
        self.strategies = strategies
        self.parent = parent
        self.on_ticket = on_ticket
        self.notify = notify
        self.armed = False
        self.qty = 1.0
        self.confirmation: OrderConfirmation | None = None
        """ the confirmation on screen, if one is (tests answer it) """
        self.tasks = TaskGroup("chart trading", log)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run an operation on the loop; its failure is logged, never lost."""
        return self.tasks.spawn(coro)

    def cancel_all(self) -> None:
        """The chart is closing: drop what is under way, a confirmation on screen included
        (its order is not sent)."""
        if self.confirmation is not None:
            self.confirmation.reject()
        self.tasks.cancel_all()

    # ---- drag to modify -----------------------------------------------------------------------

    async def modify(self, item: OrderLineItem, price: float) -> GateDecision | None:
        """Move an order to where its line was dropped (through the gate)."""
        line = item.line
        order = line.order
        if not self.armed:
            item.snap_back()
            return None
        changes = moved_prices(line, price)
        intent = OrderIntent(
            order.instrument,
            order.side,
            order.remaining or order.qty,
            order.order_type,
            CHART,
            limit_price=changes.get("limit_price", order.limit_price),
            stop_price=changes.get("stop_price", order.stop_price),
            tif=order.tif,
            account=order.account,
        )
        text = f"{order.side.value} {order.remaining:g} {order.instrument.display} "
        text += f"{order.order_type.value} to {price_text(order.instrument, price)}"
        verdict = self.desk.judge_modify(order.ref, source=CHART, **changes)
        if not verdict.accepted:  # never ask to confirm what the gate will refuse
            item.snap_back()
            self.notify(f"Not changed ({verdict.check}): {verdict.reason}", "error")
            return verdict
        done = await self._confirmed("Confirm order change", text, intent)
        if done is None:
            item.snap_back()
            self.notify("Not changed: you cancelled at the confirmation.", "warn")
            return None
        decision = self.desk.modify_order(order.ref, source=CHART, **changes)
        if decision.accepted:
            self.notify(f"{done}Changed: {text}.", "ok")
        else:
            item.snap_back()
            self.notify(f"{done}Not changed ({decision.check}): {decision.reason}", "error")
        return decision

    # ---- click to place -----------------------------------------------------------------------

    async def click(
        self, inst: Instrument, price: float, market: float, stop: bool
    ) -> GateDecision | None:
        """Place the order a click at ``price`` means; nothing unless armed."""
        if not self.armed:
            self.notify("Arm the chart to trade by clicking.", "")
            return None
        intent = click_intent(inst, price, market, stop, self.qty)
        if intent is None:
            self.notify("No order: no market price to compare the click with.", "warn")
            return None
        price_of = intent.limit_price if intent.limit_price is not None else intent.stop_price
        text = f"{intent.side.value} {intent.qty:g} {inst.display} {intent.order_type.value}"
        text += f" {price_text(inst, price_of or price)}"
        verdict = self.desk.judge(intent)
        if not verdict.accepted:
            self.notify(f"Denied ({verdict.check}): {verdict.reason}", "error")
            return verdict
        done = await self._confirmed("Confirm order", text, intent)
        if done is None:
            self.notify("Not sent: you cancelled at the confirmation.", "warn")
            return None
        decision = self.desk.place(intent)
        if decision.accepted:
            self.notify(f"{done}Sent: {text}.", "ok")
        else:
            self.notify(f"{done}Denied ({decision.check}): {decision.reason}", "error")
        return decision

    async def _confirmed(self, title: str, text: str, intent: OrderIntent) -> str | None:
        """Ask if the order needs it: None if the trader cancelled, else what was done
        first ("Paused Probe. ", or "")."""
        reasons = self.desk.confirm_reasons(intent)
        if not reasons:
            return ""
        pausable = running_traders(self.strategies, intent)
        box = ask_to_confirm(self.parent.window(), title, text, reasons, pausable)
        self.confirmation = box
        try:
            if not await box.answer:
                return None
        finally:
            self.confirmation = None
        return pause_before_sending(box, self.strategies, "chart")
