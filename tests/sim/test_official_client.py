"""Conformance with IB's official Python client (``ibapi``, from the ``ibapi-stable`` package).

Driven as IB's own samples drive it: a class that is both ``EWrapper`` and ``EClient``,
``connect`` and then ``run()`` on a thread of its own, requests by id, callbacks into the
wrapper. Every callback is recorded; a test fails on any error it did not expect and on any
record of ibapi's loggers at ERROR (ibapi logs a message it cannot decode and drops it).

It runs beside the ib_async / ib_insync suite, in every CI virtualenv.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from ibapi.account_summary_tags import AccountSummaryTags
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.order_cancel import OrderCancel
from ibapi.scanner import ScannerSubscription
from ibapi.wrapper import EWrapper

from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

pytestmark = pytest.mark.sim

ACCOUNT = "DU1234567"
TIMEOUT = 10.0


class Recorder(EWrapper, EClient):  # type: ignore[misc]
    """IB's sample app shape: wrapper and client in one object; every callback recorded."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.changed = threading.Condition()

    def record(self, name: str, args: tuple[Any, ...]) -> None:
        with self.changed:
            self.calls.append((name, args))
            self.changed.notify_all()

    def named(self, name: str) -> list[tuple[Any, ...]]:
        with self.changed:
            return [args for n, args in self.calls if n == name]

    def wait_for(
        self, name: str, match: Callable[[tuple[Any, ...]], bool] = lambda a: True
    ) -> tuple[Any, ...]:
        """The first recorded ``name`` callback whose arguments match; fails on a timeout."""
        deadline = time.monotonic() + TIMEOUT
        with self.changed:
            while True:
                for n, args in self.calls:
                    if n == name and match(args):
                        return args
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no {name} callback within {TIMEOUT} s")
                self.changed.wait(left)

    def errors(self) -> list[tuple[int, int, str]]:
        """(reqId, code, text) of every error callback."""
        return [(a[0], a[2], a[3]) for a in self.named("error")]


def _recording(name: str) -> Callable[..., None]:
    def method(self: Recorder, *args: Any) -> None:
        self.record(name, args)

    method.__name__ = name
    return method


for _name, _ in inspect.getmembers(EWrapper, inspect.isfunction):
    if not _name.startswith("_") and _name not in ("logAnswer",):
        setattr(Recorder, _name, _recording(_name))


class _IbapiErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage()[:300])


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


@pytest.fixture
def app(sim: SimThread) -> Iterator[Recorder]:
    """A connected official client (client id 5), its message loop on its own thread."""
    caught = _IbapiErrors()
    logging.getLogger("ibapi").addHandler(caught)
    client = Recorder()
    client.connect("127.0.0.1", sim.port, 5)
    loop = threading.Thread(target=client.run, name="ibapi-run", daemon=True)
    loop.start()
    client.wait_for("nextValidId")
    yield client
    client.disconnect()
    loop.join(timeout=10)
    logging.getLogger("ibapi").removeHandler(caught)
    assert caught.records == [], "ibapi could not decode a message"
    assert [e for e in client.errors() if not _expected(e)] == []


#: Codes a test may see without failing: farm notices, and the refusals the tests provoke
#: themselves (each test checks those it expects).
_NOTICES = {2104, 2106, 2158}


def _expected(error: tuple[int, int, str]) -> bool:
    return error[1] in _NOTICES or error[0] in _provoked


_provoked: set[int] = set()


def provoke(req_id: int) -> int:
    """Mark a request whose refusal the test asserts itself."""
    _provoked.add(req_id)
    return req_id


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def future(app: Recorder, sim: SimThread, symbol: str = "ES") -> Contract:
    inst = sim.control.instrument(symbol)
    c = Contract()
    c.conId, c.exchange = inst.con_id, inst.exchange
    return c


# ---- the everyday flow ---------------------------------------------------------------------------


def test_connect_managed_accounts_and_time(app: Recorder) -> None:
    [(accounts,)] = app.named("managedAccounts")
    assert accounts == ACCOUNT
    app.reqCurrentTime()
    app.wait_for("currentTime")


def test_stock_details_carry_the_isin_and_a_known_market_rule(app: Recorder) -> None:
    app.reqContractDetails(11, stock())
    _, details = app.wait_for("contractDetails", lambda a: a[0] == 11)
    app.wait_for("contractDetailsEnd", lambda a: a[0] == 11)
    assert [(t.tag, t.value) for t in details.secIdList] == [("ISIN", "US0378331005")]
    rule = int(details.marketRuleIds.split(",")[0])
    app.reqMarketRule(rule)
    _, increments = app.wait_for("marketRule", lambda a: a[0] == rule)
    assert increments[0].increment == pytest.approx(details.minTick)


def test_ticks_history_and_head_timestamp(app: Recorder, sim: SimThread) -> None:
    es = future(app, sim)
    sim.control.resume_market()
    app.reqMktData(21, es, "", False, False, [])
    app.wait_for("tickPrice", lambda a: a[0] == 21 and a[1] == 1 and a[2] > 0)
    app.reqHistoricalData(22, es, "", "2 D", "1 hour", "TRADES", 0, 2, False, [])
    app.wait_for("historicalDataEnd", lambda a: a[0] == 22)
    bars = [a[1] for a in app.named("historicalData") if a[0] == 22]
    assert len(bars) >= 48 and all(b.low <= b.close <= b.high for b in bars)
    app.reqHistoricalData(23, stock(), "", "6 M", "1 week", "TRADES", 1, 1, False, [])
    app.wait_for("historicalDataEnd", lambda a: a[0] == 23)
    weeks = [a[1] for a in app.named("historicalData") if a[0] == 23]
    assert all(dt.datetime.strptime(b.date, "%Y%m%d").weekday() < 5 for b in weeks)
    app.reqHeadTimeStamp(24, stock(), "TRADES", 1, 1)
    _, head = app.wait_for("headTimestamp", lambda a: a[0] == 24)
    assert head.startswith("19801212")
    app.cancelMktData(21)


def test_account_summary_positions_and_pnl(app: Recorder, sim: SimThread) -> None:
    app.reqAccountSummary(31, "All", AccountSummaryTags.AllTags)
    app.wait_for("accountSummaryEnd", lambda a: a[0] == 31)
    tags = {a[2] for a in app.named("accountSummary") if a[0] == 31}
    assert tags == set(AccountSummaryTags.AllTags.split(","))
    app.reqPositionsMulti(32, ACCOUNT, "")
    app.wait_for("positionMultiEnd", lambda a: a[0] == 32)
    app.reqAccountUpdatesMulti(33, ACCOUNT, "", True)
    app.wait_for("accountUpdateMultiEnd", lambda a: a[0] == 33)
    keys = {a[3] for a in app.named("accountUpdateMulti") if a[0] == 33}
    assert {"FullAvailableFunds", "LookAheadExcessLiquidity", "Leverage"} <= keys
    app.reqPnL(34, ACCOUNT, "")
    app.wait_for("pnl", lambda a: a[0] == 34)
    app.cancelPnL(34)


def _order(action: str, qty: int, kind: str, **fields: Any) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType = action, Decimal(qty), kind
    for name, value in fields.items():
        setattr(o, name, value)
    return o


def test_orders_fill_cancel_what_if_and_refusals(app: Recorder, sim: SimThread) -> None:
    es = future(app, sim)
    sim.control.set_price(es.conId, 6800.0)
    oid = app.wait_for("nextValidId")[0]
    app.placeOrder(oid, es, _order("BUY", 1, "LMT", lmtPrice=6790.0))
    app.wait_for("orderStatus", lambda a: a[0] == oid and a[1] == "Submitted")
    app.cancelOrder(provoke(oid), OrderCancel())  # 202 comes with the cancel
    app.wait_for("orderStatus", lambda a: a[0] == oid and a[1] == "Cancelled")
    app.placeOrder(oid + 1, es, _order("BUY", 1, "MKT", auxPrice=0.0))
    app.wait_for("orderStatus", lambda a: a[0] == oid + 1 and a[1] == "Filled")
    app.wait_for("execDetails", lambda a: a[2].orderId == oid + 1)
    app.wait_for("commissionAndFeesReport")
    app.placeOrder(provoke(oid + 2), es, _order("SELL", 1, "MIT", auxPrice=6810.0))
    app.wait_for("orderStatus", lambda a: a[0] == oid + 2 and a[1] == "Submitted")
    app.placeOrder(oid + 3, es, _order("BUY", 2, "MKT", whatIf=True))
    _, _, _, state = app.wait_for("openOrder", lambda a: a[0] == oid + 3)
    assert float(state.initMarginChange) == pytest.approx(50_000)
    bare = stock()
    bare.exchange = ""
    app.placeOrder(provoke(oid + 4), bare, _order("BUY", 100, "MKT"))
    app.wait_for("error", lambda a: a[0] == oid + 4 and a[2] == 321)
    app.reqGlobalCancel(OrderCancel())
    app.wait_for("orderStatus", lambda a: a[0] == oid + 2 and a[1] == "Cancelled")


# ---- what other clients found missing ------------------------------------------------------------


def test_user_info_news_and_refusals(app: Recorder, sim: SimThread) -> None:
    app.reqUserInfo(41)
    assert app.wait_for("userInfo", lambda a: a[0] == 41) == (41, "")
    app.reqNewsProviders()
    [(providers,)] = [app.wait_for("newsProviders")]
    assert "BRFG" in {p.code for p in providers}
    con_id = sim.control.instrument("AAPL").con_id
    app.reqHistoricalNews(42, con_id, "BRFG+DJNL", "", "", 5, [])
    app.wait_for("historicalNewsEnd", lambda a: a[0] == 42)
    stories = [a for a in app.named("historicalNews") if a[0] == 42]
    assert len(stories) == 5
    app.reqNewsArticle(43, stories[0][2], stories[0][3], [])
    _, kind, text = app.wait_for("newsArticle", lambda a: a[0] == 43)
    assert kind == 0 and stories[0][4] in text
    app.reqWshMetaData(provoke(44))
    assert app.wait_for("error", lambda a: a[0] == 44)[2] == 10276


def test_scanner_histogram_and_historical_ticks(app: Recorder, sim: SimThread) -> None:
    app.reqScannerParameters()
    [xml] = app.wait_for("scannerParameters")
    assert "TOP_PERC_GAIN" in xml
    sub = ScannerSubscription()
    sub.instrument, sub.locationCode, sub.scanCode = "STK", "STK.US.MAJOR", "MOST_ACTIVE"
    sub.numberOfRows = 5
    app.reqScannerSubscription(51, sub, [], [])
    app.wait_for("scannerDataEnd", lambda a: a[0] == 51)
    assert len([a for a in app.named("scannerData") if a[0] == 51]) == 5
    app.cancelScannerSubscription(51)
    app.reqHistogramData(52, stock(), True, "3 days")
    _, rows = app.wait_for("histogramData", lambda a: a[0] == 52)
    assert len(rows) > 5
    end = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)).strftime("%Y%m%d %H:%M:%S UTC")
    app.reqHistoricalTicks(53, future(app, sim), "", end, 50, "TRADES", 0, True, [])
    _, ticks, done = app.wait_for("historicalTicksLast", lambda a: a[0] == 53)
    assert done and 0 < len(ticks) <= 50
