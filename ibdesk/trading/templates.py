"""Bracket templates as orders: the instrument's template on one side, entered at the touch.

The ticket's Ctrl+B / Ctrl+S and its Quick strip send this; so can anything else that holds
the desk (a chart, a strategy, the headless runner), because it is built here from the same
rules the ticket evaluates, not from the ticket's widgets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ibdesk.config import BracketTemplate, Settings
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import BracketIntent, OrderType, Side, Source
from ibdesk.trading.checks import limit_for
from ibdesk.trading.ticket import TicketForm, TicketMarket, TicketRules, evaluate


def template_keys(templates: Mapping[str, BracketTemplate], inst: Instrument) -> list[str]:
    """The templates that fit an instrument, its own first, then its type's, then ``*``."""
    keys = [inst.symbol.upper(), inst.display.upper(), f"*{inst.sec_type.value}", "*"]
    return list(dict.fromkeys(k for k in keys if k in templates))


def ticket_rules(settings: Settings, inst: Instrument | None) -> TicketRules:
    """The config's limits the ticket checks an instrument's order against."""
    risk, ticket = settings.risk, settings.ticket
    max_qty = limit_for(risk.max_order_qty, inst) if inst is not None else 0.0
    return TicketRules(ticket.off_tick == "round", max_qty, risk.collar_pct, risk.collar_ticks)


def price_field(value: float, tick: float) -> str:
    """A price as the ticket's fields show it: the tick's decimals (6800.25, 71.20)."""
    decimals = max(0, len(f"{tick:.10f}".rstrip("0").partition(".")[2]))
    return f"{value:.{decimals}f}"


def template_form(
    inst: Instrument,
    side: Side,
    template: BracketTemplate,
    market: TicketMarket,
    source: Source,
    qty: float | None = None,
) -> TicketForm:
    """The ticket's form for a template bracket: a limit at the touch (bid to buy, ask to
    sell), the template's exits and quantity (or ``qty``)."""
    touch = market.join(side)
    return TicketForm(
        inst,
        side,
        f"{template.qty if qty is None else qty:g}",
        OrderType.LIMIT,
        price_field(touch, inst.min_tick) if math.isfinite(touch) else "",
        bracket=True,
        take_profit=f"{template.take_profit:g}",
        stop_loss=f"{template.stop_loss:g}",
        exits=template.unit,
        source=source,
    )


def template_bracket(
    settings: Settings,
    templates: Mapping[str, BracketTemplate],
    inst: Instrument,
    side: Side,
    market: TicketMarket,
    source: Source,
    template_key: str | None = None,
    qty: float | None = None,
) -> BracketIntent:
    """A template bracket, validated as the ticket validates it.

    Raises:
        ValueError: no template fits, no quote to enter at, or a field the ticket would refuse
            (a quantity over the limit), in the ticket's words.
    """
    keys = template_keys(templates, inst)
    key = template_key or (keys[0] if keys else None)
    if key is None or key not in templates:
        raise ValueError(f"No bracket template for {inst.display}: add one (Ticket > Edit…).")
    if not math.isfinite(market.join(side)):
        raise ValueError(f"No quote for {inst.display} yet: nothing to enter at.")
    form = template_form(inst, side, templates[key], market, source, qty)
    result = evaluate(form, market, ticket_rules(settings, inst))
    if not isinstance(result.intent, BracketIntent) or result.errors:
        raise ValueError(next(iter(result.errors.values()), "The template makes no bracket."))
    return result.intent
