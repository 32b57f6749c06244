"""What ibdesk writes about a trader (orders, fills, account codes, the log, the layout) is
readable by that user alone: files 0600 in folders 0700, also when they existed before."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from ibdesk import logs
from ibdesk.trading.journal import Journal

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_journal_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ibdesk" / "journal.sqlite"
    with Journal(path) as journal:
        journal.action("test", "write", "something")
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert mode(wal) == 0o600
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_an_existing_journal_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    Journal(path).close()
    assert mode(path) == 0o600 and mode(tmp_path) == 0o700


def test_the_log_file_and_its_folder_are_private(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        path = logs.setup(directory=tmp_path / "log")
        logging.getLogger("ibdesk.test").warning("a line")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
    finally:
        for handler in root.handlers[len(before) :]:
            root.removeHandler(handler)
            handler.close()
