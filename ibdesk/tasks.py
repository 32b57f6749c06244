"""Background tasks with an owner: kept, cancelled together, and never failing silently.

asyncio keeps only a weak reference to a task, so one nobody holds can vanish mid-flight; a
task whose exception nobody retrieves is reported, if at all, when it is garbage-collected,
long after the fact and far from its cause. A :class:`TaskGroup` holds its owner's tasks,
logs a failure the moment it happens with the owner's name and what the task was doing, and
cancels what is left when its owner closes. The desk, its broker services, the ticket, the
charts and the strategy runner each keep one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("ibdesk.tasks")


class TaskGroup:
    """The tasks of one owner.

    Args:
        owner: who spawns them, for the log line of a failure ("chart ES 1 min").
        logger: where a failure is logged (the owner's module logger, say).
    """

    def __init__(self, owner: str, logger: logging.Logger | None = None) -> None:
        self.owner = owner
        self.log = logger or log
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, T], what: str = "") -> asyncio.Task[T]:
        """Run ``coro`` on the running loop as a task of this group; returns the task.

        Raises:
            RuntimeError: the group is closed (the coroutine is closed, never run).
        """
        if self.closed:
            coro.close()
            raise RuntimeError(f"{self.owner} is closed: {what or 'a task'} was not started")
        task = asyncio.ensure_future(coro)
        self._tasks[task] = what or getattr(coro, "__qualname__", "a task")
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        what = self._tasks.pop(task, "a task")
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.log.error(
                "%s: %s failed: %s",
                self.owner,
                what,
                error,
                exc_info=(type(error), error, error.__traceback__),
            )

    def cancel_all(self) -> None:
        """Cancel every task still running (their owner no longer wants them)."""
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """Cancel every task and wait until each has ended; no task can be spawned after."""
        self.closed = True
        tasks = list(self._tasks)
        self.cancel_all()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))
