"""Thousands of working orders: one order change costs the same among 10,000 orders as among
200 in everything that follows the order store (the chart's order lines, the positions'
stop cover and naked flag, the blotter), and a chart with more order lines than it can show
draws one line per price instead.

The stores, the chart view and the models are the real ones, without a desk: these tests are
about the cost of following the stores. Work is counted in Python lines executed
(``tests.work``), which a shared machine's load does not change.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.account import PositionStore
from ibdesk.state.orders import OrderStore
from ibdesk.trading.protection import is_naked, stop_cover
from ibdesk.ui.charts.overlays import OrderLineItem, TradingOverlay
from ibdesk.ui.charts.view import ChartView
from ibdesk.ui.models.orders import FillsModel, OrdersModel
from ibdesk.ui.models.positions import PositionsModel
from tests.work import lines_executed

pytestmark = pytest.mark.ui

ES = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
NQ = Instrument(2, "NQ", SecType.FUTURE, "CME", "USD", "NQZ6", 20, 0.25, "20261218")
ACCOUNT = "DU1234567"


def order(
    ref: str,
    side: Side,
    qty: float,
    kind: OrderType = OrderType.LIMIT,
    price: float = 6800.0,
    parent: str = "",
    state: OrderState = OrderState.WORKING,
    inst: Instrument = ES,
    account: str = ACCOUNT,
) -> OrderSnapshot:
    stop = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
    return OrderSnapshot(
        ref,
        inst,
        side,
        qty,
        kind,
        state,
        account,
        None if stop else price,
        price if stop else None,
        parent_ref=parent,
    )


class World:
    """An order store, a position store, an ES chart with its overlay, and the positions
    and blotter models, all following the stores as they do in the desk."""

    def __init__(self, qtbot: Any) -> None:
        self.orders = OrderStore()
        self.positions = PositionStore()
        self.view = ChartView()
        qtbot.addWidget(self.view)
        self.view.resize(900, 600)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.overlay = TradingOverlay(
            self.view, self.orders, self.positions, lambda: ACCOUNT, lambda item, price: None
        )
        self.overlay.set_instrument(ES, 2)
        self.position_model = PositionsModel(self.positions, orders=self.orders)
        self.working = OrdersModel(self.orders, lambda o: o.state.live, completed=False)
        self.completed = OrdersModel(self.orders, lambda o: not o.state.live, completed=True)
        self.fills = FillsModel(self.orders)
        self.models = (self.position_model, self.working, self.completed, self.fills)

    def show_prices(self, low: float, high: float) -> None:
        self.view.price_box.setYRange(low, high, padding=0)

    def change(self, ref: str, **fields: Any) -> None:
        snap = self.orders.get(ref)
        assert snap is not None
        self.orders.put(dataclasses.replace(snap, **fields))

    def frame(self) -> None:
        """What the desk does in a frame: the chart's overlay, the tables' flush, and the
        paint that the event loop then runs."""
        self.overlay.frame(6800.0)
        for model in self.models:
            model.flush()
        QApplication.processEvents()

    def close(self) -> None:
        self.overlay.close()
        for model in self.models:
            model.close()
            model.deleteLater()


@pytest.fixture
def world(qtbot: Any) -> Any:
    worlds: list[World] = []

    def make() -> World:
        worlds.append(World(qtbot))
        return worlds[-1]

    yield make
    for w in worlds:
        w.close()


def loaded(make: Any, count: int) -> World:
    """A long ES position of 3 with two working stops (naked: 2 of 3 covered), five
    brackets, and plain limits at 100 prices up to ``count`` orders in all."""
    w = make()
    w.positions.put(PositionSnapshot(ACCOUNT, ES, 3.0, 6800.0 * 50))
    w.orders.put(order("stop-a", Side.SELL, 1, OrderType.STOP, 6790.0))
    w.orders.put(order("stop-b", Side.SELL, 1, OrderType.STOP, 6789.0))
    for k in range(5):
        w.orders.put(order(f"entry-{k}", Side.BUY, 1, price=6795.0 - k))
        w.orders.put(order(f"tp-{k}", Side.SELL, 1, price=6805.0 + k, parent=f"entry-{k}"))
        w.orders.put(
            order(f"sl-{k}", Side.SELL, 1, OrderType.STOP, 6785.0 - k, parent=f"entry-{k}")
        )
    for i in range(count - 17):
        side = Side.BUY if i % 2 else Side.SELL
        w.orders.put(order(f"plain-{i}", side, 1 + i % 5, price=6750.0 + (i % 100) * 0.25))
    w.show_prices(6745.0, 6815.0)
    w.frame()  # the first pass draws everything: once, when the chart opens
    w.change("plain-1", filled=1.0)  # and a first change, so one-off work is behind us
    w.frame()
    assert len(w.overlay.ladder.painted) >= 10, "the frame paints the chart"
    return w


def one_change_each(w: World) -> int:
    """Lines of Python run for five kinds of order change, each followed by a frame."""

    def changes() -> None:
        w.change("plain-3", filled=1.0)  # partly filled
        w.frame()
        w.change("plain-5", limit_price=6774.0)  # moved to another price
        w.frame()
        w.change("stop-a", state=OrderState.CANCELLED)  # the position's cover shrinks
        w.frame()
        w.change("sl-0", stop_price=6784.0)  # a bracket's stop: its entry's risk changes
        w.frame()
        w.orders.put(order("new-one", Side.BUY, 2, price=6760.0))  # a new order
        w.frame()

    return lines_executed(changes)


@pytest.mark.timeout(900)  # before the fix one change among 10,000 orders took minutes traced
def test_one_order_change_costs_the_same_among_10000_orders_as_among_200(world: Any) -> None:
    small = one_change_each(loaded(world, 200))
    big = one_change_each(loaded(world, 10_000))
    assert big <= small * 1.2 + 200, (
        f"five order changes ran {big:,} lines of Python among 10,000 orders against "
        f"{small:,} among 200: some listener walks every order on every change"
    )


def test_the_naked_flag_and_the_stops_column_follow_each_order_change(world: Any) -> None:
    w = world()
    model = w.position_model
    w.positions.put(PositionSnapshot(ACCOUNT, ES, 3.0, 6800.0 * 50))
    w.positions.put(PositionSnapshot(ACCOUNT, NQ, -2.0, 21000.0 * 20))
    stops_col = [c.title for c in model.columns].index("Stops")
    es_key, nq_key = (ACCOUNT, ES.con_id), (ACCOUNT, NQ.con_id)

    def check(es_text: str, nq_text: str) -> None:
        model.sync()
        for key, text in ((es_key, es_text), (nq_key, nq_text)):
            row = model.row_keys().index(key)
            pos = w.positions.positions[key]
            assert model.item(row, stops_col).text() == text
            want_naked = is_naked(pos, w.orders.live())
            assert model.naked(key) is want_naked
            assert model.background(key) == ("naked" if want_naked else None)
            assert model.stop_cover(pos) == stop_cover(pos, w.orders.live())

    check("0 / 3", "0 / 2")
    w.orders.put(order("s1", Side.SELL, 1, OrderType.STOP, 6790.0, state=OrderState.SENT))
    check("0 / 3", "0 / 2")  # not at the broker yet
    w.change("s1", state=OrderState.WORKING)
    check("1 / 3", "0 / 2")
    w.orders.put(order("s2", Side.SELL, 2, OrderType.STOP_LIMIT, 6789.0))
    check("3 / 3", "0 / 2")
    w.change("s2", filled=1.0, state=OrderState.PARTIAL)
    check("2 / 3", "0 / 2")  # only what is left to fill covers
    w.change("s1", state=OrderState.UNKNOWN)
    check("1 / 3", "0 / 2")  # live, maybe, but not known to be at the broker
    w.change("s1", state=OrderState.CANCELLED)
    check("1 / 3", "0 / 2")
    # A bracket's stop covers nothing while its entry has not filled.
    w.orders.put(order("nq-entry", Side.SELL, 2, price=21010.0, inst=NQ))
    w.orders.put(order("nq-sl", Side.BUY, 2, OrderType.STOP, 21050.0, "nq-entry", inst=NQ))
    check("1 / 3", "0 / 2")
    w.change("nq-entry", state=OrderState.FILLED, filled=2.0)
    check("1 / 3", "2 / 2")
    # Stops of another account, or on the wrong side, cover nothing here.
    w.orders.put(order("other", Side.SELL, 5, OrderType.STOP, 6780.0, account="DU999"))
    w.orders.put(order("wrong-side", Side.BUY, 5, OrderType.STOP, 6830.0))
    check("1 / 3", "2 / 2")
    # The position turns short: the buy stop now covers it, the sell stops no longer do.
    w.positions.put(PositionSnapshot(ACCOUNT, ES, -4.0, 6800.0 * 50))
    check("4 / 4", "2 / 2")
    w.change("wrong-side", qty=3.0)
    check("3 / 4", "2 / 2")


def test_a_chart_draws_each_order_up_to_the_cap_and_one_line_per_price_beyond(
    world: Any,
) -> None:
    from ibdesk.ui.charts.overlays import MAX_EXACT_LINES  # the cap is new with this test

    w = world()
    w.show_prices(6770.0, 6830.0)
    prices = [6780.0 + 4.0 * k for k in range(8)]  # 8 prices, 60 pixels apart
    for i in range(MAX_EXACT_LINES):
        w.orders.put(order(f"o{i}", Side.BUY, 1 + i % 3, price=prices[i % 8]))
    w.frame()
    items = [i for i in w.view.price_plot.items if isinstance(i, OrderLineItem)]
    assert len(items) == len(w.overlay.lines) == MAX_EXACT_LINES
    assert w.overlay.lines["o0"].line.label == "BUY 1 LMT · no stop"
    assert not w.overlay.aggregated and not w.overlay.ladder.isVisible()
    assert sum(name.startswith("order:") for name in w.view.price_axis.tags) == MAX_EXACT_LINES

    def expected() -> dict[float, str]:
        out = {}
        for price in {line_price(o) for o in w.orders.live()}:
            here = [o for o in w.orders.live() if line_price(o) == price]
            buy = sum(o.remaining for o in here if o.side is Side.BUY)
            sell = sum(o.remaining for o in here if o.side is Side.SELL)
            text = f"Σ {len(here)} order{'s' if len(here) > 1 else ''}"
            text += f" · BUY {buy:g}" if buy else ""
            text += f" · SELL {sell:g}" if sell else ""
            out[price] = text
        return out

    def drawn() -> dict[float, str]:
        w.frame()
        return dict(w.overlay.ladder.painted)

    # One more order: every line collapses into one per price, with the summed quantity.
    w.orders.put(order("one-more", Side.SELL, 4, price=prices[2]))
    w.frame()
    assert w.overlay.aggregated
    w.orders.put(order("two-more", Side.SELL, 2, price=prices[5]))
    w.frame()
    assert w.overlay.aggregated and w.overlay.ladder.isVisible()
    assert not [i for i in w.view.price_plot.items if isinstance(i, OrderLineItem)]
    assert not w.overlay.lines
    assert not any(name.startswith("order:") for name in w.view.price_axis.tags)
    assert drawn() == expected()
    assert drawn()[prices[2]].endswith(" · SELL 4")
    # Changes keep the sums right: a partial fill, a move to a new price, a cancel.
    w.change("o4", filled=1.0, state=OrderState.PARTIAL)
    w.change("o1", qty=7.0)
    w.change("o2", limit_price=6826.0)
    w.change("o3", state=OrderState.CANCELLED)
    assert drawn() == expected()
    assert "Σ 1 order · BUY 3" in drawn().values()
    assert w.overlay.aggregated
    # Back to the cap: each order is its own line again, exact and draggable when armed.
    w.change("one-more", state=OrderState.CANCELLED)
    w.frame()
    assert not w.overlay.aggregated and not w.overlay.ladder.isVisible()
    assert len(w.overlay.lines) == MAX_EXACT_LINES
    assert w.overlay.lines["o2"].value() == 6826.0
    assert w.overlay.lines["o1"].line.label == "BUY 7 LMT · no stop"
    assert "o3" not in w.overlay.lines


def line_price(o: OrderSnapshot) -> float:
    price = o.stop_price if o.order_type is OrderType.STOP else o.limit_price
    assert price is not None
    return price
