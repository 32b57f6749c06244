"""Suite-wide rules: Qt offscreen, and no silent failures.

A test fails on any record from the client library's ``Decoder`` logger (a message it could
not decode is dropped silently otherwise), on eventkit listener exceptions (eventkit logs them
instead of raising), on errors logged by the simulated TWS itself, and on exceptions left in
an asyncio loop (asyncio's and qasync's loggers). A test that provokes one of these on purpose
asks for ``expected_faults``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import Connect, quick_sim

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WATCHED = ("ib_async.Decoder", "ib_insync.Decoder", "eventkit", "ibdesk.simtws", "asyncio")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        silent_drop = name.endswith(".Decoder") or name.startswith("eventkit")
        # IB's codes are the broker's word, logged by ibdesk at their level (a rejected order
        # is an ERROR); tests provoke them on purpose. Not a failure of ibdesk's own.
        our_error = (
            record.levelno >= logging.ERROR
            and name.startswith(("ibdesk", "asyncio", "qasync"))
            and name != "ibdesk.broker.codes"
        )
        if silent_drop or our_error:
            self.records.append(record)


class ExpectedFaults:
    """What a test expects to be logged; everything else still fails it."""

    def __init__(self) -> None:
        self.decoder_errors = 0
        self.errors: dict[str, int] = {}

    def allow_decoder_errors(self, count: int) -> None:
        """Allow up to ``count`` Decoder records (a corrupted-frame test)."""
        self.decoder_errors += count

    def allow_errors(self, logger: str, count: int = 1) -> None:
        """Allow up to ``count`` ERROR records from one logger (a test that provokes them)."""
        self.errors[logger] = self.errors.get(logger, 0) + count


@pytest.fixture
def expected_faults() -> ExpectedFaults:
    """Declare log records this test provokes on purpose."""
    return ExpectedFaults()


@pytest.fixture(autouse=True)
def no_nightly_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A desk built on default settings here expects no TWS restart: the default, 23:45 ET,
    would hold every strategy paused in a suite that happens to run at 23:40 ET. The restart
    tests give their own ``[restart]``; ``RestartSettings()`` keeps the real defaults."""
    from ibdesk import config

    defaults = config.Settings.__init__.__defaults__ or ()
    monkeypatch.setattr(
        config.Settings.__init__,
        "__defaults__",
        tuple(
            config.RestartSettings(daily_at="") if isinstance(d, config.RestartSettings) else d
            for d in defaults
        ),
    )


@pytest.fixture(autouse=True)
def no_silent_failures(expected_faults: ExpectedFaults):
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    loggers = [logging.getLogger(n) for n in WATCHED]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield
    root.removeHandler(collector)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)
    allowed = expected_faults.decoder_errors
    decoder = [r for r in collector.records if r.name.endswith(".Decoder")]
    others = [r for r in collector.records if not r.name.endswith(".Decoder")]
    for name, count in expected_faults.errors.items():
        mine = [r for r in others if r.name == name]
        if len(mine) <= count:
            others = [r for r in others if r.name != name]
    problems = others + (decoder if len(decoder) > allowed else [])
    if problems:
        lines = "\n".join(f"{r.name}: {r.getMessage()[:300]}" for r in problems[:10])
        pytest.fail(f"{len(problems)} silent failure(s) were logged:\n{lines}", pytrace=False)


@pytest.fixture
def sim_config() -> SimConfig:
    """A fast, seeded simulator on a free port; tests override it as they need."""
    return quick_sim()


@pytest.fixture
def sim(sim_config: SimConfig) -> Iterator[SimThread]:
    """The simulated TWS, running on its own thread and loop."""
    with SimThread(sim_config) as running:
        yield running


@pytest_asyncio.fixture
async def connect(sim: SimThread) -> AsyncIterator[Connect]:
    """Connect real clients (``await connect(client_id=1)``); all are closed afterwards."""
    clients: list[Any] = []

    async def _connect(client_id: int = 1, timeout: float = 10, **kwargs: Any) -> Any:
        ib = shim.IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=timeout, **kwargs)
        clients.append(ib)
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()
    await asyncio.sleep(0)
