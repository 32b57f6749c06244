"""The account as tools other than ours read it: every standard summary tag, the same keys in
account updates, and positions / account updates for every account at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import front_future, wait_until
from .rawclient import RawClient
from .test_orders import placed

pytestmark = pytest.mark.sim

ACCOUNTS = ("DU1234567", "DU7654321")

#: IB's AccountSummaryTags.AllTags, as both client libraries and IB's own API spell them.
ALL_TAGS = (
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "ReqTEquity",
    "ReqTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "Leverage",
)


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(accounts=ACCOUNTS, start_paused=True)


async def summary(ib: Any, tags: str) -> list[Any]:
    """reqAccountSummary for exactly ``tags`` (the libraries' own call asks for RegT*, the
    AllTags constant spells ReqT*: both are IB's), every row received."""
    req_id = ib.client.getReqId()
    done = ib.wrapper.startReq(req_id)
    ib.client.reqAccountSummary(req_id, "All", tags)
    await asyncio.wait_for(done, 5)
    return list(ib.wrapper.acctSummary.values())


def numbers(rows: list[Any], account: str) -> dict[str, float]:
    """tag -> value of one account's numeric rows."""
    out: dict[str, float] = {}
    for row in rows:
        if row.account == account and row.tag != "AccountType":
            out[row.tag] = float(row.value)
    return out


async def test_the_summary_answers_every_standard_tag_consistently(ib: Any, sim: SimThread) -> None:
    """Before: 14 of the 29 tags; NautilusTrader never registered the account."""
    es = await front_future(ib)
    sim.control.set_price(es.conId, 6800.0)
    await placed(ib, es, shim.MarketOrder("BUY", 2), "Filled")
    rows = await summary(ib, ",".join(ALL_TAGS))
    for account in ACCOUNTS:
        mine = [r for r in rows if r.account == account]
        assert sorted({r.tag for r in mine}) == sorted(ALL_TAGS), account
    [kind] = [r for r in rows if r.account == ACCOUNTS[0] and r.tag == "AccountType"]
    assert kind.value == "INDIVIDUAL"
    v = numbers(rows, ACCOUNTS[0])
    assert v["InitMarginReq"] == pytest.approx(2 * 25_000)
    assert v["FullInitMarginReq"] == v["InitMarginReq"] == v["LookAheadInitMarginReq"]
    assert v["FullMaintMarginReq"] == v["MaintMarginReq"] == v["LookAheadMaintMarginReq"]
    assert v["AvailableFunds"] == pytest.approx(v["EquityWithLoanValue"] - v["InitMarginReq"])
    assert v["FullAvailableFunds"] == v["AvailableFunds"] == v["LookAheadAvailableFunds"]
    assert v["ExcessLiquidity"] == pytest.approx(v["EquityWithLoanValue"] - v["MaintMarginReq"])
    assert v["FullExcessLiquidity"] == v["ExcessLiquidity"] == v["LookAheadExcessLiquidity"]
    assert v["Cushion"] == pytest.approx(v["ExcessLiquidity"] / v["NetLiquidation"], abs=1e-4)
    assert v["Leverage"] == pytest.approx(v["GrossPositionValue"] / v["NetLiquidation"], abs=1e-4)
    assert v["SMA"] >= 0 and v["AccruedCash"] == 0 and v["DayTradesRemaining"] == -1
    assert v["BuyingPower"] == pytest.approx(4 * v["AvailableFunds"])
    # NautilusTrader books free = NetLiquidation - locked and needs it >= 0.
    assert 0 <= v["FullAvailableFunds"] <= v["NetLiquidation"]
    # The second account holds nothing.
    other = numbers(rows, ACCOUNTS[1])
    assert other["NetLiquidation"] == other["TotalCashValue"] == other["FullAvailableFunds"]
    # The libraries' own request spells Regulation T as IB's account updates do.
    spelled = numbers(await summary(ib, "RegTEquity,RegTMargin"), ACCOUNTS[0])
    assert (spelled["RegTEquity"], spelled["RegTMargin"]) == (v["ReqTEquity"], v["ReqTMargin"])


async def test_account_updates_carry_the_same_keys_as_the_summary(ib: Any) -> None:
    await wait_until(ib.accountValues, what="account values")
    keys = {v.tag for v in ib.accountValues() if v.account == ACCOUNTS[0]}
    assert set(ALL_TAGS) <= keys


def _position_multi_rows(raw: RawClient, req_id: int, *args: str) -> list[list[str]]:
    raw.send("74", "1", str(req_id), *args)
    rows = []
    while (msg := raw.expect(lambda m: m[0] in ("71", "72", "4"), "positionMulti"))[0] == "71":
        rows.append(msg)
    assert msg[:3] == ["72", "1", str(req_id)], msg
    return rows


async def test_positions_multi_answer_for_one_account_or_all(
    ib: Any, sim: SimThread, raw: Any
) -> None:
    """Before: 320 "unknown message id" with reqId -1."""
    es = await front_future(ib)
    sim.control.set_price(es.conId, 6800.0)
    await placed(ib, es, shim.MarketOrder("BUY", 3), "Filled")
    client = raw().start()
    [row] = _position_multi_rows(client, 41, ACCOUNTS[0], "")
    # positionMulti: version, reqId, account, 11 contract fields, position, avgCost, modelCode.
    assert len(row) == 18
    assert (row[2], row[3], row[4], row[15]) == ("41", ACCOUNTS[0], str(es.conId), "3")
    assert len(_position_multi_rows(client, 42, "All", "")) == 1
    assert _position_multi_rows(client, 43, ACCOUNTS[1], "") == []


async def test_account_updates_multi_for_all_accounts(raw: Any) -> None:
    client = raw().start()
    client.send("76", "1", "44", "All", "", "1")
    accounts = set()
    while (msg := client.expect(lambda m: m[0] in ("73", "74"), "accountUpdateMulti"))[0] == "73":
        assert msg[2] == "44"
        accounts.add(msg[3])
    assert accounts == set(ACCOUNTS)
