"""Logging: a rotating file in the user log folder, plus whatever handlers the UI adds."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

from ibdesk import files
from ibdesk.config import APP_NAME

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_dir() -> Path:
    """The user log folder (e.g. ~/.local/state/ibdesk/log on Linux)."""
    return platformdirs.user_log_path(APP_NAME)


def setup(level: int = logging.INFO, directory: Path | None = None) -> Path:
    """Log to ``ibdesk.log`` (5 files of 5 MB) and to stderr for warnings; returns the file."""
    folder = files.private_folder(directory or log_dir())
    path = folder / "ibdesk.log"
    root = logging.getLogger()
    root.setLevel(level)
    file_handler = files.PrivateRotatingFileHandler(
        path, maxBytes=5 << 20, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(console)
    return path
