"""A hostile stream between the desk and the simulator (issue 12, findings 6, 7 and 13).

A proxy (tests/proxy.py) sits between the desk and the simulated TWS and sends what an
attacker or a broken network would: megabyte strings in errors and tick strings, prices of
1e23, NaN and infinity, negative sizes, 30,000 undecodable tick frames, junk executions, an
SSHORT order, a stalled stream. The desk must stay responsive (its loop's lag measured by a
probe timer on that loop), store none of the junk, and say what it refused once per kind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ibdesk.broker import ib as shim
from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState, Severity
from ibdesk.domain.notices import DATA_SILENCE
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui import theme
from ibdesk.ui.panels.log import MAX_LINE_CHARS
from tests.helpers import quick_sim, wait_until
from tests.probe import LoopLagProbe
from tests.proxy import (
    WireProxy,
    error_frame,
    frame,
    malformed_ticks,
    tick_price_frame,
    tick_size_frame,
    tick_string_frame,
)

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
MIB = 1 << 20
GLOBAL_CANCEL = 58
EXEC_DETAILS = 11
OPEN_ORDER = 5


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
def proxy(sim: SimThread) -> Iterator[WireProxy]:
    with WireProxy(sim.port) as running:
        yield running


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


async def desk_behind(make_desk: MakeDesk, proxy: WireProxy, sim: SimThread) -> tuple[Any, Any]:
    """A desk connected through the proxy (limits off: the orders here are about the broker's
    answers), its watchlist subscribed, and the ES front month at 6800."""
    desk = await make_desk(port=proxy.port, risk=limits_off())
    await wait_until(lambda: connected(desk), what="connected through the proxy")
    await wait_until(lambda: not desk.tasks, timeout=10, what="the watchlist subscribed")
    es = await desk.resolver.resolve("ES")
    sim.control.set_price(es.con_id, 6800.0)
    return desk, es


def limit(inst: Any, side: Side, price: float) -> OrderIntent:
    return OrderIntent(inst, side, 1, OrderType.LIMIT, Source("ticket"), limit_price=price)


async def round_trip(desk: Any, inst: Any) -> None:
    """Everything the proxy sent before now has reached the desk's library (TCP keeps order,
    and the answer comes after it), and the inbound guard has decoded all of it.

    A contract-details request, not reqCurrentTime: the library keeps one future for the
    time, and the session's own round-trip probe would take it over.
    """
    contract = shim.Contract(conId=inst.con_id)
    await asyncio.wait_for(desk.session.ib.reqContractDetailsAsync(contract), 30)
    await wait_until(lambda: desk.session.inbound.waiting == 0, what="everything decoded")


async def test_a_hostile_stream_keeps_the_desk_responsive_and_its_books_clean(
    make_desk: MakeDesk, sim: SimThread, proxy: WireProxy, expected_faults: Any
) -> None:
    # Tracebacks are bounded: the first of each kind and a summary, not 30,000.
    expected_faults.allow_decoder_errors(10)
    desk, es = await desk_behind(make_desk, proxy, sim)
    link = proxy.link(client_id=1)
    await wait_until(lambda: es.con_id in link.market_req_ids, what="ES subscribed")
    req = link.market_req_ids[es.con_id]
    await wait_until(lambda: desk.quotes.get(es.con_id) is not None, what="an ES quote")
    [ref] = desk.place(limit(es, Side.BUY, 6700.0)).refs
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.WORKING, what="working")
    order_id = desk.orders.get(ref).order_id
    reconnects: list[bool] = []
    desk.session.connected += lambda: reconnects.append(True)
    probe = LoopLagProbe().start()

    proxy.send(
        1,
        error_frame(-1, 10225, "E" * MIB),  # a system error of a megabyte
        error_frame(order_id, 399, "W" * MIB),  # a warning on a working order
        tick_string_frame(req, 32, "S" * MIB),  # a bid exchange of a megabyte
        tick_string_frame(req, 45, "9" * MIB),  # a last timestamp no one can parse
        tick_price_frame(req, 6, "1e23"),  # the day's high
        tick_price_frame(req, 1, "inf"),
        tick_price_frame(req, 2, "nan"),
        tick_size_frame(req, 0, "-5"),
        malformed_ticks(req, 30_000),
    )
    await round_trip(desk, es)
    await wait_until(lambda: not desk.window.log_panel.backlog(), timeout=10, what="the log")
    lags = probe.stop()

    assert len(lags) > 20
    assert probe.p99() < 50, f"loop lag p99 {probe.p99():.0f} ms, worst {probe.worst():.0f} ms"
    assert probe.worst() < 500
    # Neither watchdog fired: no global cancel reached the broker, the link never dropped.
    assert not sim.control.received(msg_id=GLOBAL_CANCEL)
    assert desk.safety.line is None or desk.safety.line.fired is None
    assert connected(desk) and not reconnects and DATA_SILENCE not in desk.link.notices
    # Nothing absurd in the books.
    quote = desk.quotes.get(es.con_id)
    assert not quote.high > 1e6  # refused (the last sane high, or none yet)
    assert math.isfinite(quote.bid)  # infinity refused: the last sane bid is kept
    assert not quote.ask > 1e6  # "nan" parses as NaN, which is "no ask"
    assert not quote.bid_size < 0
    assert len(desk.orders.get(ref).reason) < 1000
    assert all(len(n.text) < 1000 for n in desk.link.notices.values())
    assert all(len(t) < 1000 for t in desk.window.banners.texts())
    lines = desk.window.log_panel.text.toPlainText().splitlines()
    assert max(map(len, lines)) <= MAX_LINE_CHARS + 80
    # And it still works: quotes flow, an order goes through.
    sim.control.set_price(es.con_id, 6801.0)
    await wait_until(lambda: desk.quotes.get(es.con_id).last == 6801.0, what="a fresh quote")
    assert desk.orders.get(ref).state is OrderState.WORKING


async def test_junk_fills_are_refused_and_said_once_per_kind(
    make_desk: MakeDesk, sim: SimThread, proxy: WireProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ibdesk.broker")
    desk, es = await desk_behind(make_desk, proxy, sim)
    real: list[list[str]] = []
    proxy.rewrite(EXEC_DETAILS, lambda fields: real.append(fields) or fields)
    assert desk.place(limit(es, Side.BUY, 6800.25)).accepted  # marketable: fills at once
    await wait_until(lambda: real and len(desk.orders.fills) == 1, what="the real fill")
    fields = real[0]
    side = fields.index("BOT")  # the sim's layout: execId, time, account, exchange, side, ...
    at = {"order_id": 2, "con_id": 3, "exec_id": side - 4, "shares": side + 1}
    at |= {"price": side + 2, "perm_id": side + 3, "ref": side + 8, "side": side}

    def junk(n: int, **changes: str) -> bytes:
        f = list(fields)
        f[at["exec_id"]] = f"junk.{n}.{len(changes)}.{next(iter(changes))}"
        for name, value in changes.items():
            f[at[name]] = value
        return frame(*f)

    for n in range(5):  # each kind five times: one log line per kind
        proxy.send(
            1,
            junk(n, shares="-5"),
            junk(n, price="nan"),
            junk(n, side="XYZ"),
            junk(n, con_id="999999"),
            junk(n, perm_id="0", order_id="0", ref=""),
        )
    await round_trip(desk, es)
    await desk.router.reconcile()  # the library keeps fills of unknown orders for this

    assert len(desk.orders.fills) == 1
    assert len(desk.journal.fills_since(0)) == 1
    blotter = desk.window.blotter_panel
    await wait_until(lambda: blotter.fills.rowCount() == 1, what="one fill in the blotter")
    said = Counter(
        r.__dict__.get("flood_key")
        for r in caplog.records
        if r.getMessage().startswith("refused from the broker")
    )
    assert set(said) == {"fill:quantity", "fill:price", "fill:side", "fill:contract", "fill:order"}
    assert max(said.values()) == 1, said


async def test_an_sshort_order_is_shown_as_a_sell(
    make_desk: MakeDesk, sim: SimThread, proxy: WireProxy, connect: Any
) -> None:
    sim.sim.config.master_client_id = 1  # the desk sees every client's orders
    desk, es = await desk_behind(make_desk, proxy, sim)

    def short_sale(fields: list[str]) -> list[str]:
        if "SELL" in fields:
            fields[fields.index("SELL")] = "SSHORT"
        return fields

    proxy.rewrite(OPEN_ORDER, short_sale)
    other = await connect(client_id=7)  # straight to the simulator: its own view is honest
    contract = shim.Future(conId=es.con_id, exchange=es.exchange)
    trade = other.placeOrder(contract, shim.LimitOrder("SELL", 2, 6900.0))
    await wait_until(lambda: trade.order.permId, what="the order at the broker")
    ref = f"ext:{trade.order.permId}"
    await wait_until(lambda: desk.orders.get(ref) is not None, what="the order on the desk")
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.WORKING, what="working")
    assert desk.orders.get(ref).side is Side.SELL
    working = desk.window.blotter_panel.working
    await wait_until(lambda: ref in working.row_keys(), what="the order in the blotter")
    row = working.row_keys().index(ref)
    side = [c.title for c in working.columns].index("Side")
    assert working.data(working.index(row, side), Qt.ItemDataRole.DisplayRole) == "SELL"


async def test_a_stalled_stream_turns_red_and_grey_then_comes_back(
    make_desk: MakeDesk, sim: SimThread, settings_for: Any
) -> None:
    settings = settings_for(silence_after=0.5, answer_within=0.5, connect_timeout=3.0)
    desk = await make_desk(settings=settings)
    await wait_until(lambda: connected(desk), what="connected")
    bar = desk.window.status
    await wait_until(lambda: desk.link.farms and desk.link.rtt_ms is not None, what="lights on")
    sim.control.stall(3000)
    await wait_until(
        lambda: any(t.startswith("No data from TWS for") for t in desk.window.banners.texts()),
        timeout=5,
        what="a red banner",
    )
    assert desk.link.notices[DATA_SILENCE].severity is Severity.ERROR
    assert "Connected" not in bar.state.text()
    dim = theme.current().dim
    assert bar.farms.text().count(dim) == 3 and dim in bar.rtt.text()
    await wait_until(lambda: connected(desk), timeout=10, what="reconnected")
    await wait_until(lambda: desk.link.farms, what="farm lights back")
    assert desk.link.notices[DATA_SILENCE].severity is Severity.WARNING
