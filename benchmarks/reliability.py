"""Keeps the "last figures" table of ``docs/reliability.md`` current.

The runners call :func:`record` when given ``--write-docs``: their row (keyed by the runner
and its arguments) is replaced with today's figures, every other row and the rest of the page
stay as they are. Only the part between the two markers is ever rewritten, so the prose
around it is edited by hand as usual.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
START = "<!-- last-figures:start (written by --write-docs; edit the prose, not this table) -->"
END = "<!-- last-figures:end -->"
HEADER = (
    "| Runner | Arguments | Run (UTC) | Cores | Figures |",
    "|---|---|---|---|---|",
)


def _cell(value: float) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return f"{int(value):,}"


def row(name: str, args: str, figures: dict[str, float], when: dt.datetime) -> str:
    """One table row: ``| `chaos` | `--runs 1000 --seed 1` | 2026-12-04 01:10 | 2 | ... |``."""
    shown = ", ".join(f"{k} {_cell(v)}" for k, v in figures.items())
    return f"| `{name}` | `{args}` | {when:%Y-%m-%d %H:%M} | {os.cpu_count()} | {shown} |"


def record(
    name: str,
    args: str,
    figures: dict[str, float],
    doc: Path = DOC,
    when: dt.datetime | None = None,
) -> None:
    """Put this run's row in the table (replacing the one of the same runner and arguments).

    Raises:
        ValueError: the page has no markers (it was edited by hand past recognition).
    """
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise ValueError(f"{doc} has no last-figures markers")
    head, rest = text.split(START, 1)
    table, tail = rest.split(END, 1)
    key = f"| `{name}` | `{args}` |"
    rows = [
        line
        for line in table.strip().splitlines()
        if line.startswith("| `") and not line.startswith(key)
    ]
    rows.append(row(name, args, figures, when or dt.datetime.now(dt.UTC)))
    rows.sort()
    body = "\n".join([*HEADER, *rows])
    doc.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")
