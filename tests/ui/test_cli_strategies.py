"""``ibdesk --strategy``: strategies loaded, given parameters and started from the command
line, as a user runs it (a subprocess with a private home); mistakes said in words, before
any window opens."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.ui.test_cli import run

pytestmark = pytest.mark.ui


def journal_actions(home: Path) -> list[tuple[str, str, str]]:
    """(who, action, detail) of the demo journal's actions table."""
    path = home / "ibdesk" / "demo" / "journal.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT who, action, detail FROM actions ORDER BY id").fetchall()


def test_the_examples_start_in_the_demo_with_their_params(tmp_path: Path) -> None:
    result = run(
        [
            "--demo",
            "--strategy",
            "breakout",
            "--strategy",
            "mean_reversion.py",
            "--start",
            "--param",
            "Breakout.lookback=10",
            "--param",
            "MeanReversion.entry_z=2.5",
            "--exit-after",
            "10",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    rows = {(who, action): detail for who, action, detail in journal_actions(tmp_path)}
    assert "lookback=10," in rows[("strategy:Breakout", "strategy started")]
    assert "entry_z=2.5," in rows[("strategy:MeanReversion", "strategy started")]
    assert not [key for key in rows if key[1] == "strategy halted"]


def test_without_start_only_the_configs_autostart_starts(tmp_path: Path) -> None:
    """After a restart nothing trades by itself unless the trader said so: loaded strategies
    stay stopped, except those the config's [strategies] autostart names."""
    conf = tmp_path / "config.toml"
    conf.write_text('[strategies]\nautostart = ["MeanReversion"]\n')
    args = ["--config", str(conf), "--strategy", "breakout", "--strategy", "mean_reversion"]
    result = run(["--demo", *args, "--exit-after", "8"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    started = {who for who, action, _ in journal_actions(tmp_path) if action == "strategy started"}
    assert started == {"strategy:MeanReversion"}
    log = (tmp_path / "ibdesk" / "log" / "ibdesk.log").read_text()
    assert "loaded Breakout from breakout.py" in log


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--strategy", "nowhere.py"], "--strategy nowhere.py: no such file, and no shipped"),
        (["--strategy", "breakout", "--param", "Breakout.lookback=many"], "lookback must be int"),
        (["--strategy", "breakout", "--param", "Breakout.lookbak=3"], "no parameter 'lookbak'"),
        (["--strategy", "breakout", "--param", "Trend.qty=3"], "no strategy 'Trend' is loaded"),
        (["--strategy", "breakout", "--param", "lookback"], "write NAME.key=value"),
        (["--start"], "--start and --param need --strategy FILE"),
    ],
)
def test_a_bad_strategy_or_param_is_said_in_words(
    tmp_path: Path, args: list[str], said: str
) -> None:
    result = run(["--demo", *args, "--exit-after", "5"], tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ibdesk" / "demo" / "journal.sqlite").exists()  # nothing started


def test_a_strategy_file_that_fails_names_its_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from ibdesk.strategies import Strategy\n\nLIMIT = 1 / 0\n")
    result = run(["--demo", "--strategy", str(broken), "--exit-after", "5"], tmp_path)
    assert result.returncode == 2
    assert "broken.py:3 failed to load: ZeroDivisionError: division by zero" in result.stderr
    assert "Traceback" not in result.stderr
