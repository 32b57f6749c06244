"""Charts end to end: history and live bars from the simulator, the trader's orders on them,
drag to modify, click trading only when armed, the context menu, the account P&L curve.

Mouse input goes through Qt and pyqtgraph as a trader's would: a press, moves with the button
held, a release, sent to the chart's viewport at the pixel of a price.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import math
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from ibdesk.broker import ib as shim
from ibdesk.config import Settings, TicketSettings, limits_off
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.connection import LinkState
from ibdesk.domain.order_lines import LineRole
from ibdesk.domain.orders import (
    BracketIntent,
    OrderIntent,
    OrderState,
    OrderType,
    Side,
    Source,
)
from ibdesk.domain.ticket import TicketRequest
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui.charts.area import parse_saved
from ibdesk.ui.charts.panel import ChartPanel
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
TICKET = Source("ticket")


@pytest.fixture
def sim_config() -> SimConfig:
    """The desk (client 1) is TWS's master API client: it hears of every order, those typed
    into TWS and those of other API clients included, as a workstation should."""
    return quick_sim(master_client_id=1)


# ---- helpers ----------------------------------------------------------------------------------


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


async def chart_desk(make_desk: MakeDesk, **kw: Any) -> tuple[Any, ChartPanel]:
    """A connected desk (pre-trade limits off: these tests are about the chart) and its
    first chart, loaded (a new layout opens ES 1m)."""
    kw.setdefault("risk", limits_off())
    kw.setdefault("charts", "ES|1m")
    if "settings" not in kw:
        # No fat-finger confirmation: a drag's few steps of >= 30 px are more than 50 ticks
        # from the market when the chart is zoomed out, and the drag then waited for a
        # confirmation no one gave (the drag tests failed about one run in two).
        kw.setdefault("ticket", TicketSettings(fat_finger_ticks=0))
    desk = await make_desk(**kw)
    await wait_until(lambda: connected(desk), timeout=15, what="connected")
    chart = desk.window.chart_area.charts[0]
    await wait_until(lambda: chart.series is not None and len(chart.series), what="history")
    return desk, chart


async def loaded(chart: ChartPanel, symbol: str, tf: Timeframe) -> None:
    """Switch a chart and wait for its bars."""
    await chart.load(symbol, tf)
    assert chart.series is not None and len(chart.series), chart.message.text()


def pixel(chart: ChartPanel, seq: float, price: float) -> QPoint:
    """Where a bar position and price are on the chart's viewport."""
    scene = chart.view.price_box.mapViewToScene(QPointF(seq, price))
    return chart.view.mapFromScene(scene)


def price_under(chart: ChartPanel, seq: float, price: float) -> float:
    """The price under the pixel a click aimed at ``price`` goes to: the mouse is on whole
    pixels, and on a zoomed-out chart a pixel is more than half a tick (aiming at a price to
    the tick there missed by one about one run in two)."""
    at = chart.view.mapToScene(pixel(chart, seq, price))
    return float(chart.view.price_box.mapSceneToView(at).y())


def tick_under(chart: ChartPanel, seq: float, price: float) -> float:
    """The tick a click aimed at ``price`` lands on."""
    assert chart.instrument is not None
    return chart.instrument.round_to_tick(price_under(chart, seq, price))


def tick_dropped(chart: ChartPanel, seq: float, line: float, end: float) -> float:
    """The tick a line at ``line`` lands on when dragged from there to ``end``: it moves by
    as much as the mouse did between the two pixels."""
    assert chart.instrument is not None
    moved = price_under(chart, seq, end) - price_under(chart, seq, line)
    return chart.instrument.round_to_tick(line + moved)


def mouse(chart: ChartPanel, kind: QMouseEvent.Type, at: QPoint, held: bool) -> None:
    """One mouse event on the chart, with the left button held or not."""
    viewport = chart.view.viewport()
    buttons = Qt.MouseButton.LeftButton if held else Qt.MouseButton.NoButton
    moving = kind is QMouseEvent.Type.MouseMove
    button = Qt.MouseButton.NoButton if moving else Qt.MouseButton.LeftButton
    event = QMouseEvent(
        kind,
        QPointF(at),
        QPointF(viewport.mapToGlobal(at)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


async def drag(chart: ChartPanel, seq: float, start: float, end: float) -> None:
    """Press on a price, move there in steps with the button held, release.

    pyqtgraph drops mouse moves closer than 10 ms apart (its ``mouseRateLimit``), as a real
    mouse never sends them: each move waits until the scene takes the next one.
    """
    scene = chart.view.scene()
    a, b = pixel(chart, seq, start), pixel(chart, seq, end)
    steps = [a] + [QPoint(a.x(), a.y() + (b.y() - a.y()) * i // 5) for i in range(1, 6)]
    for i, at in enumerate(steps):
        await wait_until(scene._moveEventIsAllowed, what="pyqtgraph to take a mouse move")
        mouse(chart, QMouseEvent.Type.MouseMove, at, held=i > 0)  # first a hover: the line
        if i == 0:  # takes drags from then on
            mouse(chart, QMouseEvent.Type.MouseButtonPress, a, held=True)
    mouse(chart, QMouseEvent.Type.MouseButtonRelease, b, held=False)


def click(chart: ChartPanel, seq: float, price: float) -> None:
    at = pixel(chart, seq, price)
    mouse(chart, QMouseEvent.Type.MouseMove, at, held=False)
    mouse(chart, QMouseEvent.Type.MouseButtonPress, at, held=True)
    mouse(chart, QMouseEvent.Type.MouseButtonRelease, at, held=False)


def at_sim(sim: SimThread, ref: str) -> dict[str, Any] | None:
    return next((o for o in sim.control.orders() if o["order_ref"] == ref), None)


def lines_by_role(chart: ChartPanel) -> dict[LineRole, list[Any]]:
    out: dict[LineRole, list[Any]] = {}
    for item in chart.overlay.lines.values():
        out.setdefault(item.line.role, []).append(item)
    return out


async def blotter_caught_up(desk: Any, ref: str, column: str, price: float) -> None:
    """Wait until the blotter shows an order's new price.

    The blotter takes its own refresh of a price cell for a trader's edit and sends a modify
    of the same price (see the closing note); if that refresh came after the test, it would
    write to a closed journal. Waiting for it here keeps it inside the test.
    """
    desk.window.docks["orders"].raise_()
    model = desk.window.blotter_panel.working
    col = [c.title for c in model.columns].index(column)
    text = f"{price:,.2f}"

    def shown() -> bool:
        row = next((r for r, k in enumerate(model.row_keys()) if k == ref), None)
        return row is not None and model.item(row, col).text() == text

    await wait_until(shown, what=f"the blotter at {text}")


def no_gaps(chart: ChartPanel) -> bool:
    series = chart.series
    assert series is not None
    step = series.timeframe.seconds
    return {b - a for a, b in itertools.pairwise(series.times.tolist())} == {step}


async def price_set(desk: Any, sim: SimThread, inst: Any, price: float) -> None:
    """Move the market and wait until the desk's quote says so (the price is paused there)."""
    sim.control.pause_market()
    sim.control.set_price(inst.con_id, price)
    await wait_until(
        lambda: (q := desk.quotes.get(inst.con_id)) is not None and q.last == price,
        what=f"the quote at {price}",
    )


async def market_in_view(desk: Any, sim: SimThread, chart: ChartPanel) -> tuple[float, float]:
    """Pause the market in the middle of the chart's price range; returns that price and a
    step (whole ticks, at least 30 pixels: a drag shorter than 5 is a click to pyqtgraph)
    such that the market plus or minus four steps is on screen, where a test can click and
    drag. The range follows the bars in view, so this checks it again after the market
    moved (a new bar may have shifted the view) and tries once more."""
    sim.control.pause_market()
    inst = chart.instrument
    tick = inst.min_tick
    box = chart.view.price_box
    for _ in range(3):
        await wait_until(lambda: box.viewRange()[1][1] > 0, what="a price range")
        low, high = box.viewRange()[1]
        mid = inst.round_to_tick((low + high) / 2)
        await price_set(desk, sim, inst, mid)
        await wait_until(
            lambda at=mid: chart.series.last().close == at, what="the bar at the market"
        )
        chart.frame()  # the frame the timer would paint next, now
        low, high = box.viewRange()[1]
        thirty_px = 30 * (high - low) / box.height()
        step = max(tick, math.ceil(thirty_px / tick) * tick)
        if low < mid - 4 * step and mid + 4 * step < high:
            return mid, step
    pytest.fail("no room around the market on the chart")


def in_view(chart: ChartPanel, price: float) -> bool:
    low, high = chart.view.price_box.viewRange()[1]
    return bool(low < price < high)


# ---- history and live bars ----------------------------------------------------------------------


async def test_a_chart_loads_history_and_appends_live_bars(make_desk: MakeDesk) -> None:
    desk, chart = await chart_desk(make_desk)
    series = chart.series
    assert series is not None and series.timeframe is Timeframe.M1
    assert len(series) >= 1400, "a day of minute bars"
    assert no_gaps(chart)
    assert series.times[-1] <= time.time() < series.times[-1] + 60 + 2, "up to the forming bar"
    await wait_until(lambda: len(chart.view.visible.done) > 30, what="candles painted")
    await loaded(chart, "ES", Timeframe.S5)
    series = chart.series
    first_newest = series.times[-1]
    await wait_until(
        lambda: series.times[-1] >= first_newest + 10, timeout=15, what="two new 5-second bars"
    )
    assert no_gaps(chart), "history and live joined without a gap or a doubled bar"
    assert chart.view.following
    x1 = chart.view.price_box.viewRange()[0][1]
    assert x1 >= series.last_seq, "the view follows the newest bar"
    assert desk.history.requests == 2


async def test_history_is_asked_for_once_kept_and_joined_again_after_a_reconnect(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    area = desk.window.chart_area
    second = area.new_chart("ES", Timeframe.M1)
    await wait_until(lambda: second.series is not None, what="the second chart")
    assert second.series is chart.series and desk.history.requests == 1, "one request, shared"
    area.remove_chart(second)
    await loaded(chart, "ES", Timeframe.M5)
    await loaded(chart, "ES", Timeframe.M1)
    assert desk.history.requests == 2, "back to a lingering feed: no request"
    before = len(chart.series)
    sim.control.drop_clients()  # the desk reconnects at once
    feeds = desk.history.feeds.values()
    await wait_until(
        lambda: desk.history.requests == 4 and all(f.live is not None for f in feeds),
        timeout=15,
        what="both feeds (1m shown, 5m lingering) back",
    )
    assert len(chart.series) in (before, before + 1) and no_gaps(chart)
    m1 = [r for r in sim.control.received(msg_id=20) if r["fields"][16] == "1 min"]
    assert m1[-1]["fields"][17].endswith(" S"), "a gap of seconds, not a day again"


# ---- overlays -----------------------------------------------------------------------------------


async def test_orders_from_the_gate_tws_and_another_client_show_as_lines_with_their_money(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    es = chart.instrument
    await price_set(desk, sim, es, 6800.0)
    entry = OrderIntent(es, Side.BUY, 2, OrderType.LIMIT, TICKET, limit_price=6790.0)
    decision = desk.place(BracketIntent(entry, take_profit=6800.0, stop_loss=6785.0))
    assert decision.accepted
    await wait_until(lambda: len(chart.overlay.lines) == 3, what="three bracket lines")
    roles = lines_by_role(chart)
    [e], [tp], [sl] = roles[LineRole.ENTRY], roles[LineRole.TAKE_PROFIT], roles[LineRole.STOP]
    assert (e.value(), tp.value(), sl.value()) == (6790.0, 6800.0, 6785.0)
    # ES: $50 a point. Risk 5 points x 2 = $500 from the entry to its stop.
    assert e.line.label == "BUY 2 LMT · risk $500.00"
    assert sl.line.label == "SELL 2 STP · risk $500.00"
    assert tp.line.label == "SELL 2 LMT · target +$1,000.00"
    assert "order:" + e.line.ref in chart.view.price_axis.tags
    # An order typed into TWS shows too, and one from another API client.
    sim.control.enter_manual_order(es.con_id, "SELL", 1, "LMT", price=6815.0)
    other = shim.IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=7)
    try:
        contract = desk.resolver.contract(es.con_id)
        other.placeOrder(contract, shim.StopOrder("BUY", 3, 6820.0))
        await wait_until(lambda: len(chart.overlay.lines) == 5, what="the other two lines")
    finally:
        other.disconnect()
    by_price = {i.value(): i.line for i in chart.overlay.lines.values()}
    assert by_price[6815.0].label == "SELL 1 LMT · no stop"
    assert by_price[6820.0].label == "BUY 3 STP · no stop"
    assert by_price[6820.0].role is LineRole.ENTRY


async def test_a_fill_leaves_a_marker_and_the_position_line_shows_live_pnl(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    es = chart.instrument
    mid = 6800.0
    await price_set(desk, sim, es, mid)
    buy = OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, limit_price=mid + 0.25)
    [ref] = desk.place(buy).refs
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.FILLED, what="filled")
    await wait_until(lambda: len(chart.overlay.fills.data) == 1, what="a fill marker")
    [fill] = desk.orders.fills.values()
    marker = chart.overlay.fills.data[0]
    assert marker["y"] == fill.price and marker["x"] == chart.series.seq_at(fill.time)
    await wait_until(chart.overlay.position_line.isVisible, what="the position line")
    await price_set(desk, sim, es, mid + 2.25)
    [pos] = desk.positions.positions.values()
    pnl = (mid + 2.25 - pos.avg_price) * 50  # IB's average price includes the commission
    want = f"LONG 1 @ {pos.avg_price:,.2f} · +${pnl:,.2f}"
    await wait_until(lambda: chart.overlay.position_text.format == want, what=want)
    assert chart.overlay.position_line.value() == pos.avg_price


# ---- trading from the chart ---------------------------------------------------------------------


async def test_dragging_an_order_line_modifies_the_order_at_the_simulator(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    es = chart.instrument
    mid, d = await market_in_view(desk, sim, chart)
    price, target = mid - 2 * d, mid - 3 * d
    buy = OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, limit_price=price)
    [ref] = desk.place(buy).refs
    await wait_until(lambda: ref in chart.overlay.lines, what="the order's line")
    await wait_until(lambda: at_sim(sim, ref) is not None, what="working at the simulator")
    seq = chart.series.last_seq - 10
    off_tick = target - 0.3 * es.min_tick
    await drag(chart, seq, price, off_tick)  # unarmed: the line does not move
    assert at_sim(sim, ref)["lmt_price"] == price
    assert chart.overlay.lines[ref].value() == price
    chart.set_armed(True)
    target = tick_dropped(chart, seq, price, off_tick)
    assert target != price
    await drag(chart, seq, price, off_tick)
    await wait_until(lambda: at_sim(sim, ref)["lmt_price"] == target, what="modified, on tick")
    await wait_until(lambda: desk.orders.get(ref).limit_price == target, what="echoed")
    assert chart.overlay.lines[ref].value() == target
    assert "Changed" in chart.message.text()
    await blotter_caught_up(desk, ref, "Limit", target)


async def test_labels_of_lines_a_tick_apart_do_not_overlap(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Two orders a tick apart: each label readable, side by side along the lines."""
    desk, chart = await chart_desk(make_desk)
    es = chart.instrument
    mid, d = await market_in_view(desk, sim, chart)
    refs = []
    for price in (mid - 2 * d, mid - 2 * d - es.min_tick, mid - 2 * d - 2 * es.min_tick):
        buy = OrderIntent(es, Side.BUY, 1, OrderType.LIMIT, TICKET, limit_price=price)
        refs += desk.place(buy).refs
    await wait_until(lambda: all(r in chart.overlay.lines for r in refs), what="three lines")

    def boxes() -> list[Any]:
        return [chart.overlay.lines[r].text.sceneBoundingRect() for r in refs]

    def apart() -> bool:
        b = boxes()
        return not any(b[i].intersects(b[j]) for i in range(3) for j in range(i + 1, 3))

    await wait_until(apart, timeout=3, what=f"labels apart: {boxes()}")


async def test_a_drag_that_needs_confirming_waits_for_the_trader(
    make_desk: MakeDesk, sim: SimThread, settings_for: Any
) -> None:
    base = settings_for(risk=limits_off())
    settings = Settings(
        connection=base.connection, risk=base.risk, ticket=TicketSettings(confirm="always")
    )
    desk, chart = await chart_desk(make_desk, settings=settings)
    es = chart.instrument
    mid, d = await market_in_view(desk, sim, chart)
    price, target = mid - 2 * d, mid - 3 * d
    stop = OrderIntent(es, Side.SELL, 1, OrderType.STOP, TICKET, stop_price=price)
    [ref] = desk.place(stop).refs
    await wait_until(lambda: at_sim(sim, ref) is not None, what="working at the simulator")
    await wait_until(lambda: ref in chart.overlay.lines, what="the stop's line")
    chart.set_armed(True)
    seq = chart.series.last_seq - 5
    await drag(chart, seq, price, target)
    box = await wait_until(lambda: chart.trader.confirmation, what="a confirmation")
    assert at_sim(sim, ref)["aux_price"] == price, "nothing sent before the answer"
    box.cancel_button.click()
    await wait_until(lambda: "cancelled" in chart.message.text(), what="the outcome")
    assert chart.overlay.lines[ref].value() == price, "snapped back"
    await drag(chart, seq, price, target)
    box = await wait_until(lambda: chart.trader.confirmation, what="a second confirmation")
    box.send_button.click()
    await wait_until(lambda: at_sim(sim, ref)["aux_price"] == target, what="stop moved")
    await blotter_caught_up(desk, ref, "Stop", target)


async def test_a_drag_the_gate_would_refuse_asks_nothing_and_snaps_back(
    make_desk: MakeDesk, sim: SimThread, settings_for: Any
) -> None:
    """With confirmations always on, a drag through the collar is refused before any
    confirmation is shown: the trader is never offered Send for what the gate refuses."""
    base = settings_for(risk=dataclasses.replace(limits_off(), collar_ticks=4))
    settings = Settings(
        connection=base.connection, risk=base.risk, ticket=TicketSettings(confirm="always")
    )
    desk, chart = await chart_desk(make_desk, settings=settings)
    es = chart.instrument
    mid, d = await market_in_view(desk, sim, chart)
    price = es.round_to_tick(mid - 2 * es.min_tick)
    stop = OrderIntent(es, Side.SELL, 1, OrderType.STOP, TICKET, stop_price=price)
    decision = desk.place(stop)
    assert decision.accepted, decision.reason
    [ref] = decision.refs
    await wait_until(lambda: at_sim(sim, ref) is not None, what="working at the simulator")
    await wait_until(lambda: ref in chart.overlay.lines, what="the stop's line")
    chart.set_armed(True)
    far = mid - 3 * d  # well past 4 ticks from the market
    await drag(chart, chart.series.last_seq - 5, price, far)
    await wait_until(lambda: "price_collar" in chart.message.text(), what="the refusal")
    assert chart.trader.confirmation is None
    assert chart.overlay.lines[ref].value() == price, "snapped back"
    assert at_sim(sim, ref)["aux_price"] == price


async def test_clicks_do_nothing_until_the_chart_is_armed(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    mid, d = await market_in_view(desk, sim, chart)
    tick = chart.instrument.min_tick
    assert not chart.arm_button.isChecked(), "a chart opens disarmed"
    seq = chart.series.last_seq - 3
    since = time.perf_counter()
    click(chart, seq, mid - 3 * d)
    await wait_until(lambda: "Arm the chart" in chart.message.text(), what="the hint")
    assert not [o for o in desk.orders.orders.values() if o.source.kind == "chart"]
    chart.arm_button.click()
    aim = mid - 3 * d + 0.3 * tick
    click(chart, seq, aim)
    await wait_until(
        lambda: sim.control.received(since=since, msg_id=3), what="an order at the simulator"
    )
    [order] = [o for o in desk.orders.orders.values() if o.source.kind == "chart"]
    assert (order.side, order.order_type, order.limit_price) == (
        Side.BUY,
        OrderType.LIMIT,
        tick_under(chart, seq, aim),
    ), "below the market: a buy limit, on the tick"
    assert order.limit_price < mid
    await wait_until(lambda: order.ref in chart.overlay.lines, what="its line")
    # A press on a line that does not become a drag is a grab gone wrong, never an order.
    await wait_until(lambda: at_sim(sim, order.ref) is not None, what="working")
    placed = len(sim.control.received(since=since, msg_id=3))
    click(chart, seq, mid - 3 * d)
    chart.frame()
    assert len(sim.control.received(since=since, msg_id=3)) == placed
    assert len([o for o in desk.orders.orders.values() if o.source.kind == "chart"]) == 1
    chart.arm_button.click()
    assert not chart.trader.armed and not chart.overlay.lines[order.ref].movable


async def test_the_context_menu_prefills_the_ticket_with_a_tick_rounded_price(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, chart = await chart_desk(make_desk)
    es = chart.instrument
    await price_set(desk, sim, es, 6800.0)
    asked: list[TicketRequest] = []
    chart.trader.on_ticket = asked.append
    below = chart.context_menu(6791.13, 6800.0)
    texts = [a.text() for a in below.actions() if a.text()]
    assert texts[:3] == [
        "Buy limit here (6791.25)",
        "Sell stop here (6791.25)",
        "Bracket here: buy at 6791.25 with the template's exits",
    ]
    for action in below.actions()[:3]:
        action.trigger()
    assert asked == [
        TicketRequest(es, Side.BUY, order_type=OrderType.LIMIT, price=6791.25, bracket=False),
        TicketRequest(es, Side.SELL, order_type=OrderType.STOP, price=6791.25, bracket=False),
        TicketRequest(es, Side.BUY, order_type=OrderType.LIMIT, price=6791.25, bracket=True),
    ]
    above = chart.context_menu(6810.0, 6800.0)
    assert [a.text() for a in above.actions()][:2] == [
        "Sell limit here (6810.00)",
        "Buy stop here (6810.00)",
    ]
    below.deleteLater()
    above.deleteLater()
    assert not desk.orders.orders, "the menu sends nothing"


async def test_keys_pan_and_zoom_and_end_follows_the_newest_bar_again(
    make_desk: MakeDesk, qtbot: Any
) -> None:
    _, chart = await chart_desk(make_desk)
    view = chart.view
    view.setFocus()
    x0 = view.price_box.viewRange()[0][0]
    qtbot.keyClick(view, Qt.Key.Key_Left)
    after = view.price_box.viewRange()[0]
    assert after[0] < x0 and not view.following, "scrolled back: the view stays put"
    qtbot.keyClick(view, Qt.Key.Key_Down)
    wider = view.price_box.viewRange()[0]
    assert wider[1] - wider[0] > (after[1] - after[0]) * 1.2
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.following and view.price_box.viewRange()[0][1] > chart.series.last_seq
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.following, "zooming at the newest bar keeps following"


async def test_the_crosshair_spells_out_the_bar_under_the_mouse(make_desk: MakeDesk) -> None:
    _, chart = await chart_desk(make_desk)
    series = chart.series
    seq = series.last_seq - 7
    bar = series.bar(seq - series.first_seq)
    price = (bar.high + bar.low) / 2

    def hovering() -> bool:
        # Moved again until it shows: pyqtgraph drops a move within 10 ms of the last one,
        # and a window shown elsewhere can send the chart a Leave. The pixel is found afresh
        # each time: a new live bar scrolls a following view, and the price range rescales.
        mouse(chart, QMouseEvent.Type.MouseMove, pixel(chart, seq, price), held=False)
        return chart.view.cross_x.isVisible() and chart.view.cross_x.value() == seq

    await wait_until(hovering, what="the crosshair")
    legend = chart.legend.text()
    when = dt.datetime.fromtimestamp(bar.time, ZoneInfo("US/Central"))
    assert f"{when:%a %d %b %H:%M} CT" in legend and f"{bar.close:,.2f}" in legend
    tag = chart.view.price_axis.tags["cross"]
    tick = chart.instrument.min_tick
    assert abs(tag.price - price) <= tick
    assert tag.price / tick == pytest.approx(round(tag.price / tick)), "on the tick grid"
    assert tag.text == f"{tag.price:,.2f}"
    assert chart.view.cross_y.value() == tag.price
    chart.frame()  # no network in between: the tag and the quote are the same moment's
    last = chart.view.price_axis.tags["last"]
    assert last.price == chart.last_price()


class LayoutRequests(QObject):
    """Counts the layout requests a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False

    async def quiet_for(self, seconds: float, timeout: float = 5.0) -> None:
        """Wait until ``seconds`` pass without a request (a layout in progress settles)."""
        deadline = time.monotonic() + timeout
        seen, since = self.count, time.monotonic()
        while time.monotonic() - since < seconds:
            assert time.monotonic() < deadline, "the layout never settled"
            await asyncio.sleep(0.01)
            if self.count != seen:
                seen, since = self.count, time.monotonic()


async def test_the_legend_changes_without_laying_the_chart_out_again(make_desk: MakeDesk) -> None:
    """The legend changes on every frame of a busy market. A new text of the same height is
    a repaint of the legend alone: a new layout of the chart, and of the window above it,
    took 11 % of a core with four charts at 10,000 messages a second (benchmarks.chart)."""
    _, chart = await chart_desk(make_desk)
    series, legend = chart.series, chart.legend
    chart.view.hovered.emit(float(series.last_seq - 3))
    requests = LayoutRequests()
    chart.installEventFilter(requests)
    try:
        chart.window().resize(1600, 1000)
        await requests.quiet_for(0.2)  # the window's new size laid out
        height = legend.height()
        assert height == legend.heightForWidth(legend.width())
        requests.count = 0
        for back in range(4, 10):
            shown = legend.text()
            chart.view.hovered.emit(float(series.last_seq - back))
            assert legend.text() != shown
            assert legend.heightForWidth(legend.width()) == height
            await asyncio.sleep(0.02)  # the loop runs: a posted layout request arrives
    finally:
        chart.removeEventFilter(requests)
    assert requests.count == 0
    assert legend.heightForWidth(300) > height, "a narrow chart wraps its legend onto more lines"
    assert legend.minimumSizeHint().width() < 120, "the legend never widens a chart"


async def test_an_unknown_symbol_says_so_in_the_chart(make_desk: MakeDesk) -> None:
    desk, chart = await chart_desk(make_desk)
    await chart.load("ZZZZQ", Timeframe.M1)
    assert "ZZZZQ" in chart.message.text() and chart.series is None
    assert chart.key is None and not [f for f in desk.history.feeds.values() if f.users]


def test_saved_charts_that_make_no_sense_are_skipped() -> None:
    assert parse_saved("ES|1m;NQ|7m;|5m;aapl|1h|linked;5;GC|5m|what") == [
        ("ES", Timeframe.M1, False),
        ("AAPL", Timeframe.H1, True),
        ("GC", Timeframe.M5, False),
    ]
    assert parse_saved(["CL|1D"]) == [("CL", Timeframe.D1, False)]
    assert parse_saved("") == parse_saved(None) == []


# ---- the chart area -----------------------------------------------------------------------------


async def test_charts_are_remembered_with_their_symbols_and_timeframes(
    make_desk: MakeDesk,
) -> None:
    desk, chart = await chart_desk(make_desk)
    area = desk.window.chart_area
    await loaded(chart, "NQ", Timeframe.M5)
    aapl = area.new_chart("AAPL", Timeframe.H1)
    await wait_until(lambda: aapl.series is not None, what="the AAPL chart")
    assert desk.window.state.value("charts/list") == "NQ|5m;AAPL|1h"
    again = await make_desk(start=False, client_id=2)
    assert [(c.symbol, c.timeframe) for c in again.window.chart_area.charts] == [
        ("NQ", Timeframe.M5),
        ("AAPL", Timeframe.H1),
    ]


async def test_the_account_panel_draws_the_days_pnl(make_desk: MakeDesk, sim: SimThread) -> None:
    desk, _ = await chart_desk(make_desk)
    curve = desk.window.account_panel.pnl_curve
    await wait_until(lambda: len(curve.trail) >= 2, timeout=10, what="two P&L samples")
    times, values = curve.trail.arrays()
    assert (times[1:] > times[:-1]).all() and not math.isnan(values[-1])
    x, _ = curve.line.getData()
    assert len(x) == len(curve.trail)
    # The time axis speaks wall-clock time, not pyqtgraph's "04.000" for a short span.
    axis = curve.getAxis("bottom")
    first, last = float(times[0]), float(times[-1])
    labels = axis.tickStrings([first, first + 0.2, last], 0.2, 0.2)
    assert labels[0] == time.strftime("%H:%M:%S", time.localtime(first))
    assert labels[1] == "" or labels[1] != labels[0]  # a second's label is written once


async def test_another_client_sees_the_same_bars(make_desk: MakeDesk, sim: SimThread) -> None:
    """The back-fill is what IB (the simulator) has: a raw client asking the same gets the
    same closes."""
    desk, chart = await chart_desk(make_desk)
    sim.control.pause_market()
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=7)
    try:
        contract = desk.resolver.contract(chart.instrument.con_id)
        bars = await ib.reqHistoricalDataAsync(contract, "", "3600 S", "1 min", "TRADES", False, 2)
        # Bars that completed while the chart watched may differ by the last second's
        # trades (a keepUpToDate revision comes once a second); older ones are history.
        theirs = {b.date.timestamp(): b.close for b in bars[:-5]}
        series = chart.series
        ours = dict(zip(series.times.tolist(), series.closes.tolist(), strict=True))
        assert all(ours[t] == c for t, c in theirs.items())
    finally:
        ib.disconnect()
