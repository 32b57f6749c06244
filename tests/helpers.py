"""Helpers shared by the end-to-end and UI tests: waiting, and the simulator's set-up."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ibdesk.simtws import SimConfig


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
) -> Any:
    """Poll ``predicate`` on the running loop until it is truthy; fail after ``timeout``.

    Polling keeps the loop running (network events, Qt events under qasync), unlike a sleep
    that hopes; the test fails with ``what`` in the message if the condition never holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(0.01)


def quick_sim(**fields: Any) -> SimConfig:
    """The suite's simulator: a free port, a fixed seed, a fast tick; ``fields`` add to it."""
    return SimConfig(port=0, seed=7, tick_interval=0.05, **fields)


Connect = Callable[..., Awaitable[Any]]
"""The ``connect`` fixture's function: ``await connect(client_id=7)`` gives a connected client."""


def private_env(home: Path) -> dict[str, str]:
    """The environment for an ``ibdesk`` subprocess with a private home: no user config is
    read, and its state, journal and logs stay in ``home``."""
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home),
        "XDG_STATE_HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "HOME": str(home),
    }
