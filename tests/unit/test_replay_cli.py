"""``ibdesk replay TAPE --export CSV --from --to``: a time range of a tape for a spreadsheet; and
what the command says of a file that is not a tape."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from ibdesk import cli
from ibdesk.replay.tape import parse_when
from tests.unit.test_tape import ES, T0, a_session, record


def hhmmss(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


def test_a_range_of_a_tape_exports_to_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, tape = record(tmp_path, a_session)
    out = tmp_path / "range.csv"
    code = cli.main(
        [
            "replay",
            str(tape),
            "--export",
            str(out),
            "--from",
            hhmmss(T0 + 2),
            "--to",
            hhmmss(T0 + 3),
        ]
    )
    assert code == 0
    assert "events of" in capsys.readouterr().out
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(T0 + 2 <= float(r["epoch"]) <= T0 + 3 + 1e-6 for r in rows)
    kinds = [r["kind"] for r in rows]
    assert "intent" in kinds and "order" in kinds and "fill" in kinds and "quote" not in kinds
    fill = next(r for r in rows if r["kind"] == "fill")
    assert fill["symbol"] == ES.display and fill["price"] == "6800.25" and fill["qty"] == "2.0"
    order = [r for r in rows if r["kind"] == "order"]
    assert [r["state"] for r in order] == ["Queued", "Working", "Filled"]


def test_the_whole_tape_exports_with_quotes_in_columns(tmp_path: Path) -> None:
    _, tape = record(tmp_path, a_session)
    out = tmp_path / "all.csv"
    assert cli.main(["replay", str(tape), "--export", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    quote = next(r for r in rows if r["kind"] == "quote")
    assert (quote["bid"], quote["ask"], quote["last"]) == ("6800.0", "6800.25", "6800.25")


def test_a_cut_tape_exports_what_it_holds_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, tape = record(tmp_path, a_session)
    with sqlite3.connect(tape) as db:
        db.execute("DELETE FROM meta WHERE key = 'closed'")
    assert cli.main(["replay", str(tape), "--export", str(tmp_path / "cut.csv")]) == 0
    said = capsys.readouterr().out
    assert "ends early" in said and "cut" in said


def test_a_file_that_is_not_a_tape_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    notes = tmp_path / "notes.tape"
    notes.write_text("not a tape")
    assert cli.main(["replay", str(notes), "--export", str(tmp_path / "x.csv")]) == 2
    assert "not an ibdesk tape" in capsys.readouterr().err
    assert cli.main(["replay", str(tmp_path / "missing.tape")]) == 2


def test_times_of_day_are_on_the_tapes_day() -> None:
    day = dt.datetime(2026, 12, 4, 15, 0).timestamp()
    assert parse_when("09:30", day) == dt.datetime(2026, 12, 4, 9, 30).timestamp()
    assert parse_when("2026-12-03T10:00:00", day) == dt.datetime(2026, 12, 3, 10).timestamp()
    with pytest.raises(ValueError):
        parse_when("half past nine", day)
