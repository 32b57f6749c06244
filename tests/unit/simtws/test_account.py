"""Bookkeeping of the simulated accounts: commissions, average cost, P&L, margin."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.simtws.account import Account, commission, margin
from ibdesk.simtws.catalog import EURUSD, STOCKS, Catalog, Instrument


def _front_month(symbol: str) -> Instrument:
    found = Catalog.build(dt.date(2026, 1, 5)).front_month(symbol)
    assert found is not None
    return found


ES = _front_month("ES")
AAPL = next(s for s in STOCKS if s.symbol == "AAPL")
START = 1_000_000.0


def approx(value: float) -> object:
    """Money compares to the cent; sums of float fills drift in the last digits."""
    return pytest.approx(value, abs=1e-6)


# ---- commissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "fee"), [(1, 0.85), (-1, 0.85), (3, 2.55), (-10, 8.5)])
def test_futures_pay_85_cents_per_contract_per_side(qty: float, fee: float) -> None:
    assert commission(ES, qty, 6800.25) == approx(fee)


@pytest.mark.parametrize(
    ("qty", "price", "fee"),
    [
        (100, 270.0, 1.00),  # $0.50 by the share, lifted to the $1 minimum
        (-100, 270.0, 1.00),
        (1000, 270.0, 5.00),  # by the share: 1000 x $0.005
        (100, 0.50, 0.50),  # 1% of a $50 trade caps below the minimum, and wins
        (10_000, 1.0, 50.0),  # $50 by the share, under the 1% cap of $100
        (10_000, 0.30, 30.0),  # $50 by the share, capped at 1% of $3000
    ],
)
def test_stocks_pay_half_a_cent_a_share_with_a_dollar_minimum_and_one_percent_cap(
    qty: float, price: float, fee: float
) -> None:
    assert commission(AAPL, qty, price) == approx(fee)


@pytest.mark.parametrize(
    ("qty", "price", "fee"),
    [(20_000, 1.16, 2.00), (-20_000, 1.16, 2.00), (1_000_000, 1.16, 23.20)],
)
def test_fx_pays_a_fifth_of_a_basis_point_with_a_two_dollar_minimum(
    qty: float, price: float, fee: float
) -> None:
    assert commission(EURUSD, qty, price) == approx(fee)


# ---- average cost and realized P&L ------------------------------------------------------------


def test_a_futures_long_costs_price_times_multiplier_plus_commission() -> None:
    acct = Account("DU1")
    out = acct.apply_fill(ES, 2, 6800.0)
    pos = acct.positions[ES.con_id]
    assert (out.realized, out.commission) == (0.0, approx(1.70))
    assert pos.qty == 2
    assert pos.avg_cost == approx((2 * 6800 * 50 + 1.70) / 2)  # 340000.85
    # Futures move no cash on opening: only realized P&L settles into cash.
    assert acct.cash == START


def test_adding_to_a_position_averages_the_cost() -> None:
    acct = Account("DU1")
    acct.apply_fill(ES, 2, 6800.0)
    acct.apply_fill(ES, 1, 6810.0)
    pos = acct.positions[ES.con_id]
    assert pos.qty == 3
    assert pos.avg_cost == approx((2 * 340000.85 + 340500 + 0.85) / 3)


def test_a_short_is_booked_at_its_proceeds_net_of_commission() -> None:
    acct = Account("DU1")
    acct.apply_fill(ES, -1, 6800.0)
    pos = acct.positions[ES.con_id]
    assert pos.qty == -1
    assert pos.avg_cost == approx(340000 - 0.85)
    # Just opened: the only loss so far is the commission.
    assert acct.unrealized(pos, 6800.0) == approx(-0.85)


def test_selling_through_a_long_realizes_the_closed_part_and_flips_short() -> None:
    # Long 2 ES at 6800, sell 3 at 6805: 2 close, 1 opens a short.
    acct = Account("DU1")
    acct.apply_fill(ES, 2, 6800.0)
    out = acct.apply_fill(ES, -3, 6805.0)
    pos = acct.positions[ES.con_id]
    # 2 x 5 points x $50 = 500, minus the opening 1.70 and two thirds of the closing 2.55.
    assert out.realized == approx(500 - 1.70 - 1.70)
    assert out.commission == approx(2.55)
    assert pos.qty == -1
    assert pos.avg_cost == approx(6805 * 50 - 0.85)
    assert acct.cash == approx(START + 496.60)
    # Cover the short 5 points lower: 250 minus both commissions of the short.
    out = acct.apply_fill(ES, 1, 6800.0)
    assert out.realized == approx(250 - 0.85 - 0.85)
    assert pos.qty == 0
    assert acct.realized_today == approx(750 - 6 * 0.85)
    assert acct.cash == approx(START + 750 - 6 * 0.85)


def test_a_partial_close_keeps_the_average_cost_of_what_remains() -> None:
    acct = Account("DU1")
    acct.apply_fill(ES, 3, 6800.0)
    before = acct.positions[ES.con_id].avg_cost
    out = acct.apply_fill(ES, -1, 6790.0)
    assert acct.positions[ES.con_id].avg_cost == before
    assert out.realized == approx(-500 - 0.85 - 0.85)


def test_a_stock_round_trip_moves_cash_by_its_realized_pnl() -> None:
    acct = Account("DU1")
    acct.apply_fill(AAPL, 100, 270.0)
    pos = acct.positions[AAPL.con_id]
    assert pos.avg_cost == approx(270.01)  # (27000 + $1) / 100
    assert acct.cash == approx(START - 27_001)
    out = acct.apply_fill(AAPL, -100, 275.0)
    assert out.realized == approx(500 - 1 - 1)
    assert acct.cash == approx(START + 498)


# ---- valuation, margin, daily P&L --------------------------------------------------------------


def test_futures_margin_is_per_contract_and_stock_margin_per_dollar() -> None:
    assert margin(ES, 2, 6800) == 2 * ES.init_margin
    assert margin(ES, -2, 1) == 2 * ES.init_margin  # price plays no part, nor the side
    assert margin(ES, 2, 6800, maintenance=True) == 2 * ES.maint_margin
    assert margin(AAPL, 100, 270) == approx(100 * 270 * 0.5)
    assert margin(AAPL, -100, 270, maintenance=True) == approx(100 * 270 * 0.25)


def test_summary_values_futures_by_open_pnl_and_stocks_by_market_value() -> None:
    acct = Account("DU1")
    acct.apply_fill(ES, 2, 6800.0)
    acct.apply_fill(AAPL, 100, 270.0)
    s = acct.summary({ES.con_id: 6810.0, AAPL.con_id: 280.0})
    es_open = 2 * 6810 * 50 - 2 * 340000.85
    assert s["UnrealizedPnL"] == approx(es_open + 100 * 280 - 27_001)
    assert s["TotalCashValue"] == approx(START - 27_001)
    assert s["NetLiquidation"] == approx(START - 27_001 + 28_000 + es_open)
    assert s["InitMarginReq"] == approx(2 * ES.init_margin + 100 * 280 * 0.5)
    assert s["MaintMarginReq"] == approx(2 * ES.maint_margin + 100 * 280 * 0.25)
    assert s["GrossPositionValue"] == approx(2 * 6810 * 50 + 28_000)
    assert s["AvailableFunds"] == approx(s["NetLiquidation"] - s["InitMarginReq"])


def test_daily_pnl_starts_again_from_the_marks_of_a_new_day() -> None:
    acct = Account("DU1")
    acct.apply_fill(ES, 2, 6800.0)
    # Day one: 2 x 10 points x $50, less the commission paid today.
    assert acct.summary({ES.con_id: 6810.0})["DailyPnL"] == approx(1000 - 1.70)
    acct.new_day({ES.con_id: 6810.0})
    day_two = acct.summary({ES.con_id: 6820.0})
    assert day_two["DailyPnL"] == approx(1000)
    assert day_two["RealizedPnL"] == 0
    out = acct.apply_fill(ES, -2, 6815.0)
    # Realized covers the whole trade; today's P&L only the move since yesterday's mark.
    assert out.realized == approx(1500 - 1.70 - 1.70)
    day_two = acct.summary({ES.con_id: 6830.0})
    assert day_two["DailyPnL"] == approx(2 * 5 * 50 - 1.70)
    assert day_two["RealizedPnL"] == approx(out.realized)
    acct.new_day({ES.con_id: 6830.0})
    assert ES.con_id not in acct.positions  # flat positions are forgotten overnight
    assert acct.summary({})["DailyPnL"] == 0


# ---- properties ---------------------------------------------------------------------------------

#: A fill: signed quantity (never zero) and a price in ticks around the instrument's level.
fills = st.lists(
    st.tuples(
        st.integers(min_value=-6, max_value=6).filter(bool),
        st.integers(min_value=-400, max_value=400),
    ),
    min_size=1,
    max_size=25,
)


def _run(inst: Instrument, base: float, trades: list[tuple[int, int]], close_at: int) -> None:
    acct = Account("DU1")
    mult = inst.price_multiplier
    position = 0
    flows = fees = realized = 0.0
    book = [*trades]
    net = sum(q for q, _ in trades)
    if net:
        book.append((-net, close_at))
    for qty, ticks in book:
        price = round(base + ticks * inst.min_tick, 10)
        out = acct.apply_fill(inst, qty, price)
        position += qty
        flows -= qty * price * mult
        fees += out.commission
        realized += out.realized
        pos = acct.positions[inst.con_id]
        assert pos.qty == position
        # Whatever is open: realized + open P&L is what the trades made, less every fee.
        total = realized + acct.unrealized(pos, price)
        assert total == pytest.approx(flows + position * price * mult - fees, abs=1e-4)
        assert acct.summary({inst.con_id: price})["DailyPnL"] == pytest.approx(total, abs=1e-4)
    assert position == 0
    # Flat: realized is the sum of the round trips' price differences, less commissions.
    assert realized == pytest.approx(flows - fees, abs=1e-4)
    assert acct.realized_today == pytest.approx(realized, abs=1e-4)
    assert acct.commissions_today == pytest.approx(fees, abs=1e-6)
    assert acct.cash - START == pytest.approx(realized, abs=1e-4)


@settings(max_examples=150, deadline=None)
@given(trades=fills, close_at=st.integers(min_value=-400, max_value=400))
def test_a_futures_book_that_ends_flat_realizes_exactly_its_cash_change(
    trades: list[tuple[int, int]], close_at: int
) -> None:
    _run(ES, 6800.0, trades, close_at)


@settings(max_examples=100, deadline=None)
@given(trades=fills, close_at=st.integers(min_value=-400, max_value=400))
def test_a_stock_book_that_ends_flat_realizes_exactly_its_cash_change(
    trades: list[tuple[int, int]], close_at: int
) -> None:
    _run(AAPL, 270.0, [(q * 50, t) for q, t in trades], close_at)
