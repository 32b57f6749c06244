"""Account values, portfolio, positions and P&L, consistent with fills and prices."""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until
from .test_orders import placed

pytestmark = pytest.mark.sim

ACCOUNT = "DU1234567"
START = 1_000_000.0


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(
        start_paused=True,
        account_update_interval=0.2,
        pnl_interval=0.2,
    )


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


def value(ib: Any, tag: str) -> float:
    rows = [v for v in ib.accountValues() if v.tag == tag and v.currency == "USD"]
    return float(rows[0].value) if rows else float("nan")


async def test_round_trip_books_cash_margin_and_pnl(ib: Any, es: Any, sim: SimThread) -> None:
    pnl = ib.reqPnL(ACCOUNT)
    assert value(ib, "NetLiquidation") == START
    await placed(ib, es, shim.MarketOrder("BUY", 2), "Filled")  # at the ask, 6800.25
    avg_cost = (6800.25 * 50 * 2 + 1.70) / 2
    await wait_until(
        lambda: (
            [(p.position, round(p.avgCost, 4)) for p in ib.positions()] == [(2, round(avg_cost, 4))]
        ),
        what="position",
    )
    assert value(ib, "InitMarginReq") == 50_000  # 2 x ES initial margin
    sim.control.set_price(es.conId, 6810.0)
    unrealized = 2 * 6810.0 * 50 - 2 * avg_cost
    await wait_until(
        lambda: abs(value(ib, "NetLiquidation") - (START + unrealized)) < 0.01,
        what="net liquidation at the new price",
    )
    await wait_until(
        lambda: (
            ib.portfolio() and abs(ib.portfolio()[0].unrealizedPNL - round(unrealized, 2)) < 0.01
        ),
        what="portfolio unrealized P&L",
    )
    await wait_until(
        lambda: abs((pnl.dailyPnL or 0) - round(unrealized, 2)) < 0.01, what="reqPnL daily"
    )
    await placed(ib, es, shim.MarketOrder("SELL", 2), "Filled")  # at the bid, 6810
    realized = 2 * (6810.0 * 50 - avg_cost) - 1.70
    await wait_until(
        lambda: abs(value(ib, "TotalCashValue") - (START + realized)) < 0.01,
        what="cash after the round trip",
    )
    await wait_until(
        lambda: abs((pnl.realizedPnL or 0) - round(realized, 2)) < 0.01, what="reqPnL realized"
    )
    assert value(ib, "InitMarginReq") == 0
    sim_account = sim.control.account()
    assert sim_account["NetLiquidation"] == pytest.approx(START + realized)
    assert sim_account["DailyPnL"] == pytest.approx(realized)


async def test_pnl_single_follows_one_position(ib: Any, es: Any, sim: SimThread) -> None:
    await placed(ib, es, shim.MarketOrder("SELL", 1), "Filled")  # short at 6800.00
    single = ib.reqPnLSingle(ACCOUNT, "", es.conId)
    sim.control.set_price(es.conId, 6790.0)
    expected = 6800.0 * 50 - 0.85 - 6790.0 * 50  # short gains 10 points less commission
    await wait_until(
        lambda: single.position == -1 and abs((single.unrealizedPnL or 0) - expected) < 0.01,
        what="pnlSingle",
    )
    assert single.value == pytest.approx(-6790.0 * 50)


async def test_another_client_sees_position_changes(connect: Connect, ib: Any, es: Any) -> None:
    watcher = await connect(client_id=2)
    seen: list[float] = []
    watcher.positionEvent += lambda pos: seen.append(pos.position)
    await placed(ib, es, shim.MarketOrder("BUY", 3), "Filled")
    await wait_until(lambda: 3 in seen, what="position update at the other client")
    await placed(ib, es, shim.MarketOrder("SELL", 3), "Filled")
    await wait_until(lambda: seen[-1] == 0, what="flat position update")


async def test_stock_fill_moves_cash_and_commission_has_a_minimum(ib: Any, sim: SimThread) -> None:
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    sim.control.set_price(aapl.conId, 270.0)
    trade = await placed(ib, aapl, shim.MarketOrder("BUY", 100), "Filled")  # at 270.01
    await wait_until(
        lambda: trade.fills and trade.fills[0].commissionReport.commission, what="commission"
    )
    assert trade.fills[0].commissionReport.commission == pytest.approx(1.00)  # $1 minimum
    await wait_until(
        lambda: abs(value(ib, "TotalCashValue") - (START - 100 * 270.01 - 1.00)) < 0.01,
        what="cash debited",
    )
    assert value(ib, "InitMarginReq") == pytest.approx(0.5 * 100 * 270.0, rel=1e-3)


async def test_account_summary_and_multi_updates(ib: Any, es: Any) -> None:
    summary = await ib.accountSummaryAsync(ACCOUNT)
    tags = {v.tag: v.value for v in summary}
    assert float(tags["NetLiquidation"]) == START
    assert float(tags["AvailableFunds"]) == START
    assert tags["AccountType"] == "INDIVIDUAL"
