"""The desk's event loop: a task woken in qasync's last turn still has its loop."""

from __future__ import annotations

import asyncio
from typing import Any

import qasync
from PySide6.QtWidgets import QApplication

from ibdesk.ui.event_loop import DeskEventLoop

#: Loops stay referenced until the session ends (see tests/ui/conftest.py, _LOOPS).
_KEPT: list[qasync.QEventLoop] = []


def _woken_in_the_last_turn(loop: qasync.QEventLoop) -> list[Any]:
    """Run a main that wakes a background task as it finishes: the wake-up lands in the turn
    after the loop stopped. Returns what went wrong in that task."""
    _KEPT.append(loop)
    errors: list[Any] = []
    steps: list[str] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def background(woken: asyncio.Future[None]) -> None:
        await woken
        steps.append("woken")
        try:
            await asyncio.sleep(0.01)  # needs the running loop
        except RuntimeError as exc:
            errors.append(exc)

    async def main() -> asyncio.Task[None]:
        woken = loop.create_future()
        task = asyncio.ensure_future(background(woken))
        await asyncio.sleep(0)
        # Runs after run_until_complete's own "stop" callback: in qasync's final turn.
        this = asyncio.current_task()
        assert this is not None
        this.add_done_callback(lambda _: woken.set_result(None))
        return task

    task = loop.run_until_complete(main())
    assert steps == ["woken"], "the task was not woken in the last turn"
    task.cancel()
    assert asyncio.events._get_running_loop() is None, "the loop still claims to run"
    return errors


def test_plain_qasync_loses_a_task_woken_in_its_last_turn(qapp: QApplication) -> None:
    # The library's behaviour this module works around; if this starts failing, qasync has
    # fixed it and DeskEventLoop can go.
    errors = _woken_in_the_last_turn(qasync.QEventLoop(qapp))
    assert [e for e in errors if "no running event loop" in str(e)]


def test_the_desk_loop_keeps_its_last_turn_inside_the_loop(qapp: QApplication) -> None:
    loop = DeskEventLoop(qapp)
    assert _woken_in_the_last_turn(loop) == []
    # And it still runs more work afterwards, like any loop.
    assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
