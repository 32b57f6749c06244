"""What a chart draws for orders and positions, and what its clicks and drags mean."""

from __future__ import annotations

import math

import pytest

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.order_lines import LineRole, order_lines, position_label
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.pnl import HOLD, PnlTrail
from ibdesk.trading.chart_orders import click_intent, moved_prices, ticket_requests

ES = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
CL = Instrument(2, "CL", SecType.FUTURE, "NYMEX", "USD", "CLF7", 1000, 0.01, "20261218")


def order(
    ref: str,
    side: Side,
    qty: float,
    kind: OrderType,
    limit: float | None = None,
    stop: float | None = None,
    parent: str = "",
    state: OrderState = OrderState.WORKING,
    inst: Instrument = ES,
    filled: float = 0.0,
) -> OrderSnapshot:
    return OrderSnapshot(
        ref, inst, side, qty, kind, state, "", limit, stop, parent_ref=parent, filled=filled
    )


def by_ref(lines: list) -> dict:
    return {ln.ref: ln for ln in lines}


def test_a_bracket_has_an_entry_a_target_and_a_stop_with_their_money() -> None:
    orders = [
        order("e", Side.BUY, 2, OrderType.LIMIT, limit=6790),
        order("tp", Side.SELL, 2, OrderType.LIMIT, limit=6800, parent="e"),
        order("sl", Side.SELL, 2, OrderType.STOP, stop=6785, parent="e"),
    ]
    lines = by_ref(order_lines(orders, ES.con_id, 0.0, math.nan))
    assert [lines[r].role for r in ("e", "tp", "sl")] == [
        LineRole.ENTRY,
        LineRole.TAKE_PROFIT,
        LineRole.STOP,
    ]
    assert lines["e"].label == "BUY 2 LMT · risk $500.00"
    assert lines["tp"].label == "SELL 2 LMT · target +$1,000.00"
    assert lines["sl"].label == "SELL 2 STP · risk $500.00"
    assert (lines["e"].moves, lines["sl"].moves) == ("limit", "stop")


def test_exits_of_a_position_are_measured_from_its_average_price() -> None:
    orders = [
        order("stop", Side.SELL, 1, OrderType.STOP, stop=6780),
        order("target", Side.SELL, 1, OrderType.LIMIT, limit=6812.5),
        order("add", Side.BUY, 1, OrderType.LIMIT, limit=6790),
    ]
    lines = by_ref(order_lines(orders, ES.con_id, 2.0, 6800.0))
    assert lines["stop"].role is LineRole.STOP and lines["stop"].at_stake == 1000.0
    assert lines["target"].role is LineRole.TAKE_PROFIT and lines["target"].at_stake == 625.0
    assert lines["add"].label == "BUY 1 LMT · no stop"


def test_the_money_counts_only_what_is_left_to_fill() -> None:
    partly = order("s", Side.SELL, 3, OrderType.STOP, stop=59.5, inst=CL, filled=1)
    [line] = order_lines([partly], CL.con_id, 3.0, 60.0)
    assert line.at_stake == pytest.approx(0.5 * 2 * 1000)
    assert line.label == "SELL 2 STP · risk $1,000.00"


def test_only_live_priced_orders_of_the_instrument_are_drawn() -> None:
    orders = [
        order("done", Side.BUY, 1, OrderType.LIMIT, limit=6790, state=OrderState.FILLED),
        order("mkt", Side.BUY, 1, OrderType.MARKET),
        order("other", Side.BUY, 1, OrderType.LIMIT, limit=60.0, inst=CL),
        order("queued", Side.BUY, 1, OrderType.LIMIT, limit=6791, state=OrderState.QUEUED),
    ]
    assert [ln.ref for ln in order_lines(orders, ES.con_id, 0.0, math.nan)] == ["queued"]


def test_the_position_label_carries_the_open_pnl() -> None:
    assert position_label(ES, 2, 6800.0, 6803.25) == ("LONG 2 @ 6,800.00 · +$325.00", 325.0)
    text, pnl = position_label(CL, -1, 60.0, 60.25)
    assert text == "SHORT 1 @ 60.00 · -$250.00" and pnl == pytest.approx(-250.0)
    assert position_label(ES, 1, 6800.0, math.nan)[0] == "LONG 1 @ 6,800.00"


# ---- clicks, drags and the menu ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "stop", "side", "kind", "at"),
    [
        (6795.1, False, Side.BUY, OrderType.LIMIT, 6795.0),
        (6805.4, False, Side.SELL, OrderType.LIMIT, 6805.5),
        (6805.0, True, Side.BUY, OrderType.STOP, 6805.0),
        (6795.0, True, Side.SELL, OrderType.STOP, 6795.0),
    ],
)
def test_a_click_is_a_limit_on_its_side_of_the_market_or_with_shift_a_stop(
    price: float, stop: bool, side: Side, kind: OrderType, at: float
) -> None:
    intent = click_intent(ES, price, 6800.0, stop, 2)
    assert intent is not None
    assert (intent.side, intent.order_type, intent.qty, intent.source.kind) == (
        side,
        kind,
        2,
        "chart",
    )
    assert (intent.limit_price if kind is OrderType.LIMIT else intent.stop_price) == at


def test_a_click_without_a_market_or_on_it_places_nothing() -> None:
    assert click_intent(ES, 6795.0, math.nan, False, 1) is None
    assert click_intent(ES, 6800.1, 6800.0, False, 1) is None


def test_a_drag_moves_the_limit_or_the_trigger_and_a_stop_limit_keeps_its_offset() -> None:
    lmt = order("a", Side.BUY, 1, OrderType.LIMIT, limit=6790)
    stp_lmt = order("b", Side.SELL, 1, OrderType.STOP_LIMIT, limit=6784, stop=6785)
    lines = by_ref(order_lines([lmt, stp_lmt], ES.con_id, 0.0, math.nan))
    assert moved_prices(lines["a"], 6788.0) == {"limit_price": 6788.0}
    assert moved_prices(lines["b"], 6782.0) == {"stop_price": 6782.0, "limit_price": 6781.0}


def test_the_menu_offers_what_makes_sense_on_each_side_of_the_market() -> None:
    below = ticket_requests(ES, 6791.13, 6800.0)
    assert [t for t, _ in below] == [
        "Buy limit here (6791.25)",
        "Sell stop here (6791.25)",
        "Bracket here: buy at 6791.25 with the template's exits",
    ]
    assert [(r.side, r.order_type, r.price, r.bracket) for _, r in below] == [
        (Side.BUY, OrderType.LIMIT, 6791.25, False),
        (Side.SELL, OrderType.STOP, 6791.25, False),
        (Side.BUY, OrderType.LIMIT, 6791.25, True),
    ]
    above = ticket_requests(ES, 6810.0, 6800.0)
    assert [r.side for _, r in above] == [Side.SELL, Side.BUY, Side.SELL]


# ---- the P&L trail ------------------------------------------------------------------------------


def test_the_pnl_trail_keeps_changes_and_a_heartbeat_and_thins_the_morning() -> None:
    trail = PnlTrail(cap=8)
    assert trail.add(100.0, 5.0) and not trail.add(101.0, 5.0) and trail.add(102.0, 6.0)
    assert trail.add(102.0 + HOLD, 6.0), "unchanged, but the curve must reach now"
    assert not trail.add(50.0, 1.0) and not trail.add(200.0, math.nan)
    for i in range(10):
        trail.add(200.0 + i, float(i))
    times, values = trail.arrays()
    assert len(trail) <= 8 and times[-1] == 209.0 and values[-1] == 9.0
    assert (times[1:] > times[:-1]).all()
