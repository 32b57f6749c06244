"""The log panel under hostile input: a 1 MiB record and a flood of 30,000 records cost
bounded work per frame (issue 12, finding 6: one 1 MiB append took 30 s holding the GIL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ibdesk.ui.panels.log import MAX_LINES, LogPanel, PanelHandler

pytestmark = pytest.mark.ui


@pytest.fixture
def panel(qtbot: Any) -> Iterator[tuple[LogPanel, logging.Logger]]:
    handler = PanelHandler()
    panel = LogPanel(handler)
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    logger = logging.getLogger("tests.panel")
    logger.propagate = False
    logger.addHandler(handler)
    yield panel, logger
    logger.removeHandler(handler)
    logger.propagate = True


def test_a_megabyte_record_is_shown_cut_and_quickly(panel, qtbot: Any) -> None:
    view, logger = panel
    started = time.perf_counter()
    logger.warning("Warning 2100, reqId -1: " + "x" * (1 << 20))
    logged = time.perf_counter() - started
    qtbot.waitUntil(lambda: "Warning 2100" in view.text.toPlainText(), timeout=3000)
    shown = time.perf_counter() - started
    text = view.text.toPlainText()
    assert logged < 0.05, f"logging the record took {logged:.2f} s"
    assert shown < 1.0, f"the record took {shown:.2f} s to show"
    assert len(text) < 2000
    assert "more characters" in text


def test_a_flood_costs_bounded_work_per_frame_and_says_what_it_skipped(panel) -> None:
    view, logger = panel
    started = time.perf_counter()
    for i in range(30_000):
        logger.error("undecodable frame %d: %s", i, "f" * 200)
    logged = time.perf_counter() - started
    flushes: list[float] = []
    while view.backlog():
        t0 = time.perf_counter()
        view.flush()
        flushes.append(time.perf_counter() - t0)
        assert len(flushes) < 1000
    text = view.text.toPlainText()
    assert logged < 5.0, f"30,000 records took {logged:.2f} s to log"
    assert max(flushes) < 0.05, f"the slowest flush took {max(flushes) * 1000:.0f} ms"
    assert "undecodable frame 29999" in text  # the newest lines are the ones kept
    assert "skipped" in text
    assert view.text.document().blockCount() <= MAX_LINES + 1


def test_records_from_another_thread_arrive(panel, qtbot: Any) -> None:
    import threading

    view, logger = panel
    thread = threading.Thread(target=lambda: logger.warning("from the simulator's thread"))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "simulator's thread" in view.text.toPlainText(), timeout=3000)
