"""The ticket's rules without Qt: figures for ES, CL and AAPL, offsets in ticks, points and
dollars, quantity from a dollar risk, a message for every kind of bad input, and a hypothesis
fuzz (10,000 cases): nothing raises, every refusal has a message, and every intent the ticket
builds passes the gate's own validation."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import BracketIntent, OrderIntent, OrderType, Side, Tif
from ibdesk.trading.context import CheckContext
from ibdesk.trading.gate import OrderGate
from ibdesk.trading.ticket import (
    ENTRY_TYPES,
    TicketForm,
    TicketMarket,
    TicketRules,
    evaluate,
    parse_number,
    qty_for_risk,
    tick_value,
)
from ibdesk.trading.validate import validated

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
CL = Instrument(17, "CL", SecType.FUTURE, "NYMEX", "USD", "CLF7", 1000, 0.01, "20261221")
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")
ES_MARKET = TicketMarket(bid=6800.00, ask=6800.25, last=6800.25)
CL_MARKET = TicketMarket(bid=71.20, ask=71.21, last=71.21)
AAPL_MARKET = TicketMarket(bid=231.40, ask=231.42, last=231.41)
RULES = TicketRules(max_qty=10, collar_pct=2.0)


def form(inst: Instrument = ES, **fields: Any) -> TicketForm:
    return dataclasses.replace(TicketForm(inst), **fields)


def test_es_bracket_in_ticks_gives_prices_money_and_rr() -> None:
    r = evaluate(form(qty="2", entry="6800.00", take_profit="8", stop_loss="6"), ES_MARKET, RULES)
    assert r.ok and not r.errors
    assert isinstance(r.intent, BracketIntent)
    assert (r.intent.take_profit, r.intent.stop_loss) == (6802.00, 6798.50)
    assert r.intent.entry.limit_price == 6800.00 and r.intent.entry.qty == 2
    assert str(r.intent.entry.source) == "ticket"
    f = r.figures
    assert f is not None
    assert f.tick_value == 12.50
    assert (f.risk, f.reward) == (150.0, 200.0)  # 6 ticks x $12.50 x 2, 8 ticks x ...
    assert f.reward_risk == pytest.approx(8 / 6)


def test_cl_sell_bracket_in_dollars_rounds_toward_the_entry() -> None:
    """CL: tick 0.01 x 1,000 = $10. $205 of take-profit is 20 ticks (not 20.5)."""
    r = evaluate(
        form(
            CL,
            side=Side.SELL,
            entry="71.25",
            take_profit="205",
            stop_loss="100",
            exits="dollars",
        ),
        CL_MARKET,
        RULES,
    )
    assert r.ok, r.errors
    assert isinstance(r.intent, BracketIntent)
    assert r.intent.take_profit == pytest.approx(71.05)
    assert r.intent.stop_loss == pytest.approx(71.35)
    assert r.figures is not None and tick_value(CL) == 10.0
    assert r.figures.risk == pytest.approx(100.0) and r.figures.reward == pytest.approx(200.0)


def test_aapl_bracket_in_points_and_market_entry_prices_from_the_far_touch() -> None:
    r = evaluate(
        form(
            AAPL,
            qty="100",
            order_type=OrderType.MARKET,
            take_profit="1.5",
            stop_loss="0.75",
            exits="points",
        ),
        AAPL_MARKET,
        TicketRules(),
    )
    assert r.ok, r.errors
    assert isinstance(r.intent, BracketIntent)
    assert r.intent.entry.limit_price is None and r.intent.entry.stop_price is None
    assert r.intent.take_profit == pytest.approx(232.92)  # ask 231.42 + 1.50
    assert r.intent.stop_loss == pytest.approx(230.67)
    assert r.figures is not None and r.figures.risk == pytest.approx(75.0)


def test_quantity_from_dollar_risk() -> None:
    """ES, stop 6 ticks away = $75 a contract: $200 of risk buys 2 contracts, $150 too."""
    base = form(entry="6800.00", take_profit="8", stop_loss="6", qty="")
    r = evaluate(dataclasses.replace(base, risk="200"), ES_MARKET, RULES)
    assert r.ok and r.intent is not None and isinstance(r.intent, BracketIntent)
    assert r.intent.entry.qty == 2 and r.figures is not None and r.figures.qty_from_risk == 2
    assert qty_for_risk(ES, 150, 6800.0, 6798.5) == 2
    small = evaluate(dataclasses.replace(base, risk="50"), ES_MARKET, RULES)
    assert not small.ok and "less than one contract's risk ($75.00)" in small.errors["risk"]
    big = evaluate(dataclasses.replace(base, risk="100000"), ES_MARKET, RULES)
    assert "over the 10 limit" in big.errors["risk"]


def test_stop_and_stop_limit_entries() -> None:
    stp = evaluate(
        form(order_type=OrderType.STOP, entry="6805.00", take_profit="8", stop_loss="6"),
        ES_MARKET,
        RULES,
    )
    assert stp.ok and isinstance(stp.intent, BracketIntent)
    assert stp.intent.entry.stop_price == 6805.0 and stp.intent.entry.limit_price is None
    wrong_side = evaluate(form(order_type=OrderType.STOP, entry="6790.00"), ES_MARKET, RULES)
    assert "must be above the market" in wrong_side.errors["entry"]
    stp_lmt = evaluate(
        form(order_type=OrderType.STOP_LIMIT, entry="6805.00", limit="6806.00", bracket=False),
        ES_MARKET,
        RULES,
    )
    assert stp_lmt.ok and isinstance(stp_lmt.intent, OrderIntent)
    assert (stp_lmt.intent.stop_price, stp_lmt.intent.limit_price) == (6805.0, 6806.0)
    inverted = evaluate(
        form(order_type=OrderType.STOP_LIMIT, entry="6805.00", limit="6804.00", bracket=False),
        ES_MARKET,
        RULES,
    )
    assert "at or above its stop" in inverted.errors["limit"]


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ({"qty": "0"}, "qty", "above 0"),
        ({"qty": "-3"}, "qty", "above 0"),
        ({"qty": "nan"}, "qty", "finite"),
        ({"qty": "1.5"}, "qty", "Whole contracts"),
        ({"qty": "11"}, "qty", "over the 10 limit"),
        ({"qty": ""}, "qty", "Enter the quantity"),
        ({"qty": "abc"}, "qty", "must be a number"),
        ({"entry": "6800,25"}, "entry", "Use a point for decimals: 6800.25"),
        ({"entry": "6800.30"}, "entry", "6800.25 or 6800.50"),
        ({"entry": "-5"}, "entry", "above 0"),
        ({"entry": "7100"}, "entry", "collar is 2%"),
        ({"exits": "price", "take_profit": "6790", "stop_loss": "6795"}, "take_profit", "above"),
        ({"exits": "price", "take_profit": "6810", "stop_loss": "6805"}, "stop_loss", "below"),
        ({"take_profit": "0"}, "take_profit", "above 0 ticks"),
        ({"stop_loss": "inf"}, "stop_loss", "finite"),
        ({"exits": "dollars", "stop_loss": "5"}, "stop_loss", "less than one tick"),
    ],
)
def test_bad_input_gets_a_message_beside_its_field(
    fields: dict[str, Any], where: str, words: str
) -> None:
    base = {"entry": "6800.00", "take_profit": "8", "stop_loss": "6"}
    r = evaluate(form(**{**base, **fields}), ES_MARKET, RULES)
    assert not r.ok and r.intent is None
    assert words in r.errors[where], r.errors


def test_off_tick_prices_round_when_configured_and_say_so() -> None:
    r = evaluate(
        form(entry="6800.30", take_profit="8", stop_loss="6"),
        ES_MARKET,
        dataclasses.replace(RULES, round_off_tick=True),
    )
    assert r.ok and isinstance(r.intent, BracketIntent)
    assert r.intent.entry.limit_price == 6800.25
    assert "Rounded to 6800.25" in r.notes["entry"]


def test_no_instrument_and_no_market() -> None:
    assert evaluate(TicketForm(None), ES_MARKET, RULES).errors == {
        "instrument": "Choose an instrument."
    }
    r = evaluate(form(order_type=OrderType.MARKET), TicketMarket(), RULES)
    assert "No market price yet" in r.errors["entry"]


def test_parse_number_messages() -> None:
    assert parse_number(" 1e2 ", "qty") == 100
    for text, words in (("1,5", "point for decimals"), ("", "Enter"), ("-inf", "finite")):
        with pytest.raises(ValueError, match=words):
            parse_number(text, "price")


# ---- fuzz -------------------------------------------------------------------------------------


class _NoPort:
    connected = True
    client_id = 1

    def place(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the fuzz never sends")


def _gate() -> OrderGate:
    context = CheckContext(0.0, lambda a, c: 0.0, (), lambda c: ES_MARKET.reference)
    return OrderGate(_NoPort(), None, None, None, lambda: context)  # type: ignore[arg-type]


NUMBERISH = st.one_of(
    st.sampled_from(["", "0", "-1", "nan", "inf", "1,5", "abc", "1e400", " 2 ", "1_0"]),
    st.integers(-5, 50).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.decimals(min_value=6600, max_value=7000, places=2).map(str),
    st.decimals(min_value=0, max_value=300, places=3).map(str),
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inst=st.sampled_from([ES, CL, AAPL]),
    side=st.sampled_from(list(Side)),
    order_type=st.sampled_from(ENTRY_TYPES),
    qty=NUMBERISH,
    entry=NUMBERISH,
    limit=NUMBERISH,
    take=NUMBERISH,
    stop=NUMBERISH,
    risk=st.one_of(st.just(""), NUMBERISH),
    exits=st.sampled_from(["price", "ticks", "points", "dollars"]),
    bracket=st.booleans(),
    round_off=st.booleans(),
    tif=st.sampled_from(list(Tif)),
)
# Found by the fuzz: a stop-limit whose limit sat far from its stop. The gate judged the exits
# against the limit, the ticket against the stop; and the limit escaped the collar.
@example(
    ES,
    Side.SELL,
    OrderType.STOP_LIMIT,
    "1",
    "6786.13",
    " 2 ",
    " 2 ",
    "0.500",
    "",
    "ticks",
    True,
    True,
    Tif.DAY,
)
def test_fuzz_every_refusal_has_a_message_and_every_intent_is_valid(
    inst: Instrument,
    side: Side,
    order_type: OrderType,
    qty: str,
    entry: str,
    limit: str,
    take: str,
    stop: str,
    risk: str,
    exits: str,
    bracket: bool,
    round_off: bool,
    tif: Tif,
) -> None:
    market = {ES.con_id: ES_MARKET, CL.con_id: CL_MARKET, AAPL.con_id: AAPL_MARKET}[inst.con_id]
    f = TicketForm(inst, side, qty, order_type, entry, limit, bracket, take, stop, exits, risk, tif)
    r = evaluate(f, market, TicketRules(round_off_tick=round_off, max_qty=10, collar_pct=2.0))
    if r.intent is None:
        assert r.errors and all(isinstance(m, str) and len(m) > 10 for m in r.errors.values())
        return
    assert not r.errors
    order = r.intent.entry if isinstance(r.intent, BracketIntent) else r.intent
    assert order.qty >= 1 and order.qty.is_integer() and order.qty <= 10
    for p in (order.limit_price, order.stop_price):
        assert p is None or (math.isfinite(p) and p > 0 and inst.on_tick(p))
        assert p is None or abs(p - market.reference) <= market.reference * 0.02 + inst.min_tick
    if isinstance(r.intent, BracketIntent):
        sign = side.sign
        assert inst.on_tick(r.intent.take_profit) and inst.on_tick(r.intent.stop_loss)
        assert sign * (r.intent.take_profit - r.intent.stop_loss) > 0
    # The gate's validation (strict about ticks) accepts exactly what the ticket built.
    assert validated(r.intent, lambda c: market.reference) == r.intent
