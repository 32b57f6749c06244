"""Example strategies, shipped with ibdesk to read, run and copy.

* ``breakout.py``: a bar breakout on ES with a native bracket (take-profit and stop-loss in
  ticks), one position at a time.
* ``mean_reversion.py``: quote-driven mean reversion on AAPL: limit entries when the mid is
  stretched from its rolling mean, a limit exit back at the mean, a stop in z-score.

Run one in the demo: ``ibdesk --demo --strategy breakout --start`` (a shipped example is
found by its name; any other strategy by its file's path). They are teaching code, not
advice: read why each rule is there before trading anything like them.
"""

from pathlib import Path

FOLDER = Path(__file__).parent
""" where the example files are (they are loaded by path, like any strategy file) """


def names() -> list[str]:
    """The shipped examples' names (``breakout``, ``mean_reversion``)."""
    return sorted(p.stem for p in FOLDER.glob("*.py") if not p.stem.startswith("_"))


def path_of(name: str) -> Path | None:
    """The file of a shipped example (``"breakout"`` or ``"breakout.py"``), or None."""
    stem = name.removesuffix(".py")
    if not stem.isidentifier() or stem.startswith("_"):
        return None
    path = FOLDER / f"{stem}.py"
    return path if path.is_file() else None
