"""The log panel as a trader reads it (issue 14): ibdesk's own events, not the client
library's dumps; IB's codes at the level they deserve (202 after ibdesk's own cancel is INFO,
a cancel it did not ask for is a WARNING)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.config import LogSettings, limits_off
from ibdesk.domain.orders import OrderState
from ibdesk.simtws import SimConfig, SimThread
from tests.desk.kit import connected, es_last, lmt, raw_client, ready_desk, state
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui
LIBRARIES = ("ib_async", "ib_insync", "eventkit")


@pytest.fixture
def sim_config() -> SimConfig:
    # A position, so the library logs its portfolio dumps ("updatePortfolio: ...") at INFO.
    return quick_sim(account_update_interval=0.2, positions=(("MES", 2.0),))


def panel_text(desk: Any) -> str:
    """Everything the log panel shows once its queue is drained."""
    panel = desk.window.log_panel
    while panel.backlog():
        panel.flush()
    return str(panel.text.toPlainText())


def library_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(f" {n}." in line for n in LIBRARIES)]


def portfolio_dumps(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The library's own INFO records about the portfolio, as it logged them."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(shim.LOGGER_PREFIX)
        and r.levelno == logging.INFO
        and "updatePortfolio" in r.getMessage()
    ]


async def test_the_librarys_info_records_do_not_reach_the_log_panel_by_default(
    make_desk: MakeDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    desk = await make_desk()
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: portfolio_dumps(caplog), what="the library's portfolio dumps")
    await wait_until(lambda: "connected to" in panel_text(desk), what="ibdesk's own line")
    text = panel_text(desk)
    assert not library_lines(text), library_lines(text)[:5]
    assert "updatePortfolio" not in text


async def test_the_debug_switch_shows_the_library_in_the_panel(
    make_desk: MakeDesk, caplog: pytest.LogCaptureFixture, settings_for: Any
) -> None:
    caplog.set_level(logging.INFO)
    base = settings_for()
    desk = await make_desk(settings=dataclasses.replace(base, log=LogSettings(library=True)))
    await wait_until(lambda: connected(desk), what="connected")
    await wait_until(lambda: "updatePortfolio" in panel_text(desk), what="the dumps shown")


def code_records(caplog: pytest.LogCaptureFixture, code: int) -> list[logging.LogRecord]:
    """ibdesk's own records of an IB code (the library's are its own business)."""
    return [
        r
        for r in caplog.records
        if r.name.startswith("ibdesk.") and f"TWS {code}" in r.getMessage()
    ]


async def test_our_cancel_is_info_and_a_cancel_we_did_not_ask_for_is_a_warning(
    make_desk: MakeDesk, sim: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    desk, es = await ready_desk(make_desk, sim, risk=limits_off())
    below = es_last(sim, es) - 10

    ours = desk.place(lmt(es, below)).refs[0]
    await wait_until(lambda: state(desk, ours) is OrderState.WORKING, what="working")
    assert desk.cancel_order(ours).accepted
    await wait_until(lambda: code_records(caplog, 202), what="ibdesk's record of the 202")
    [record] = code_records(caplog, 202)
    assert record.levelno == logging.INFO, record.getMessage()

    theirs = desk.place(lmt(es, below - 1)).refs[0]
    await wait_until(lambda: state(desk, theirs) is OrderState.WORKING, what="working")
    async with raw_client(sim) as other:
        other.reqGlobalCancel()  # another client's global cancel reaches the desk's order
        await wait_until(lambda: len(code_records(caplog, 202)) == 2, what="the second 202")
    unasked = code_records(caplog, 202)[1]
    assert unasked.levelno == logging.WARNING, unasked.getMessage()

    # The panel says each once, at ibdesk's level: no ERROR line for an ordinary cancel.
    await wait_until(lambda: "WARNING ibdesk" in panel_text(desk), what="the warning shown")
    lines = [line for line in panel_text(desk).splitlines() if "TWS 202 " in line]
    assert len(lines) == 2, lines
    assert " INFO " in lines[0] and " WARNING " in lines[1], lines
