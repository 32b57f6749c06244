"""The runners' ``--write-docs``: one row per runner and arguments, the rest of the page kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from benchmarks.reliability import DOC, END, START, record

WHEN = dt.datetime(2026, 12, 4, 1, 10, tzinfo=dt.UTC)
PAGE = (
    f"# Reliability\n\nProse a person wrote.\n\n{START}\n| Runner |\n|---|\n{END}\n\nMore prose.\n"
)


def test_a_run_puts_its_row_and_a_second_run_replaces_it(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text(PAGE)
    record("chaos", "--runs 50 --seed 1", {"chaos_runs": 50, "chaos_failed": 0}, doc, WHEN)
    record("fuzz sim", "--frames 20000 --seed 1", {"fuzz_frames_sim": 20000}, doc, WHEN)
    record("chaos", "--runs 50 --seed 1", {"chaos_runs": 50, "chaos_failed": 1}, doc, WHEN)
    text = doc.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 2
    assert "chaos_failed 1" in rows[0] and "| 2026-12-04 01:10 |" in rows[0]
    assert rows[1].startswith("| `fuzz sim` | `--frames 20000 --seed 1` |")
    assert text.startswith("# Reliability\n\nProse a person wrote.") and text.endswith(
        "More prose.\n"
    )


def test_a_page_without_its_markers_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("# Reliability\n")
    with pytest.raises(ValueError, match="markers"):
        record("chaos", "--runs 1 --seed 1", {"chaos_runs": 1}, doc, WHEN)


def test_the_real_page_has_its_markers() -> None:
    text = DOC.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
