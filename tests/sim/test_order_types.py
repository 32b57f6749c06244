"""Order validation as TWS does it, and the order types beyond the basic five.

Prices are moved with the control port on a paused market, as in test_orders.py: after
``set_price(X, P)`` the instrument's bid and last are P and its ask one tick above.
"""

from __future__ import annotations

from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import front_future, wait_until
from .test_orders import placed

pytestmark = pytest.mark.sim

MISSING_EXCHANGE = "Missing order exchange"


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
async def es(ib: Any, sim: SimThread) -> Any:
    contract = await front_future(ib, "ES")
    sim.control.set_price(contract.conId, 6800.0)
    return contract


@pytest.fixture
async def aapl(ib: Any, sim: SimThread) -> Any:
    [contract] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    sim.control.set_price(contract.conId, 270.0)
    return contract


def errors_of(ib: Any) -> list[tuple[int, int, str]]:
    """(reqId, code, text) of every error from now on."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: seen.append((req_id, code, text))
    return seen


def order(kind: str, action: str, qty: float, **fields: Any) -> Any:
    return shim.Order(orderType=kind, action=action, totalQuantity=qty, **fields)


# ---- the exchange ---------------------------------------------------------------------------


@pytest.mark.parametrize("what_if", [False, True], ids=["order", "what-if"])
@pytest.mark.parametrize("symbol", ["AAPL", "XXX"], ids=["known", "unknown"])
async def test_a_stock_without_an_exchange_is_refused_with_321(
    ib: Any, sim: SimThread, symbol: str, what_if: bool
) -> None:
    """Before: 200 for an unknown stock, and a known one was accepted (Submitted)."""
    errors = errors_of(ib)
    order_id = ib.client.getReqId()
    ib.client.placeOrder(order_id, shim.Stock(symbol), shim.MarketOrder("BUY", 100, whatIf=what_if))
    await wait_until(lambda: errors, what="the refusal")
    [(req_id, code, text)] = errors
    assert (req_id, code) == (order_id, 321)
    assert MISSING_EXCHANGE in text
    assert sim.control.orders() == []


# ---- unused price fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("MKT", {"lmtPrice": 0.0, "auxPrice": 0.0}),
        ("LMT", {"lmtPrice": 6790.0, "auxPrice": 0.0}),
        ("STP", {"lmtPrice": 0.0, "auxPrice": 6810.0}),
        ("TRAIL", {"lmtPrice": 0.0, "auxPrice": 0.0, "trailingPercent": 1.0}),
    ],
)
async def test_unused_price_fields_sent_as_zero_are_ignored(
    ib: Any, es: Any, kind: str, fields: dict[str, float]
) -> None:
    """Before: "Price 0 must be positive" for a MKT or LMT with auxPrice 0 (older APIs)."""
    errors = errors_of(ib)
    expected = "Filled" if kind == "MKT" else "Submitted"
    await placed(ib, es, order(kind, "BUY", 1, **fields), expected)
    assert errors == []


# ---- touched, relative, auction -------------------------------------------------------------


async def test_mit_buys_when_the_market_falls_to_its_trigger(
    ib: Any, es: Any, sim: SimThread
) -> None:
    trade = await placed(ib, es, order("MIT", "BUY", 1, auxPrice=6790.0))
    sim.control.set_price(es.conId, 6795.0)
    assert trade.orderStatus.status == "Submitted"
    sim.control.set_price(es.conId, 6790.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="MIT filled")
    assert trade.orderStatus.avgFillPrice == 6790.25  # at the market: the ask


async def test_lit_sells_at_its_limit_once_touched(ib: Any, es: Any, sim: SimThread) -> None:
    trade = await placed(ib, es, order("LIT", "SELL", 1, auxPrice=6810.0, lmtPrice=6812.0))
    sim.control.set_price(es.conId, 6810.0)
    await wait_until(lambda: trade.orderStatus.status == "Submitted", what="still working")
    sim.control.set_price(es.conId, 6812.0)
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="LIT filled")
    assert trade.orderStatus.avgFillPrice == 6812.0


async def test_rel_buys_pegged_to_the_bid(ib: Any, aapl: Any, sim: SimThread) -> None:
    trade = await placed(ib, aapl, order("REL", "BUY", 100, auxPrice=0.0, lmtPrice=0.0))
    sim.control.set_price(aapl.conId, 269.50)  # a trade at the new bid: at the peg
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="REL filled")
    assert trade.orderStatus.avgFillPrice == 269.50


@pytest.mark.parametrize("kind", ["MOC", "LOC"])
async def test_moc_and_loc_wait_for_the_closing_auction(
    ib: Any, aapl: Any, sim: SimThread, kind: str
) -> None:
    fields = {"lmtPrice": 271.0} if kind == "LOC" else {}
    trade = await placed(ib, aapl, order(kind, "BUY", 100, **fields))
    sim.control.set_price(aapl.conId, 268.0)
    assert trade.orderStatus.status == "Submitted"
    assert sim.control.run_closing_auction("AAPL") == 1
    await wait_until(lambda: trade.orderStatus.status == "Filled", what="filled at the close")
    assert trade.orderStatus.avgFillPrice == 268.0


async def test_loc_out_of_its_limit_expires_at_the_close(
    ib: Any, aapl: Any, sim: SimThread
) -> None:
    trade = await placed(ib, aapl, order("LOC", "BUY", 100, lmtPrice=265.0))
    sim.control.run_closing_auction()
    await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="expired")
    assert trade.orderStatus.filled == 0


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("MOC", {}, 387),
        ("REL", {"auxPrice": 0.25}, 387),
    ],
)
async def test_stock_only_order_types_are_refused_for_futures(
    ib: Any, es: Any, sim: SimThread, kind: str, fields: dict[str, float], code: int
) -> None:
    errors = errors_of(ib)
    ib.placeOrder(es, order(kind, "BUY", 1, **fields))
    await wait_until(lambda: errors, what="the refusal")
    assert errors[0][1:] == (
        code,
        "Unsupported order type for this exchange and security type.",
    )
    assert sim.control.orders(open_only=True) == []


async def test_moc_needs_a_day_order(ib: Any, aapl: Any) -> None:
    errors = errors_of(ib)
    ib.placeOrder(aapl, order("MOC", "BUY", 100, tif="GTC"))
    await wait_until(lambda: errors, what="the refusal")
    assert errors[0][1:] == (113, "The Tif option should be set to DAY for MOC and LOC orders.")


async def test_contract_details_list_the_order_types(ib: Any) -> None:
    [stock] = await ib.reqContractDetailsAsync(shim.Stock("AAPL", "SMART", "USD"))
    assert {"MIT", "LIT", "MOC", "LOC", "REL"} <= set(stock.orderTypes.split(","))
    [fut] = await ib.reqContractDetailsAsync(await front_future(ib))
    types = set(fut.orderTypes.split(","))
    assert {"MIT", "LIT"} <= types and not {"MOC", "REL"} & types
