"""Counting work instead of timing it: how many lines of Python an action runs.

A time measured on a shared two-core machine says as much about the neighbours as about the
code; the number of Python lines executed does not. A test that does one thing among 200
orders and among 10,000, and compares the lines each run, tells O(1) from O(n) on any
machine. C code (a dict lookup, a ``list()`` copy) is not counted: only Python is.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def lines_executed(action: Callable[[], object]) -> int:
    """Run ``action`` and return how many lines of Python it executed, in every function
    it called (Qt calling back into Python on this thread included).

    The cyclic garbage collector is off while it runs: a collection that happens to fall
    inside the action runs whatever Python finalizers and ``gc.callbacks`` the rest of the
    test session left behind, and those lines are not the action's (CI once counted 17
    lines for an 8-line action that way)."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def enter(frame: FrameType, event: str, arg: Any) -> Any:
        return local

    before = sys.gettrace()
    collecting = gc.isenabled()
    gc.disable()
    sys.settrace(enter)
    try:
        action()
    finally:
        sys.settrace(before)
        if collecting:
            gc.enable()
    return count
