"""Files that hold a trader's business (the journal's orders, fills and account codes, the log,
the window state) are readable by that user alone: 0600 files in 0700 folders.

Each file ibdesk knows it writes is created or tightened here, including ones an older ibdesk
left readable by others; the entry points also set the process umask, so that what the
libraries create on their own (SQLite's WAL, a rotated log, Qt's settings file) is private
too. On systems without POSIX modes these do nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
PRIVATE_UMASK = 0o077
_POSIX = os.name == "posix"


def private_umask() -> None:
    """Everything this process creates from now on is private (entry points call this)."""
    if _POSIX:
        os.umask(PRIVATE_UMASK)


def private_folder(path: Path) -> Path:
    """Create a folder (and its parents) if missing, and make it private; returns it."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    _tighten(path, PRIVATE_FOLDER)
    return path


def private_file(path: Path) -> Path:
    """Create an empty file if missing, and make it private; returns it."""
    private_folder(path.parent)
    if _POSIX:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE_FILE))
    else:
        path.touch()
    _tighten(path, PRIVATE_FILE)
    return path


def tighten_if_present(*paths: Path) -> None:
    """Make files that may exist (a journal's WAL, an older window state) private."""
    for path in paths:
        if path.exists():
            _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    if _POSIX:
        with contextlib.suppress(PermissionError):  # not ours to change: leave it be
            path.chmod(mode)
