"""The simulated TWS under abuse: clients that do not read, that subscribe without end, that
flood it with bad requests. Each is a server others share, so one bad client must cost a
bounded amount of memory, log and time, and the well-behaved bystander must notice nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim

from .conftest import Connect, front_future, wait_until
from .rawclient import Bystander, RawClient, contract_fields, encode

pytestmark = pytest.mark.sim

OUTBOUND_CAP = 1 << 20
LINES = 4
TBT_SLOTS = 2
MAX_TICKERS = "Max number of tickers has been reached"
MAX_TBT = "Max number of tick-by-tick requests has been reached."


@pytest.fixture
def sim_config() -> SimConfig:
    """Small limits, so that every one of them can be reached quickly."""
    return quick_sim(
        max_outbound_bytes=OUTBOUND_CAP, market_data_lines=LINES, tick_by_tick_slots=TBT_SLOTS
    )


class _Records(logging.Handler):
    """Every record of the simulator's loggers, formatted, as they happen (on its thread)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._guard = threading.Lock()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._guard:
            self.lines.append(text)

    def snapshot(self) -> list[str]:
        """The lines so far."""
        with self._guard:
            return list(self.lines)


@pytest.fixture
def sim_log() -> Iterator[_Records]:
    """What the simulator logs during the test, with tracebacks as a file log shows them."""
    records = _Records()
    records.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ibdesk.simtws")
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)


def tick_by_tick(req_id: int, contract: list[str], kind: str = "BidAsk") -> list[str]:
    """reqTickByTickData: ``97, reqId, C(12), tickType, numberOfTicks, ignoreSize``."""
    return ["97", str(req_id), *contract, kind, "0", "0"]


def client_row(sim: SimThread, client_id: int) -> dict[str, Any] | None:
    """The simulator's view of one connected client, or None once it is gone."""
    rows = [c for c in sim.control.clients() if c["client_id"] == client_id]
    return rows[0] if rows else None


# ---- a client that does not read ---------------------------------------------------------------


async def test_a_client_that_stops_reading_is_dropped_and_its_queue_stays_capped(
    sim: SimThread, bystander: Bystander, raw: Callable[..., RawClient], sim_log: _Records
) -> None:
    """Before: the queue grew by 118 MiB in 30 s and the client was never dropped."""
    sim.control.set_rate(0.002, 20)
    offender = raw(rcvbuf=4096).start()
    for n, symbol in enumerate(("ES", "NQ")):
        offender.send(*tick_by_tick(900 + n, contract_fields(sim, symbol)))
    # From here on the offender never reads again.
    peak = 0

    def dropped() -> bool:
        nonlocal peak
        row = client_row(sim, offender.client_id)
        if row is None:
            return True
        peak = max(peak, row["queued_bytes"])
        return False

    await wait_until(dropped, timeout=30, what="the non-reading client to be dropped")
    # One write can overshoot the cap before the check that follows it.
    assert peak <= OUTBOUND_CAP + (256 << 10), peak
    assert any("not reading" in line for line in sim_log.snapshot())
    # Nothing is kept for it once it is gone: the bystander's queue is all that is left.
    assert sim.control.status()["queued_bytes"] < 64 << 10
    sim.control.set_rate(0.05, 1)
    await bystander.still_fine()


# ---- subscription limits ----------------------------------------------------------------------


async def test_market_data_lines_are_shared_and_run_out_with_error_101(
    connect: Connect, sim: SimThread
) -> None:
    first, second = await connect(client_id=1), await connect(client_id=2)
    refused: list[tuple[int, int, str, str]] = []

    def on_error(req_id: int, code: int, text: str, contract: Any = None, *_: Any) -> None:
        refused.append((req_id, code, text, getattr(contract, "symbol", "")))

    second.errorEvent += on_error
    stocks = await shim.qualify(
        first, *(shim.Stock(s, "SMART", "USD") for s in ("AAPL", "MSFT", "NVDA", "TSLA", "SPY"))
    )
    held = [first.reqMktData(c) for c in stocks[:3]]
    second.reqMktData(stocks[3])  # the fourth line, from another client
    second.reqMktData(stocks[4])  # one too many
    await wait_until(lambda: any(r[1] == 101 for r in refused), what="error 101")
    [(_, _, text, symbol)] = [r for r in refused if r[1] == 101]
    assert (text, symbol) == (MAX_TICKERS, "SPY")
    # A snapshot takes no line.
    [snap] = await asyncio.wait_for(second.reqTickersAsync(stocks[4]), 5)
    assert snap.bid > 0
    # A cancelled line is free again.
    first.cancelMktData(held[0].contract)
    refused.clear()
    ticker = second.reqMktData(stocks[4])
    await wait_until(lambda: ticker.bid > 0, what="ticks on the freed line")
    assert [r for r in refused if r[1] == 101] == []


async def test_tick_by_tick_slots_run_out_with_error_10190(ib: Any, sim: SimThread) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: errors.append((code, text))
    es = await front_future(ib)
    nq = await front_future(ib, "NQ")
    cl = await front_future(ib, "CL")
    ib.reqTickByTickData(es, "BidAsk")
    ib.reqTickByTickData(nq, "Last")
    third = ib.reqTickByTickData(cl, "BidAsk")
    await wait_until(lambda: any(c == 10190 for c, _ in errors), what="error 10190")
    assert [t for c, t in errors if c == 10190] == [MAX_TBT]
    assert not third.tickByTicks
    ib.cancelTickByTickData(nq, "Last")
    again = ib.reqTickByTickData(cl, "MidPoint")
    await wait_until(lambda: again.tickByTicks, what="tick-by-tick in the freed slot")


async def test_a_flood_of_tick_by_tick_requests_does_not_starve_a_bystander(
    sim: SimThread, bystander: Bystander, raw: Callable[..., RawClient]
) -> None:
    """Before: 8,000 tick-by-tick subscriptions starved a well-behaved client for 11 s."""
    flooder = raw(timeout=10).start()
    es = contract_fields(sim)
    blob = b"".join(encode(*tick_by_tick(1000 + n, es)) for n in range(8000))

    def flood() -> int:
        flooder.send_bytes(blob)
        # Read everything it is sent until its last request has been handled.
        return len(flooder.exchange("49", "1"))

    started = time.monotonic()
    replies = await asyncio.to_thread(flood)
    ended = time.monotonic()
    assert replies >= 8000 - TBT_SLOTS  # every refused request was answered
    assert bystander.longest_gap(started, ended) < 1.0
    row = client_row(sim, flooder.client_id)
    assert row is not None and row["tick_by_tick"] == TBT_SLOTS
    await bystander.still_fine()


# ---- bad requests in bulk ---------------------------------------------------------------------


async def test_a_flood_of_bad_requests_costs_a_bounded_log(
    sim: SimThread, raw: Callable[..., RawClient], sim_log: _Records
) -> None:
    """Before: every bad request logged a line with the request's fields in it (50 MiB)."""
    offender = raw(timeout=10).start()
    junk = "x" * 4000
    frames = []
    for n in range(1500):
        frames.append(encode("9999", "1", junk))  # unknown message id
        frames.append(encode("1", "11", junk + str(n), *contract_fields(sim)))  # non-int reqId
    before = len(sim_log.snapshot())

    def flood() -> list[list[str]]:
        offender.send_bytes(b"".join(frames))
        return offender.exchange("49", "1")

    replies = await asyncio.to_thread(flood)
    errors = [m for m in replies if m[0] == "4" and m[3] == "320"]
    assert len(errors) == 3000  # each one still answered, with its request id where it has one
    assert max(len(m[4]) for m in errors) <= 300
    logged = sim_log.snapshot()[before:]
    assert sum(len(line) for line in logged) < 64 << 10
    assert max(len(line) for line in logged) < 1024
