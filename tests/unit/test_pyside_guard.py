"""Guard against the PySide6 6.12.0 crash on CPython 3.11 (FIELD_NOTES.md §3).

6.12.0 drops one reference to None on every void QPainter call, so painting a chart ends in
``Fatal Python error: none_dealloc``. The pin in pyproject.toml keeps it out; these tests keep
a version bump from slipping through unnoticed.
"""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication


def test_installed_pyside_is_below_the_broken_release() -> None:
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), (
        f"PySide6 {PySide6.__version__}: 6.12.0 crashes on CPython 3.11. Lift the pin only "
        "after test_painter_calls_keep_none_alive passes on every supported Python."
    )


def test_painter_calls_keep_none_alive(qapp: QApplication) -> None:
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen = QPen()
    before = sys.getrefcount(None)
    for i in range(100_000):
        painter.setPen(pen)
        painter.drawLine(0, 0, i % 64, 63)
    after = sys.getrefcount(None)
    painter.end()
    # A leak of one reference per call would show as a drop of about 200,000.
    assert before - after < 1_000
