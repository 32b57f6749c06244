"""UI tests: real widgets, offscreen, on a qasync loop, against the simulated TWS.

pytest-asyncio runs every ``async def`` test here on the desk's qasync loop (the
``pytest_asyncio_loop_factories`` hook below), so Qt and asyncio share one loop exactly as in
the app. Tests wait with ``tests.helpers.wait_until``, which keeps that loop turning.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from ibdesk.config import ConnectionSettings, RiskSettings, Settings, TicketSettings
from ibdesk.simtws import SimThread
from ibdesk.ui import theme
from ibdesk.ui.event_loop import DeskEventLoop
from ibdesk.ui.main_window import MainWindow
from ibdesk.windowed import WindowedDesk as Desk

MakeDesk = Callable[..., Awaitable[Desk]]


#: Every test's loop, kept until the session ends. qasync's close() only flags its internal
#: timer QObject as stopped; timers still registered on it fire later, and if the loop (and
#: that QObject) has been garbage-collected by then, Qt delivers the event to freed memory:
#: an intermittent segfault in a later test (seen with ib_insync, whose timings differ).
_LOOPS: list[DeskEventLoop] = []


def _qasync_loop() -> DeskEventLoop:
    app = QApplication.instance() or QApplication([])
    loop = DeskEventLoop(app)
    _LOOPS.append(loop)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Every async test in tests/ui runs on a qasync loop bound to the QApplication."""
    return {"qasync": _qasync_loop}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Close the test's desks the moment its body returns, on the test's own loop.

    pytest-qt processes Qt events right after the body, outside asyncio. Under qasync that
    runs every due timer of a desk still open, and a task it resumes (the session's health
    loop) dies with "no running event loop", unseen until the garbage collector logs it.
    """
    try:
        return (yield)
    finally:
        make = getattr(item, "funcargs", {}).get("make_desk")
        desks = getattr(make, "desks", None)
        if desks:
            make.loop.run_until_complete(asyncio.gather(*(d.close() for d in desks)))


@pytest.fixture
def settings_for(sim: SimThread) -> Callable[..., Settings]:
    """Settings that point at the simulator (override any connection field)."""

    def make(risk: RiskSettings | None = None, **connection: Any) -> Settings:
        base = ConnectionSettings(host="127.0.0.1", port=sim.port, client_id=1, connect_timeout=5.0)
        return Settings(
            connection=dataclasses.replace(base, **connection), risk=risk or RiskSettings()
        )

    return make


@pytest_asyncio.fixture
async def make_desk(
    qapp: QApplication, tmp_path: Path, settings_for: Callable[..., Settings]
) -> AsyncIterator[MakeDesk]:
    """Build desks (``await make_desk(client_id=2)``); all are closed afterwards, and the
    test fails if any top-level widget outlives them."""
    theme.apply(qapp, "dark")
    before = {id(w) for w in qapp.topLevelWidgets()}
    desks: list[Desk] = []

    async def make(
        start: bool = True,
        state_name: str = "window.ini",
        settings: Settings | None = None,
        charts: str = "",
        ticket: TicketSettings | None = None,
        **connection: Any,
    ) -> Desk:
        state = tmp_path / state_name
        if not state.exists():
            # No chart unless the test asks (``charts="ES|1m"``): a chart's back-fill still
            # in flight when a test returns would be resumed by qasync's last processEvents,
            # outside the loop.
            QSettings(str(state), QSettings.Format.IniFormat).setValue("charts/list", charts)
        window = MainWindow(state)
        settings = settings or settings_for(**connection)
        if ticket is not None:
            settings = dataclasses.replace(settings, ticket=ticket)
        desk = Desk(settings, window, journal_path=tmp_path / "journal.sqlite")
        desks.append(desk)
        window.show()
        if start:
            desk.start()
        return desk

    make.desks = desks  # type: ignore[attr-defined]  # for pytest_runtest_call below
    make.loop = asyncio.get_running_loop()  # type: ignore[attr-defined]
    yield make
    for desk in desks:
        await desk.close()
        desk.window.close()
        desk.window.deleteLater()
    qapp.processEvents()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    leaked = [w for w in qapp.topLevelWidgets() if id(w) not in before and w.isVisible()]
    assert not leaked, f"widgets left open: {leaked}"
