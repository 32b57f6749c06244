"""Every request a current client can send gets a real answer or IB's own refusal, with the
request's id wherever the request carries one; and the real answers are real.

The first part sends each request as the client libraries lay it out at server version 176,
from a raw socket; the second drives the libraries' own calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimThread

from .conftest import front_future, wait_until
from .rawclient import RawClient, contract_fields

pytestmark = pytest.mark.sim

ACCOUNT = "DU1234567"
UNSET = ""


def requests(sim: SimThread) -> dict[int, tuple[list[str], int | None, bool]]:
    """message id -> (fields, the request's own id or None, whether TWS answers at once).

    Subscriptions that stream later, cancels and settings are answered by silence at TWS
    too; they must still not be refused as unknown.
    """
    es = contract_fields(sim, "ES")
    aapl = contract_fields(sim, "AAPL")
    aapl_con_id = aapl[0]
    rid = lambda n: str(7000 + n)  # noqa: E731
    scan = ["20", "STK", "STK.US.MAJOR", "MOST_ACTIVE", *[UNSET] * 15, "", "", "", ""]
    return {
        1: (["1", "11", rid(1), *es, "0", "", "0", "0", ""], 7001, True),
        2: (["2", "2", rid(2)], None, False),
        4: (["4", "1", rid(4), ""], 7004, True),
        5: (["5", "1"], None, True),
        6: (["6", "2", "1", ACCOUNT], None, True),
        7: (["7", "3", rid(7), "0", "", "", "", "", "", ""], 7007, True),
        8: (["8", "1", "1"], None, True),
        9: (["9", "8", rid(9), *es, "0", "", "", ""], 7009, True),
        10: (["10", "5", rid(10), *aapl, "5", "0", ""], 7010, True),
        11: (["11", "1", rid(11), "0"], None, False),
        12: (["12", "1", "1"], None, False),
        13: (["13", "1"], None, False),
        14: (["14", "1", "3"], None, False),
        15: (["15", "1", "1"], None, True),
        16: (["16", "1"], None, True),
        17: (["17", "1"], None, True),
        18: (["18", "1", "1"], None, True),
        19: (["19", "1", "1", "<ListOfGroups/>", rid(19)], 7019, True),
        20: (
            ["20", rid(20), *es, "0", "", "1 min", "1800 S", "0", "TRADES", "2", "0", ""],
            7020,
            True,
        ),
        21: (["21", "2", rid(21), *aapl[:8], *aapl[9:], "1", "1", ACCOUNT, "0"], 7021, True),
        22: (["22", rid(22), *scan], 7022, True),
        23: (["23", "1", rid(23)], None, False),
        24: (["24", "1"], None, True),
        25: (["25", "1", rid(25)], 7025, True),
        49: (["49", "1"], None, False),  # its answer is what exchange() waits for
        50: (["50", "3", rid(50), *es, "5", "TRADES", "0", ""], None, False),
        51: (["51", "1", rid(51)], None, False),
        52: (
            [
                "52",
                "2",
                rid(52),
                aapl_con_id,
                "AAPL",
                "STK",
                "SMART",
                "",
                "USD",
                "",
                "ReportsFinSummary",
                "0",
                "",
            ],
            7052,
            True,
        ),
        53: (["53", "1", rid(53)], None, False),
        54: (["54", "3", rid(54), *aapl, "1.5", "270", "0", ""], 7054, True),
        55: (["55", "3", rid(55), *aapl, "0.3", "270", "0", ""], 7055, True),
        56: (["56", "1", rid(56)], None, False),
        57: (["57", "1", rid(57)], None, False),
        58: (["58", "1"], None, False),
        59: (["59", "1", "3"], None, False),
        61: (["61", "1"], None, True),
        62: (["62", "1", rid(62), "All", "NetLiquidation"], 7062, True),
        63: (["63", "1", rid(63)], None, False),
        64: (["64", "1"], None, False),
        65: (["65", "1", "app", "1"], None, True),
        66: (["66", "1", "data"], None, True),
        67: (["67", "1", rid(67)], 7067, True),
        68: (["68", "1", rid(68), "1"], 7068, True),
        69: (["69", "1", rid(69), f"{aapl_con_id}@SMART"], 7069, True),
        70: (["70", "1", rid(70)], None, False),
        72: (["72", "1", "app", "1", "key"], None, True),
        73: (["73", "1", "data", "xyz"], None, True),
        74: (["74", "1", rid(74), ACCOUNT, ""], 7074, True),
        75: (["75", "1", rid(75)], None, False),
        76: (["76", "1", rid(76), ACCOUNT, "", "1"], 7076, True),
        77: (["77", "1", rid(77)], None, False),
        78: (["78", rid(78), "AAPL", "", "STK", aapl_con_id], 7078, True),
        79: (["79", rid(79)], 7079, True),
        80: (["80"], None, True),
        81: (["81", rid(81), "AA"], 7081, True),
        82: (["82"], None, True),
        83: (["83", rid(83), "9c0001"], 7083, True),
        84: (["84", rid(84), "BRFG", "BRFG$00000000", ""], 7084, True),
        85: (["85"], None, True),
        86: (["86", rid(86), aapl_con_id, "BRFG+DJNL", "", "", "10", ""], 7086, True),
        87: (["87", rid(87), *es, "0", "0", "TRADES", "1"], 7087, True),
        88: (["88", rid(88), *aapl, "0", "1", "3 days"], 7088, True),
        89: (["89", rid(89)], None, False),
        90: (["90", rid(90)], None, False),
        91: (["91", "26"], None, True),
        92: (["92", rid(92), ACCOUNT, ""], None, False),
        93: (["93", rid(93)], None, False),
        94: (["94", rid(94), ACCOUNT, "", aapl_con_id], None, False),
        95: (["95", rid(95)], None, False),
        96: (["96", rid(96), *aapl, "0", "", "", "100", "TRADES", "0", "0", ""], 7096, True),
        97: (["97", rid(97), *es, "BidAsk", "0", "0"], 7097, True),
        98: (["98", rid(98)], None, False),
        99: (["99", "0"], None, True),
        100: (["100", rid(100)], 7100, True),
        101: (["101", rid(101)], None, False),
        102: (["102", rid(102), aapl_con_id, "", "0", "0", "0", "", "", "10"], 7102, True),
        103: (["103", rid(103)], None, False),
        104: (["104", rid(104)], 7104, True),
        105: (["105"], None, True),
        106: (["106", rid(106)], None, False),
        107: (["107", rid(107)], None, False),
    }


#: Every request IB's official client (10.50) can send at server version 176.
SENDABLE = {*range(1, 26), *range(49, 60), *range(61, 71), *range(72, 108)} - {3, 60, 71}


def test_the_table_covers_every_request_a_client_can_send(sim: SimThread) -> None:
    assert set(requests(sim)) == SENDABLE


@pytest.mark.parametrize("msg_id", sorted(SENDABLE))
def test_every_request_is_answered_or_refused_with_its_own_id(
    sim: SimThread, raw: Any, msg_id: int
) -> None:
    """Before: eleven of these got "320 unknown message id" with reqId -1."""
    fields, req_id, answers = requests(sim)[msg_id]
    client: RawClient = raw().start()
    replies = client.exchange(*fields)
    unknown = [m for m in replies if m[0] == "4" and "unknown message id" in m[4]]
    assert unknown == [], replies
    misread = [m for m in replies if m[0] == "4" and m[3] == "320"]
    assert misread == [], replies
    if req_id is not None:
        assert any(str(req_id) in m[1:3] for m in replies), replies
    elif answers:
        assert replies, "no answer"


# ---- real answers through the client libraries ---------------------------------------------------


async def test_user_info_is_answered(ib: Any) -> None:
    # The libraries end the request on userInfo but keep its white-branding id to
    # themselves; that it ends (instead of timing out) is what can be checked here.
    await asyncio.wait_for(ib.reqUserInfoAsync(), 5)


async def test_scanner_parameters_are_an_xml_document(ib: Any) -> None:
    root = ET.fromstring(await ib.reqScannerParametersAsync())
    codes = {e.text for e in root.iter("scanCode")}
    assert {"MOST_ACTIVE", "TOP_PERC_GAIN", "TOP_PERC_LOSE"} <= codes


@pytest.mark.parametrize("code", ["MOST_ACTIVE", "TOP_PERC_GAIN", "TOP_PERC_LOSE"])
async def test_scanner_subscriptions_rank_the_stocks(ib: Any, code: str) -> None:
    sub = shim.lib.ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode=code, numberOfRows=10
    )
    rows = await ib.reqScannerDataAsync(sub)
    assert 0 < len(rows) <= 10
    assert [r.rank for r in rows] == list(range(len(rows)))
    assert all(r.contractDetails.contract.secType == "STK" for r in rows)
    tickers = [ib.reqMktData(r.contractDetails.contract) for r in rows[:3]]
    await wait_until(lambda: all(t.last > 0 and t.close > 0 for t in tickers), what="quotes")
    if code == "TOP_PERC_GAIN":
        changes = [(t.last - t.close) / t.close for t in tickers]
        assert changes == sorted(changes, reverse=True) and changes[0] > 0


async def test_news_providers_headlines_and_articles(ib: Any) -> None:
    providers = await ib.reqNewsProvidersAsync()
    codes = [p.code for p in providers]
    assert "BRFG" in codes and "DJNL" in codes
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    news = await ib.reqHistoricalNewsAsync(aapl.conId, "BRFG+DJNL", "", "", 10)
    assert news and len(news) == 10
    times = [n.time for n in news]
    assert times == sorted(times, reverse=True)
    assert {n.providerCode for n in news} <= {"BRFG", "DJNL"}
    article = await ib.reqNewsArticleAsync(news[0].providerCode, news[0].articleId)
    assert article.articleType == 0 and news[0].headline in article.articleText


async def test_histogram_is_volume_by_price(ib: Any) -> None:
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    rows = await ib.reqHistogramDataAsync(aapl, True, "3 days")
    assert len(rows) > 5
    prices = [r.price for r in rows]
    assert prices == sorted(prices)
    assert sum(r.count for r in rows) > 1_000_000


@pytest.mark.parametrize("what", ["TRADES", "BID_ASK", "MIDPOINT"])
async def test_historical_ticks_from_the_same_market(ib: Any, what: str) -> None:
    es = await front_future(ib)
    end = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ticks = await ib.reqHistoricalTicksAsync(es, "", end, 100, what, False)
    assert 0 < len(ticks) <= 100
    # The bars end where the ticks do: in CME's daily break (16:00-17:00 CT) the newest
    # ticks are from before it, and bars of the last ten minutes would be of another price.
    last = max(t.time for t in ticks)
    bars = await ib.reqHistoricalDataAsync(es, last, "600 S", "5 secs", "MIDPOINT", False, 2)
    low, high = min(b.low for b in bars), max(b.high for b in bars)
    for t in ticks:
        price = t.priceBid if what == "BID_ASK" else t.price
        assert low - 1 <= price <= high + 1
        assert t.time <= end


async def test_historical_ticks_reach_back_over_a_closed_market(ib: Any) -> None:
    """Asked for the last ticks before a time when the market was shut (a Saturday), TWS
    answers with the last ticks before the close, not with nothing."""
    es = await front_future(ib)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    saturday = today - dt.timedelta(days=(today.weekday() - 5) % 7 or 7)
    ticks = await ib.reqHistoricalTicksAsync(es, "", saturday, 50, "TRADES", False)
    assert len(ticks) == 50
    assert all(t.time < saturday for t in ticks)
    # CME closes ES on Friday at 16:00 CT: the ticks are from the hours before it.
    assert max(t.time for t in ticks) > saturday - dt.timedelta(hours=20)
    assert max(t.time for t in ticks).weekday() == 4


async def test_market_depth_is_refused_as_a_paper_account_is(ib: Any) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: errors.append((code, text))
    [aapl] = await shim.qualify(ib, shim.Stock("AAPL", "SMART", "USD"))
    ib.reqMktDepth(aapl, 5)
    await wait_until(lambda: errors, what="the refusal")
    assert errors[0][0] == 10092
