"""placeOrder parsing and openOrder / completedOrder echoes, against the real client library.

The bytes under test are the ones the installed client (ib_async or ib_insync) really sends:
a client connects to the simulated TWS, places one order of every kind, and the server's
inbound log gives back each placeOrder as received. Every field the parser names must hold
what the client put in that attribute, and the echoes must decode in the client to the same
order. The hypothesis tests then cut, pad and garble those real messages.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimThread
from ibdesk.simtws.order_codec import (
    CONTRACT_FIELDS,
    OrderParseError,
    PlacedOrder,
    parse_place_order,
)
from ibdesk.simtws.wire import UNSET_DOUBLE, UNSET_INTEGER
from tests.helpers import quick_sim
from tests.sim.conftest import wait_until

pytestmark = pytest.mark.sim

lib = shim.lib
VERSIONS = (157, 166, 170, 176)

#: Fields the parser records that are not attributes of the client's Order or Contract.
BOOKKEEPING = {
    "sharesAllocation",  # deprecated, always sent empty
    "deltaNeutralContractPresent",
    "algoParamsCount",
    "conditionsCount",
    "conditions",
    "algoParams",
    "softDollarTierName",
    "softDollarTierValue",
}
#: Fields that only some server versions carry (TWS_PROTOCOL.md §7).
SINCE = {
    "duration": 158,
    "postToAts": 160,
    "autoCancelParent": 162,
    "advancedErrorOverride": 166,
    "manualOrderTime": 169,
}


def wire_text(value: Any) -> str:
    """A value as the client library puts it on the wire (TWS_PROTOCOL.md §3)."""
    if value is None or (not isinstance(value, str) and value in (UNSET_INTEGER, UNSET_DOUBLE)):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and math.isinf(value):
        return "Infinite"
    if isinstance(value, list):  # TagValues, e.g. orderMiscOptions
        return "".join(f"{tv.tag}={tv.value};" for tv in value)
    return str(value)


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(params=VERSIONS, ids=[f"v{v}" for v in VERSIONS])
def version(request: pytest.FixtureRequest) -> int:
    """The server version the simulator announces."""
    return int(request.param)


@pytest.fixture
def sim(version: int) -> Iterator[SimThread]:
    """A simulator whose market stands still, so resting orders stay where they were put."""
    config = quick_sim(max_version=version, start_paused=True)
    with SimThread(config) as running:
        yield running


@pytest_asyncio.fixture
async def clients(sim: SimThread) -> AsyncIterator[list[Any]]:
    """Connected clients made with :func:`connect`; all disconnected afterwards."""
    made: list[Any] = []
    yield made
    for ib in made:
        ib.disconnect()
    await asyncio.sleep(0)


async def connect(sim: SimThread, clients: list[Any], client_id: int = 1) -> Any:
    """Connect one more real client to the simulator."""
    ib = shim.IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=5)
    clients.append(ib)
    return ib


@dataclasses.dataclass
class Book:
    """What a test placed: order id -> (contract, order), plus the what-if order."""

    placed: dict[int, tuple[Any, Any]]
    what_if: tuple[Any, Any]
    what_if_state: Any
    labels: dict[str, int]
    es_last: float


async def place_every_kind(ib: Any, sim: SimThread) -> Book:
    """Place one order of every kind the desk uses, and wait until the server has them all."""
    [front] = await shim.qualify(ib, shim.ContFuture("ES", exchange=""))
    [es] = await shim.qualify(ib, shim.Future(conId=front.conId))
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    last = sim.control.quote("ES")["last"]
    stock = sim.control.quote("AAPL")["last"]
    orders: list[tuple[str, Any, Any]] = [
        ("mkt", aapl, shim.MarketOrder("BUY", 10)),
        (
            "lmt",
            es,
            shim.LimitOrder("BUY", 2, last - 10, tif="GTC", outsideRth=True, orderRef="desk-7"),
        ),
        ("stp", es, shim.StopOrder("SELL", 1, last - 20, tif="DAY")),
        ("stp_lmt", es, shim.StopLimitOrder("BUY", 1, last + 21, last + 20)),
        (
            "trail_amount",
            es,
            shim.Order(
                action="SELL",
                orderType="TRAIL",
                totalQuantity=1,
                auxPrice=12.5,
                trailStopPrice=last - 12.5,
            ),
        ),
        (
            "trail_percent",
            es,
            shim.Order(action="SELL", orderType="TRAIL", totalQuantity=1, trailingPercent=0.5),
        ),
        ("ioc", aapl, shim.LimitOrder("BUY", 5, round(stock - 5, 2), tif="IOC")),
        ("oca_a", es, shim.LimitOrder("BUY", 1, last - 15, ocaGroup="grp-1", ocaType=2)),
        ("oca_b", es, shim.LimitOrder("SELL", 1, last + 15, ocaGroup="grp-1", ocaType=2)),
        (
            "algo",
            aapl,
            shim.LimitOrder(
                "BUY",
                20,
                round(stock - 3, 2),
                algoStrategy="Adaptive",
                algoParams=[lib.TagValue("adaptivePriority", "Patient")],
            ),
        ),
        (
            "conditional",
            es,
            shim.LimitOrder(
                "BUY",
                1,
                last - 30,
                conditions=[
                    lib.PriceCondition(isMore=False, price=last - 25.5, conId=es.conId, exch="CME"),
                    lib.TimeCondition(conjunction="o", isMore=True, time="20300102 15:30:00 UTC"),
                ],
                conditionsIgnoreRth=True,
            ),
        ),
    ]
    placed: dict[int, tuple[Any, Any]] = {}
    labels: dict[str, int] = {}

    def place(label: str, contract: Any, order: Any) -> None:
        ib.placeOrder(contract, order)
        # The echoes update the client's own Order in place: keep it as it was sent.
        placed[order.orderId] = (contract, copy.deepcopy(order))
        labels[label] = order.orderId

    for label, contract, order in orders:
        place(label, contract, order)
    # bracketOrder takes its ids when it is built; ids must rise, so build it last.
    bracket = ib.bracketOrder("BUY", 1, last - 8, last + 8, last - 16)
    place("parent", es, bracket.parent)
    place("take_profit", es, bracket.takeProfit)
    place("stop_loss", es, bracket.stopLoss)
    what_if = shim.LimitOrder("BUY", 1, last - 5)
    state = await asyncio.wait_for(ib.whatIfOrderAsync(es, what_if), 5)
    await wait_until(
        lambda: len(sim.control.received(msg_id=3)) == len(placed) + 1,
        what="every placeOrder at the server",
    )
    return Book(placed, (es, what_if), state, labels, last)


def parsed_orders(sim: SimThread, version: int) -> list[PlacedOrder]:
    """Every placeOrder the server received, parsed at the session's version."""
    return [parse_place_order(r["fields"], version) for r in sim.control.received(msg_id=3)]


def check_fields(p: PlacedOrder, contract: Any, order: Any) -> None:
    """Each named field holds what the client sent from the attribute of that name."""
    unknown = []
    for name, text in p.raw.items():
        if name in CONTRACT_FIELDS or name in ("secIdType", "secId"):
            expected = wire_text(getattr(contract, name))
        elif name in BOOKKEEPING:
            continue
        elif hasattr(order, name):
            expected = wire_text(getattr(order, name))
        else:
            unknown.append(name)
            continue
        assert text == expected, f"{name}: parsed {text!r}, client sent {expected!r}"
    assert not unknown, f"parser names that are not client attributes: {unknown}"
    tier = order.softDollarTier
    assert (p.text("softDollarTierName"), p.text("softDollarTierValue")) == (tier.name, tier.val)
    algo = [x for tv in (order.algoParams or []) for x in (tv.tag, tv.value)]
    assert p.text("algoParams") == "\x1f".join(algo)
    conditions = [wire_text(v) for c in order.conditions for v in dataclasses.astuple(c)]
    assert p.text("conditions") == "\x1f".join(conditions)


# ---- placeOrder as the client sends it ----------------------------------------------------


async def test_every_order_kind_parses_with_each_field_under_its_ib_name(
    sim: SimThread, clients: list[Any], version: int
) -> None:
    ib = await connect(sim, clients)
    book = await place_every_kind(ib, sim)
    parsed = parsed_orders(sim, version)
    assert len(parsed) == len(book.placed) + 1
    by_id = {p.order_id: p for p in parsed if not p.flag("whatIf")}
    assert by_id.keys() == book.placed.keys()
    for order_id, (contract, order) in book.placed.items():
        check_fields(by_id[order_id], contract, order)
    for p in parsed:
        for name, since in SINCE.items():
            assert (name in p.raw) == (version >= since), (name, version)

    # The fields the engine acts on, spelled out for each kind.
    get = {label: by_id[oid] for label, oid in book.labels.items()}
    assert get["mkt"].text("orderType") == "MKT" and get["mkt"].number("lmtPrice") is None
    lmt = get["lmt"]
    assert (lmt.text("tif"), lmt.text("orderRef")) == ("GTC", "desk-7")
    assert lmt.flag("outsideRth")
    assert lmt.number("totalQuantity") == 2
    assert get["stp"].number("auxPrice") is not None and get["stp"].number("lmtPrice") is None
    stop_limit = get["stp_lmt"]
    last = book.es_last
    assert (stop_limit.number("lmtPrice"), stop_limit.number("auxPrice")) == (last + 21, last + 20)
    assert get["trail_amount"].number("auxPrice") == 12.5
    assert get["trail_amount"].number("trailingPercent") is None
    assert get["trail_percent"].number("trailingPercent") == 0.5
    assert get["trail_percent"].number("auxPrice") is None
    assert get["ioc"].text("tif") == "IOC"
    for leg in ("oca_a", "oca_b"):
        assert (get[leg].text("ocaGroup"), get[leg].text("ocaType")) == ("grp-1", "2")
    assert get["algo"].text("algoStrategy") == "Adaptive"
    assert get["algo"].text("algoParams") == "adaptivePriority\x1fPatient"
    cond = get["conditional"]
    assert cond.text("conditions").split("\x1f")[0] == "1"  # a PriceCondition first
    assert cond.text("conditions").split("\x1f")[7] == "3"  # then a TimeCondition
    assert cond.flag("conditionsIgnoreRth") and not cond.flag("conditionsCancelOrder")
    parent = book.labels["parent"]
    assert not get["parent"].flag("transmit") and get["parent"].text("parentId") == "0"
    assert not get["take_profit"].flag("transmit")
    assert get["stop_loss"].flag("transmit")
    for child in ("take_profit", "stop_loss"):
        assert get[child].text("parentId") == str(parent)

    [what_if] = [p for p in parsed if p.flag("whatIf")]
    contract, order = book.what_if
    sent = copy.copy(order)
    sent.whatIf = True  # whatIfOrderAsync sends a copy with this change, under a request id
    sent.orderId = what_if.order_id
    check_fields(what_if, contract, sent)
    state = book.what_if_state
    assert float(state.initMarginChange) == pytest.approx(
        float(state.initMarginAfter) - float(state.initMarginBefore)
    )
    assert float(state.commission) == pytest.approx(0.85)


# ---- the echoes, decoded by the client ----------------------------------------------------

ECHOED = (
    "action",
    "totalQuantity",
    "orderType",
    "lmtPrice",
    "auxPrice",
    "ocaGroup",
    "ocaType",
    "orderRef",
    "outsideRth",
    "trailingPercent",
    "algoStrategy",
    "algoParams",
    "conditions",
    "conditionsIgnoreRth",
    "conditionsCancelOrder",
)


def same_order(got: Any, sent: Any, sim_view: dict[str, Any]) -> None:
    """The decoded echo carries the placed order's terms (and the server's trail stop)."""
    for name in ECHOED:
        assert getattr(got, name) == getattr(sent, name), name
    assert got.tif == (sent.tif or "DAY")  # as TWS, the echo names the default
    trail = sim_view["trail_stop_price"]
    assert got.trailStopPrice == (UNSET_DOUBLE if trail is None else trail)
    assert got.permId == sim_view["perm_id"]


async def test_open_orders_decode_in_a_fresh_client_as_they_were_placed(
    sim: SimThread, clients: list[Any], version: int
) -> None:
    first = await connect(sim, clients)
    book = await place_every_kind(ib=first, sim=sim)
    views = {o["order_id"]: o for o in sim.control.orders()}
    first.disconnect()
    await wait_until(lambda: not sim.control.clients(), what="the first client to go")
    # A new connection with the same client id gets every open order from startup sync:
    # each Trade is built from the decoded openOrder alone.
    again = await connect(sim, clients)
    trades = {t.order.orderId: t for t in again.openTrades()}
    still_open = {o["order_id"] for o in sim.control.orders(open_only=True)}
    assert trades.keys() == still_open
    assert book.labels["mkt"] not in trades  # filled on arrival
    assert book.labels["ioc"] not in trades  # not marketable: cancelled at once
    for order_id, trade in trades.items():
        contract, sent = book.placed[order_id]
        same_order(trade.order, sent, views[order_id])
        assert trade.contract.conId == contract.conId
        assert trade.order.parentId == sent.parentId
    assert trades[book.labels["stop_loss"]].orderStatus.status == "PreSubmitted"
    assert trades[book.labels["trail_amount"]].order.trailStopPrice == pytest.approx(
        book.placed[book.labels["trail_amount"]][1].trailStopPrice
    )


async def test_completed_orders_decode_as_they_were_placed(
    sim: SimThread, clients: list[Any], version: int
) -> None:
    ib = await connect(sim, clients)
    book = await place_every_kind(ib, sim)
    ib.reqGlobalCancel()
    await wait_until(lambda: not sim.control.orders(open_only=True), what="every order done")
    views = {o["perm_id"]: o for o in sim.control.orders()}
    trades = await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 5)
    assert {t.order.permId for t in trades} == views.keys()
    for trade in trades:
        view = views[trade.order.permId]
        contract, sent = book.placed[view["order_id"]]
        same_order(trade.order, sent, view)
        assert trade.contract.conId == contract.conId
        assert trade.orderStatus.status == view["status"]
        assert trade.order.parentPermId == view["parent_perm_id"]
        assert trade.order.filledQuantity == view["filled"]
    filled = {t.order.permId for t in trades if t.orderStatus.status == "Filled"}
    assert filled == {perm for perm, v in views.items() if v["order_id"] == book.labels["mkt"]}


# ---- cut, padded and garbled messages -----------------------------------------------------

#: Texts that steer the parser into its conditional groups or break its number parsing.
NASTY = st.sampled_from(
    [
        "",
        "0",
        "1",
        "-1",
        "2",
        "7",
        "99",
        "1001",
        "1e400",
        "-1e400",
        "nan",
        "inf",
        "-inf",
        "Infinite",
        "1.5",
        "0.5",
        "x",
        "BAG",
        "PEG BENCH",
        "PEG BEST",
        "PEG MID",
        "IBKRATS",
        "VOL",
        "Adaptive",
        "1.7976931348623157e308",
        "2147483647",
    ]
)


def parse_or_refuse(fields: list[str], version: int) -> PlacedOrder | None:
    """Parse, treating OrderParseError as a refusal; anything else escapes and fails."""
    try:
        p = parse_place_order(fields, version)
    except OrderParseError:
        return None
    # What the engine reads from an accepted order must read cleanly, too.
    for name in ("totalQuantity", "lmtPrice", "auxPrice", "trailStopPrice", "trailingPercent"):
        value = p.number(name)
        assert value is None or math.isfinite(value), name
    for name in ("ocaType", "parentId"):
        int(p.number(name) or 0)
    return p


async def test_cut_padded_or_garbled_place_orders_raise_only_order_parse_error(
    sim: SimThread, clients: list[Any], version: int
) -> None:
    ib = await connect(sim, clients)
    await place_every_kind(ib, sim)
    real = [r["fields"] for r in sim.control.received(msg_id=3)]
    for fields in real:
        assert parse_or_refuse(fields, version) is not None

    quick = settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )

    @quick
    @given(st.sampled_from(real), st.data())
    def truncated(fields: list[str], data: st.DataObject) -> None:
        cut = data.draw(st.integers(min_value=1, max_value=len(fields) - 1))
        with pytest.raises(OrderParseError):
            parse_place_order(fields[:cut], version)

    @quick
    @given(st.sampled_from(real), st.lists(st.one_of(NASTY, st.text(max_size=5)), min_size=1))
    def padded(fields: list[str], extra: list[str]) -> None:
        with pytest.raises(OrderParseError, match="trailing"):
            parse_place_order([*fields, *extra], version)

    @settings(quick, max_examples=300)
    @given(
        st.sampled_from(real),
        st.lists(
            st.tuples(st.integers(min_value=1, max_value=140), st.one_of(NASTY, st.text())),
            max_size=6,
        ),
        st.integers(min_value=-3, max_value=3),
    )
    def garbled(fields: list[str], edits: list[tuple[int, str]], resize: int) -> None:
        mutated = list(fields)
        for index, text in edits:
            if index < len(mutated):
                mutated[index] = text
        mutated = mutated[: len(mutated) + resize] if resize < 0 else mutated + ["0"] * resize
        parse_or_refuse(mutated, version)

    truncated()
    padded()
    garbled()
