"""Strategies another API client trades (``ibdesk run`` elsewhere), as the desk watches them:
attributed from the orderRef, booked from their own fills, listed read-only."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from ibdesk.desk.remote import RemoteStrategies, WatchedStrategies
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import (
    FillSnapshot,
    OrderSnapshot,
    OrderState,
    OrderType,
    Side,
    attribution,
    client_of,
)
from ibdesk.domain.strategy import StrategyState, StrategyStatus
from ibdesk.events import new
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore
from ibdesk.strategies.loader import StrategyError

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")


def order(ref: str, client: int, state: OrderState = OrderState.WORKING) -> OrderSnapshot:
    return OrderSnapshot(
        ref, ES, Side.BUY, 1, OrderType.LIMIT, state, "DU1", 6700.0, client_id=client
    )


def fill(ref: str, side: Side, qty: float, price: float, n: int) -> FillSnapshot:
    return FillSnapshot(f"e{n}", float(n), ref, n, n, ES, side, qty, price, "DU1", 2.0)


def test_the_orderref_says_which_client_made_it() -> None:
    assert client_of("strategy:sma_cross#7.1043") == 7
    assert client_of("ticket#1.5") == 1
    assert client_of("ext:123") is None and client_of("") is None
    assert client_of("strategy:a#b.c") is None
    assert attribution("strategy:sma_cross#7.1043", 1) == "strategy sma_cross @ client 7"
    assert attribution("strategy:sma_cross#1.1043", 1) == "strategy:sma_cross"
    assert attribution("ticket#7.2", 1) == "ticket @ client 7"
    assert attribution("ext:123", 1) == "external:ext:123"


def test_another_clients_strategy_gets_a_row_with_its_own_book() -> None:
    orders, quotes = OrderStore(), QuoteStore()
    orders.put(order("strategy:sma_cross#1.1", 1))  # the desk's own strategy: the runner's
    remote = RemoteStrategies(orders, quotes, lambda: 1)
    changed: list[str] = []
    remote.changed += changed.append
    orders.put(order("strategy:sma_cross#7.2", 7))
    orders.put(order("ticket#7.3", 7))  # another client's manual order: no strategy row
    orders.add_fill(fill("strategy:sma_cross#7.4", Side.BUY, 2, 6800.0, 1))
    orders.add_fill(fill("strategy:sma_cross#7.5", Side.SELL, 1, 6804.0, 2))
    quotes.put(Quote(ES.con_id, last=6806.0))
    assert list(remote.strategies) == ["sma_cross @ client 7"]
    assert changed and set(changed) == {"sma_cross @ client 7"}
    row = remote.status("sma_cross @ client 7")
    assert row.remote and row.client_id == 7
    assert row.position == 1 and row.positions == (("ESZ6", 1.0),)
    # realized 4 points on one lot, open 6 points on one, less two commissions of 2
    assert row.pnl == pytest.approx(4 * 50 + 6 * 50 - 4.0)
    assert row.working == 1
    assert row.instruments == ("ESZ6",)
    with pytest.raises(StrategyError):
        remote.status("sma_cross")
    # IB reports a fill's commission after the fill: the row counts it when it comes.
    late = dataclasses.replace(
        fill("strategy:sma_cross#7.6", Side.SELL, 1, 6806.0, 3), commission=math.nan
    )
    orders.add_fill(late)
    assert remote.status("sma_cross @ client 7").pnl == pytest.approx(4 * 50 + 6 * 50 - 4.0)
    orders.add_fill(dataclasses.replace(late, commission=2.0))
    assert remote.status("sma_cross @ client 7").pnl == pytest.approx(4 * 50 + 6 * 50 - 6.0)


class _Runner:
    """The runner's side of the panel's controls, recording what it was asked."""

    def __init__(self) -> None:
        self.changed = new("fakeRunnerChanged")
        self.asked: list[str] = []

    def statuses(self) -> list[StrategyStatus]:
        return [StrategyStatus("mine", "mine.py", StrategyState.STOPPED)]

    def status(self, name: str) -> StrategyStatus:
        return self.statuses()[0]

    async def start(self, name: str) -> None:
        self.asked.append(f"start {name}")

    def stop(self, name: str, flatten: bool = False, why: str = "") -> None:
        self.asked.append(f"stop {name}")

    def set_params(self, name: str, values: object) -> dict[str, object]:
        self.asked.append(f"params {name}")
        return {}


def test_the_panels_view_refuses_to_control_a_remote_strategy() -> None:
    orders = OrderStore()
    orders.put(order("strategy:sma_cross#7.2", 7))
    runner = _Runner()
    rows = WatchedStrategies(runner, RemoteStrategies(orders, QuoteStore(), lambda: 1))  # type: ignore[arg-type]
    assert [s.name for s in rows.statuses()] == ["mine", "sma_cross @ client 7"]
    assert rows.status("sma_cross @ client 7").remote
    for control in (
        lambda: asyncio.run(rows.start("sma_cross @ client 7")),
        lambda: rows.stop("sma_cross @ client 7"),
        lambda: rows.set_params("sma_cross @ client 7", {"fast": "5"}),
    ):
        with pytest.raises(StrategyError, match="runs elsewhere"):
            control()
    asyncio.run(rows.start("mine"))
    assert runner.asked == ["start mine"]
    assert not math.isnan(rows.status("sma_cross @ client 7").pnl)
