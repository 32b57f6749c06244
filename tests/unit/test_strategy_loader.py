"""What a strategy file must declare before it loads: a bad declaration is refused with
what is wrong, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibdesk.strategies.loader import MIN_TIMER, StrategyError, load_file

TIMED = """
from ibdesk.strategies import Strategy

class Timed(Strategy):
    instruments = ("ES",)
    timer = {timer}
"""


@pytest.mark.parametrize("timer", ["-1", "0.001", "float('nan')", "'5'", "True"])
def test_a_timer_that_is_not_a_sensible_period_is_refused(tmp_path: Path, timer: str) -> None:
    # A negative or tiny period would call on_timer in a busy loop and starve the desk (and
    # never move a replay's clock on); text or a bool is a typo.
    path = tmp_path / "timed.py"
    path.write_text(TIMED.format(timer=timer))
    with pytest.raises(
        StrategyError, match=f"Timed.timer must be a number of seconds, at least {MIN_TIMER:g}"
    ):
        load_file(path)


@pytest.mark.parametrize("timer", ["None", "0.05", "1", "60.0"])
def test_a_timer_of_a_period_or_none_loads(tmp_path: Path, timer: str) -> None:
    path = tmp_path / "timed.py"
    path.write_text(TIMED.format(timer=timer))
    [cls] = load_file(path)
    assert cls.timer == (None if timer == "None" else float(timer))
