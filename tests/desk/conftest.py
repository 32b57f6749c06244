"""Desk tests: the running desk without its window (no Qt), on plain asyncio, against the
simulated TWS over a real socket: what a strategy runner or a headless server runs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ibdesk.config import ConnectionSettings, RiskSettings, Settings
from ibdesk.desk.core import Desk
from ibdesk.simtws import SimThread

MakeDesk = Callable[..., Awaitable[Desk]]


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
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> AsyncIterator[MakeDesk]:
    """Build desks (``await make_desk(client_id=2)``); all are closed afterwards."""
    desks: list[Desk] = []

    async def make(start: bool = True, settings: Settings | None = None, **connection: Any) -> Desk:
        desk = Desk(settings or settings_for(**connection), tmp_path / "journal.sqlite")
        desks.append(desk)
        if start:
            desk.start()
        return desk

    yield make
    for desk in desks:
        await desk.close()
