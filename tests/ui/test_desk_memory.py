"""A desk left running keeps what it schedules bounded.

The soak (``benchmarks.soak``) found the desk holding every timer it had ever scheduled:
the kill switch's heartbeat (ten a second) and its journal watch (one a second) each
rescheduled themselves, and every handle, run long ago, stayed in a list that was copied on
each beat. These tests count the handles still alive that would call the desk's safety
wiring: one pending run per periodic job, however long the desk has run.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from ibdesk.simtws import SimThread
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


def safety_handles(safety: Any) -> list[asyncio.Handle]:
    """Live asyncio handles (pending or long run) whose callback is a method of ``safety``."""
    gc.collect()
    return [
        h
        for h in gc.get_objects()
        if isinstance(h, asyncio.Handle) and getattr(h._callback, "__self__", None) is safety
    ]


async def test_the_safety_timers_stay_one_per_job_however_long_the_desk_runs(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk = await make_desk()
    await wait_until(lambda: desk.session.is_connected, timeout=15, what="connected")
    await asyncio.sleep(3.0)  # the scenario: time passes, 30 heartbeats and 3 journal checks
    kept = safety_handles(desk.safety)
    assert len(kept) <= 2, f"{len(kept)} timer handles kept after 3 s; one per job expected"
