"""The desk's own story in the log (issue 14): what was asked and what filled, and who
stopped trading and who re-armed it, each with the reason, at INFO."""

from __future__ import annotations

import logging

import pytest

from ibdesk.domain.orders import BracketIntent, OrderIntent, OrderState, OrderType, Side
from ibdesk.simtws import SimThread
from tests.desk.kit import TICKET, es_last, lmt, ready_desk, report_of, state
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk


def ours(caplog: pytest.LogCaptureFixture, *words: str) -> list[logging.LogRecord]:
    """ibdesk's records whose message holds every one of ``words``."""
    return [
        r
        for r in caplog.records
        if r.name.startswith("ibdesk.")
        and not r.name.startswith("ibdesk.simtws")
        and all(w in r.getMessage() for w in words)
    ]


async def test_a_kill_and_a_rearm_each_leave_one_info_line_with_the_reason(
    make_desk: MakeDesk, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    desk, _es = await ready_desk(make_desk, sim)
    started = desk.clock()
    await desk.safety.kill("the KILL button", "a strategy ran away")
    await wait_until(lambda: report_of(desk, started), what="the kill's report")
    killed = ours(caplog, "the KILL button", "a strategy ran away")
    assert len(killed) == 1, [r.getMessage() for r in killed]
    assert killed[0].levelno == logging.INFO
    assert "HALTED" in killed[0].getMessage()

    desk.rearm("the trading bar", "found the bug, strategy unloaded")
    rearmed = ours(caplog, "the trading bar", "found the bug, strategy unloaded")
    assert len(rearmed) == 1, [r.getMessage() for r in rearmed]
    assert rearmed[0].levelno == logging.INFO
    assert "ACTIVE" in rearmed[0].getMessage()


async def test_intents_and_fills_are_told_at_info(
    make_desk: MakeDesk, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    desk, es = await ready_desk(make_desk, sim)
    resting = desk.place(lmt(es, es_last(sim, es) - 10)).refs[0]
    await wait_until(lambda: state(desk, resting) is OrderState.WORKING, what="working")
    placed = ours(caplog, resting)
    assert placed and placed[0].levelno == logging.INFO
    assert "BUY 1" in placed[0].getMessage() and es.display in placed[0].getMessage()

    market = desk.place(OrderIntent(es, Side.SELL, 2, OrderType.MARKET, TICKET)).refs[0]
    await wait_until(lambda: state(desk, market) is OrderState.FILLED, what="filled")
    await wait_until(lambda: ours(caplog, "fill", market), what="the fill told")
    [fill] = ours(caplog, "fill", market)
    assert fill.levelno == logging.INFO and "SELL 2" in fill.getMessage()


async def test_cancelling_a_bracket_logs_its_three_202s_at_info(
    make_desk: MakeDesk, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    """TWS cancels a bracket's exits with its entry: their 202s answer ibdesk's own cancel."""
    caplog.set_level(logging.INFO)
    desk, es = await ready_desk(make_desk, sim)
    below = es_last(sim, es) - 10
    refs = desk.place(BracketIntent(lmt(es, below), below + 2, below - 2)).refs
    await wait_until(lambda: all(state(desk, r) is OrderState.WORKING for r in refs), what="on")
    assert desk.cancel_order(refs[0]).accepted
    await wait_until(lambda: len(ours(caplog, "TWS 202")) == 3, what="three 202s")
    assert [r.levelno for r in ours(caplog, "TWS 202")] == [logging.INFO] * 3
