"""``ibdesk kill --window`` checks for a display before Qt starts, as ``ibdesk`` does.

Without the check, Qt's xcb plugin aborts the process (a core dump after "could not be
initialized") on a machine with no display: the trader who reaches for the kill window
gets a crash instead of a sentence saying what is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_kill_window_without_a_display_exits_with_the_reason(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path))
    env["XDG_DATA_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ibdesk", "kill", "--window", "--port", "9", "--exit-after", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "no display" in result.stderr.lower()
    assert "could not be initialized" not in result.stderr  # Qt never got to try
    assert "`ibdesk kill` (without --window)" in result.stderr  # what still works here
