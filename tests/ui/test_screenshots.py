"""docs/screenshots.py, which makes the README's and the guide's pictures, works without a
display and gives pictures of the size in their names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.ui

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "screenshots.py"


def test_the_halted_picture_is_made_at_its_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "halted-1366x768", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    image = QImage(str(tmp_path / "halted-1366x768.png"))
    assert (image.width(), image.height()) == (1366, 768)


@pytest.mark.parametrize(
    "name",
    [
        "guide-kill-window",  # a window of its own, with a connection: it must close too
        "guide-alerts",  # push through a private config to a local service, and its answer
    ],
)
def test_a_guide_picture_is_made(tmp_path: Path, name: str) -> None:
    """Two of the guide's scenes, the ones with the most moving parts (the others are the
    desk's own panels, which the halted picture already exercises)."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", name, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    image = QImage(str(tmp_path / f"{name}.png"))
    assert not image.isNull() and image.width() > 300 and image.height() > 100
