"""Market data end to end: streaming tickers, snapshots, tick-by-tick, errors, families.

Besides what the client library makes of the stream, some tests read the raw fields the
library decoded (:class:`FrameLog`): the libraries ignore a few fields, such as tickPrice's
attribute mask, that the official API and other clients parse, so only the raw message shows
that they are well formed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import front_future, wait_until

pytestmark = pytest.mark.sim

TICK_PRICE, TICK_SIZE, TICK_STRING, SNAPSHOT_END, TICK_BY_TICK = "1", "2", "46", "57", "99"


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    """The default fast simulator, with a test's overrides (``indirect`` parameters)."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return quick_sim(**overrides)


class FrameLog:
    """Every message the client library decoded, as the raw fields it received.

    Wraps the decoder of one connected IB instance; the library still handles every message.
    """

    def __init__(self, ib: Any) -> None:
        self.frames: list[list[str]] = []
        decoder = ib.client.decoder
        interpret = decoder.interpret

        def record(fields: list[str]) -> None:
            self.frames.append(list(fields))  # the decoder consumes its list
            interpret(fields)

        decoder.interpret = record

    def of(self, msg_id: str, req_id: int, req_field: int = 2) -> list[list[str]]:
        """Messages of one id for one request (reqId is field 2, or 1 without a version)."""
        wanted = str(req_id)
        return [
            f
            for f in self.frames
            if f[0] == msg_id and len(f) > req_field and f[req_field] == wanted
        ]


def req_id_of(ib: Any, ticker: Any, kind: str = "mktData") -> int:
    """The request id the library used for a ticker's subscription."""
    return int(ib.wrapper.ticker2ReqId[kind][ticker])


def on_grid(price: float, tick: float) -> bool:
    """Whether ``price`` is a whole number of ticks (to within float noise)."""
    return abs(price / tick - round(price / tick)) < 1e-6


async def qualified(ib: Any, symbol: str) -> Any:
    """A futures root's front month, a stock on SMART, or a currency pair."""
    if symbol in ("ES", "MES", "NQ", "CL", "GC"):
        return await front_future(ib, symbol)
    contract = shim.Forex(symbol) if len(symbol) == 6 else shim.Stock(symbol, "SMART", "USD")
    [done] = await shim.qualify(ib, contract)
    assert done is not None
    return done


def error_log(ib: Any) -> list[tuple[int, int]]:
    """(reqId, code) of every error the client reports from now on."""
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    return errors


# ---- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "tick"), [("ES", 0.25), ("AAPL", 0.01), ("EURUSD", 0.00005)])
async def test_streaming_quotes_are_on_the_tick_grid_with_bid_below_ask(
    ib: Any, symbol: str, tick: float
) -> None:
    contract = await qualified(ib, symbol)
    ticker = ib.reqMktData(contract)
    seen: list[tuple[float, ...]] = []

    def on_update(t: Any) -> None:
        seen.append((t.bid, t.ask, t.bidSize, t.askSize, t.last, t.lastSize, t.volume))

    ticker.updateEvent += on_update
    await wait_until(lambda: len(seen) >= 12, what="a dozen ticker updates")
    assert ticker.minTick == pytest.approx(tick)
    for bid, ask, bid_size, ask_size, last, last_size, volume in seen:
        assert 0 < bid < ask, (bid, ask)
        assert on_grid(bid, tick) and on_grid(ask, tick) and on_grid(last, tick)
        assert bid_size > 0 and ask_size > 0 and last_size > 0 and volume > 0
    volumes = [row[-1] for row in seen]
    assert volumes == sorted(volumes), "the day's volume never shrinks"
    # The session figures arrive with the first values.
    assert ticker.low <= ticker.high and ticker.open > 0 and ticker.close > 0


async def test_tick_price_messages_have_seven_fields_and_an_int_attribute_mask(
    ib: Any, sim: SimThread
) -> None:
    frames = FrameLog(ib)
    es = await front_future(ib)
    ticker = ib.reqMktData(es)
    req_id = req_id_of(ib, ticker)
    await wait_until(lambda: len(frames.of(TICK_PRICE, req_id)) >= 30, what="30 tickPrices")
    # A new session high is streamed (not only sent with the first values).
    sim.control.jump_price("ES", 200)
    await wait_until(
        lambda: sum(f[3] == "6" for f in frames.of(TICK_PRICE, req_id)) >= 2, what="a new high"
    )
    for f in frames.of(TICK_PRICE, req_id):
        assert len(f) == 7, f
        assert float(f[4]) > 0 and float(f[5]) >= 0, f"price and size are numbers: {f}"
        assert f[6].isdigit() and int(f[6]) < 8, f"attribute mask {f[6]!r} in {f}"
    for f in frames.of(TICK_SIZE, req_id):
        assert len(f) == 5 and float(f[4]) >= 0, f


async def test_rt_volume_generic_tick_233_reports_each_trade(ib: Any) -> None:
    frames = FrameLog(ib)
    es = await front_future(ib)
    mes = await front_future(ib, "MES")
    with_rtv = ib.reqMktData(es, "233")
    without = ib.reqMktData(mes)
    rtv_id, plain_id = req_id_of(ib, with_rtv), req_id_of(ib, without)

    def rt_volumes() -> list[list[str]]:
        return [f for f in frames.of(TICK_STRING, rtv_id) if f[3] == "48"]

    await wait_until(lambda: len(rt_volumes()) >= 3, what="three RTVolume ticks")
    await wait_until(
        lambda: sum(f[3] == "4" for f in frames.of(TICK_PRICE, plain_id)) >= 3,
        what="three MES trades",
    )
    for f in rt_volumes():
        price, size, stamp, total, vwap, single = f[4].split(";")
        assert on_grid(float(price), 0.25) and float(size) > 0
        assert abs(int(stamp) / 1000 - time.time()) < 30, "epoch milliseconds"
        assert float(total) >= float(size) and float(vwap) > 0
        assert single in ("true", "false")
    assert with_rtv.rtVolume > 0 and with_rtv.rtTime is not None
    assert not [f for f in frames.of(TICK_STRING, plain_id) if f[3] == "48"], "not asked for"


async def test_es_and_mes_follow_one_price_and_nq_does_not(ib: Any, sim: SimThread) -> None:
    tickers = {s: ib.reqMktData(await front_future(ib, s)) for s in ("ES", "MES", "NQ")}
    await wait_until(lambda: all(t.bid > 0 for t in tickers.values()), what="three quotes")
    sim.control.pause_market()
    await ib.reqCurrentTimeAsync()  # every tick sent before the pause has arrived
    nq_before = tickers["NQ"].bid
    target = sim.control.set_price("ES", tickers["ES"].bid + 100 * 0.25)
    await wait_until(
        lambda: tickers["ES"].last == target and tickers["MES"].bid == target,
        what="MES to follow ES",
    )
    assert tickers["ES"].bid == target and tickers["MES"].ask == target + 0.25
    await ib.reqCurrentTimeAsync()
    assert tickers["NQ"].bid == nq_before, "another index does not move with the S&P"


# ---- snapshots and cancel ----------------------------------------------------------------------


async def test_snapshot_ends_with_tick_snapshot_end_and_keeps_no_line(
    ib: Any, sim: SimThread
) -> None:
    frames = FrameLog(ib)
    es, aapl = await front_future(ib), await qualified(ib, "AAPL")
    tickers = await ib.reqTickersAsync(es, aapl)
    for t in tickers:
        assert 0 < t.bid < t.ask and t.last > 0 and t.close > 0
    snap = ib.reqMktData(await front_future(ib, "NQ"), "", True, False)
    req_id = req_id_of(ib, snap)
    await wait_until(lambda: frames.of(SNAPSHOT_END, req_id), what="tickSnapshotEnd")
    assert snap.bid > 0 and snap.ask > snap.bid
    assert sim.control.clients()[0]["market_lines"] == 0, "a snapshot is not a subscription"


async def test_cancel_mkt_data_stops_the_stream(ib: Any, sim: SimThread) -> None:
    frames = FrameLog(ib)
    es_ticker = ib.reqMktData(await front_future(ib))
    mes_ticker = ib.reqMktData(await front_future(ib, "MES"))
    es_id, mes_id = req_id_of(ib, es_ticker), req_id_of(ib, mes_ticker)
    await wait_until(lambda: len(frames.of(TICK_PRICE, es_id)) >= 5, what="ES ticks")
    ib.cancelMktData(es_ticker.contract)
    # The reply to a later request comes after every tick sent before the cancel.
    await ib.reqCurrentTimeAsync()
    es_after = len(frames.of(TICK_PRICE, es_id)) + len(frames.of(TICK_SIZE, es_id))
    mes_after = len(frames.of(TICK_PRICE, mes_id))
    # The same price family keeps moving: MES ticks prove ES would have ticked too.
    await wait_until(
        lambda: len(frames.of(TICK_PRICE, mes_id)) >= mes_after + 10, what="more MES ticks"
    )
    assert len(frames.of(TICK_PRICE, es_id)) + len(frames.of(TICK_SIZE, es_id)) == es_after
    assert sim.control.clients()[0]["market_lines"] == 1


# ---- tick by tick --------------------------------------------------------------------------------


async def test_tick_by_tick_streams_bid_ask_last_all_last_and_midpoint(ib: Any) -> None:
    frames = FrameLog(ib)
    es = await front_future(ib)
    kinds = ("BidAsk", "Last", "AllLast", "MidPoint")
    ticker = None
    for kind in kinds:
        ticker = ib.reqTickByTickData(es, kind)
    assert ticker is not None
    ids = {kind: req_id_of(ib, ticker, kind) for kind in kinds}
    ticks: list[Any] = []
    ticker.updateEvent += lambda t: ticks.extend(t.tickByTicks)

    def by_kind(kind: str) -> list[list[str]]:
        return frames.of(TICK_BY_TICK, ids[kind], req_field=1)

    await wait_until(lambda: all(len(by_kind(k)) >= 3 for k in kinds), what="each kind x3")
    assert {f[2] for f in by_kind("BidAsk")} == {"3"}
    assert {f[2] for f in by_kind("Last")} == {"1"}
    assert {f[2] for f in by_kind("AllLast")} == {"2"}
    assert {f[2] for f in by_kind("MidPoint")} == {"4"}
    names = {type(t).__name__ for t in ticks}
    assert {"TickByTickBidAsk", "TickByTickAllLast", "TickByTickMidPoint"} <= names
    for t in ticks:
        if type(t).__name__ == "TickByTickBidAsk":
            assert 0 < t.bidPrice < t.askPrice and t.bidSize > 0 and t.askSize > 0
            assert on_grid(t.bidPrice, 0.25) and on_grid(t.askPrice, 0.25)
        elif type(t).__name__ == "TickByTickMidPoint":
            assert on_grid(t.midPoint, 0.125)
        else:
            assert on_grid(t.price, 0.25) and t.size > 0 and t.exchange == "CME"
    # Cancelling one kind stops that kind only.
    ib.cancelTickByTickData(es, "BidAsk")
    await ib.reqCurrentTimeAsync()
    bid_ask_after, last_after = len(by_kind("BidAsk")), len(by_kind("AllLast"))
    await wait_until(lambda: len(by_kind("AllLast")) >= last_after + 5, what="more trades")
    assert len(by_kind("BidAsk")) == bid_ask_after


# ---- requests and errors -------------------------------------------------------------------------


async def test_market_data_type_request_is_accepted(ib: Any) -> None:
    errors = error_log(ib)
    ib.reqMarketDataType(3)
    await ib.reqCurrentTimeAsync()
    ticker = ib.reqMktData(await front_future(ib))
    await wait_until(lambda: ticker.bid > 0, what="a quote")
    # Asked for delayed data, a client with a live subscription gets live data (as at IB).
    assert ticker.marketDataType == 1
    assert [e for e in errors if not 2100 <= e[1] < 2200] == []


async def test_duplicate_ticker_id_is_error_322_and_the_first_stream_continues(
    ib: Any, sim: SimThread
) -> None:
    frames = FrameLog(ib)
    errors = error_log(ib)
    ticker = ib.reqMktData(await front_future(ib))
    req_id = req_id_of(ib, ticker)
    await wait_until(lambda: ticker.bid > 0, what="a quote")
    ib.client.reqMktData(req_id, await qualified(ib, "AAPL"), "", False, False, [])
    await wait_until(lambda: (req_id, 322) in errors, what="error 322")
    before = len(frames.of(TICK_PRICE, req_id))
    await wait_until(lambda: len(frames.of(TICK_PRICE, req_id)) >= before + 5, what="more ES")
    assert all(on_grid(float(f[4]), 0.25) for f in frames.of(TICK_PRICE, req_id)), "still ES"
    assert sim.control.clients()[0]["market_lines"] == 1


@pytest.mark.parametrize("sim_config", [{"max_msg_rate": 0}], indirect=True)
async def test_more_than_100_market_data_lines_is_error_101(ib: Any, sim: SimThread) -> None:
    errors = error_log(ib)
    sim.control.pause_market()  # a hundred lines of a moving market is load, not the point
    ib.client.MaxRequests = 0  # no client-side throttle: the limit under test is the server's
    es = await front_future(ib)
    tickers = [ib.reqMktData(es) for _ in range(101)]
    last_id = req_id_of(ib, tickers[-1])
    await wait_until(lambda: any(code == 101 for _, code in errors), what="error 101")
    await ib.reqCurrentTimeAsync()
    assert [rid for rid, code in errors if code == 101] == [last_id]
    assert sim.control.clients()[0]["market_lines"] == 100
    assert not math.isnan(tickers[0].bid)
