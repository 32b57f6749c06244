"""Each strategy's book from its own fills: positions, average cost, realized and open P&L,
and what the trader's fills and the strategies' add up to."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, Side
from ibdesk.strategies.ledger import StrategyLedger

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")


def fill(
    ref: str, side: Side, qty: float, price: float, n: int, commission: float = math.nan
) -> FillSnapshot:
    return FillSnapshot(f"e{n}", float(n), ref, n, n, ES, side, qty, price, "DU1", commission)


def test_a_strategys_round_trip_realizes_its_pnl() -> None:
    ledger = StrategyLedger()
    assert ledger.add(fill("strategy:a#1.1", Side.BUY, 2, 6800.0, 1, 2.0)) == "a"
    assert ledger.position("a", ES.con_id) == 2.0
    assert ledger.pnl("a", lambda c: 6801.0) == pytest.approx(2 * 50 * 1.0 - 2.0)
    ledger.add(fill("strategy:a#1.2", Side.SELL, 3, 6802.0, 2, 2.0))  # closes 2, opens 1 short
    assert ledger.position("a", ES.con_id) == -1.0
    holding = ledger.holdings["a"][ES.con_id]
    assert holding.realized == pytest.approx(2 * 50 * 2.0) and holding.avg_price == 6802.0
    assert ledger.pnl("a", lambda c: 6802.0) == pytest.approx(200.0 - 4.0)


def test_a_fill_is_booked_once_and_to_its_owner() -> None:
    ledger = StrategyLedger()
    f = fill("strategy:a#1.1", Side.BUY, 1, 6800.0, 1)
    ledger.add(f)
    assert ledger.add(f) is None  # the same exec id again (a restart's journal)
    ledger.add(fill("strategy:b#1.2", Side.SELL, 2, 6800.0, 2))
    ledger.add(fill("ticket#1.3", Side.BUY, 4, 6800.0, 3))
    assert ledger.positions("a") == {ES.con_id: 1.0}
    assert ledger.positions("b") == {ES.con_id: -2.0}
    assert ledger.manual == {ES.con_id: 4.0}
    assert ledger.attributed(ES.con_id) == 3.0
    assert ledger.unattributed(ES.con_id, 5.0) == 2.0  # carried from yesterday, say


def test_handed_over_holdings_and_later_fills_are_the_traders() -> None:
    ledger = StrategyLedger()
    ledger.add(fill("strategy:a#1.1", Side.BUY, 2, 6800.0, 1))
    ledger.hand_over("a")
    assert ledger.positions("a") == {} and ledger.manual == {ES.con_id: 2.0}
    ledger.add(fill("strategy:a#1.2", Side.SELL, 2, 6810.0, 2))  # its stop, now manual
    assert ledger.manual == {ES.con_id: 0.0} and ledger.positions("a") == {}
    ledger.take_back("a")
    ledger.add(fill("strategy:a#1.3", Side.BUY, 1, 6800.0, 3))
    assert ledger.positions("a") == {ES.con_id: 1.0}


def test_a_namesake_on_another_client_is_not_this_desks_strategy() -> None:
    """The same strategy file running headless elsewhere (API client 7), watched here as the
    Master API client: its fills are not the position of the desk's own (stopped) copy."""
    ledger = StrategyLedger()
    ledger.own_client = lambda: 1
    assert ledger.add(fill("strategy:a#7.1", Side.BUY, 2, 6800.0, 1)) != "a"
    assert ledger.position("a", ES.con_id) == 0.0
    assert ledger.add(fill("strategy:a#1.2", Side.BUY, 1, 6800.0, 2)) == "a"
    assert ledger.position("a", ES.con_id) == 1.0
    assert ledger.attributed(ES.con_id) == 3.0  # the account's position is still explained


def test_a_commission_reported_after_its_fill_is_booked_once() -> None:
    """IB sends the commission report after the execution: the fill comes again with it."""
    ledger = StrategyLedger()
    bought = fill("strategy:a#1.1", Side.BUY, 1, 6800.0, 1)
    assert ledger.add(bought) == "a"
    assert ledger.pnl("a", lambda c: 6800.0) == 0.0
    reported = dataclasses.replace(bought, commission=2.25)
    assert ledger.add(reported) is None  # not a second fill
    assert ledger.position("a", ES.con_id) == 1.0
    assert ledger.pnl("a", lambda c: 6800.0) == pytest.approx(-2.25)
    ledger.add(reported)  # the journal's copy after a restart, say
    assert ledger.pnl("a", lambda c: 6800.0) == pytest.approx(-2.25)
