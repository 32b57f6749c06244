"""A strategy replay in a child process, for the window: ``ibdesk run FILE --replay TAPE``.

Why a child and not the window's own loop: a replay builds a desk of its own (its gate, its
journal, its strategies) on a simulator whose clock is the tape's, which must not share the
live desk's stores, clock or strategy runner; and the window's loop stays free for the live
market while the replay runs as fast as it can. The child prints its report as JSON on its
last line; this reads it back.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ibdesk.replay.replay_report import ReplayReport


class ReplayChildError(Exception):
    """The replay did not produce a report (the message says why, in the child's words)."""


def replay_command(strategy: Path, tape: Path, params: Iterable[tuple[str, Any]]) -> list[str]:
    """The command line of the replay (the strategy's parameters as the trader set them).

    From a pip install that is this interpreter with ``-m ibdesk``; a frozen bundle has no
    ``-m``: its executable is ibdesk itself (as the kill switch's watchdog is started).
    """
    start = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "ibdesk"]
    args = ["run", str(strategy), "--replay", str(tape), "--log-format", "json"]
    for key, value in params:
        args += ["--param", f"{key}={value}"]
    return start + args


async def replay_in_child(
    strategy: Path, tape: Path, params: Iterable[tuple[str, Any]] = ()
) -> ReplayReport:
    """Run the replay in a child process and return its report.

    Raises:
        ReplayChildError: the child exited without a report (a bad file, a tape it cannot read).
    """
    proc = await asyncio.create_subprocess_exec(
        *replay_command(strategy, tape, params),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    lines = out.decode(errors="replace").strip().splitlines()
    if lines:
        try:
            data = json.loads(lines[-1])
        except ValueError:
            data = None
        if isinstance(data, dict) and "report" in data:
            return ReplayReport.from_dict(data["report"])
    said = err.decode(errors="replace").strip().splitlines()
    raise ReplayChildError(said[-1] if said else f"the replay exited with code {proc.returncode}")
