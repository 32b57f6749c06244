"""The one task helper: kept, cancelled together, failures logged at once."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from ibdesk.tasks import TaskGroup
from tests.conftest import ExpectedFaults


async def test_a_failure_is_logged_at_once_with_its_owner_and_what_it_did(
    caplog: pytest.LogCaptureFixture, expected_faults: ExpectedFaults
) -> None:
    expected_faults.allow_errors("ibdesk.tasks")
    group = TaskGroup("chart ES 1 min")

    async def boom() -> None:
        raise LookupError("no such contract")

    task = group.spawn(boom(), "loading history")
    with caplog.at_level(logging.ERROR, "ibdesk.tasks"):
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callback runs on the next turn
    [record] = [r for r in caplog.records if r.name == "ibdesk.tasks"]
    assert "chart ES 1 min: loading history failed: no such contract" in record.getMessage()
    assert len(group) == 0


async def test_a_task_nobody_else_holds_still_runs_to_the_end() -> None:
    group = TaskGroup("desk")
    done = asyncio.Event()

    async def slow() -> None:
        await asyncio.sleep(0.01)
        done.set()

    group.spawn(slow())
    gc.collect()  # asyncio alone would hold the task weakly
    await asyncio.wait_for(done.wait(), 1)


async def test_close_cancels_everything_and_refuses_new_tasks() -> None:
    group = TaskGroup("ticket")
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = group.spawn(forever())
    await started.wait()
    await group.close()
    assert task.cancelled() and len(group) == 0
    never = forever()
    with pytest.raises(RuntimeError, match="ticket is closed"):
        group.spawn(never, "a late one")
