"""ibdesk starts itself as a child (the stall watchdog, the kill window) through one function,
``ibdesk_command``; it must work from a pip install and from a frozen bundle alike.

A PyInstaller bundle has no ``python -m``: its ``sys.executable`` is ibdesk itself and takes
ibdesk's own arguments. The frozen case runs a stand-in executable that behaves exactly so (a
script that hands its arguments to ibdesk), and the actual bundle is tested in tests/bundle.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ibdesk.broker.watchdog import EmergencyLine, ibdesk_command
from tests.helpers import private_env


def run(command: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=private_env(home), check=False
    )


def test_from_a_pip_install_the_child_is_python_dash_m_ibdesk(tmp_path: Path) -> None:
    command = ibdesk_command("kill", "--help")
    assert command == [sys.executable, "-m", "ibdesk", "kill", "--help"]
    result = run(command, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: ibdesk kill" in result.stdout


@pytest.mark.skipif(os.name != "posix", reason="the stand-in bundle is a shell script")
def test_from_a_frozen_bundle_the_child_is_the_bundle_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle" / "ibdesk"
    bundle.parent.mkdir()
    # What a frozen ibdesk is to its caller: one executable that takes ibdesk's arguments.
    bundle.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ibdesk "$@"\n')
    bundle.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle))
    command = ibdesk_command("kill", "--help")
    assert command == [str(bundle), "kill", "--help"]
    result = run(command, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: ibdesk kill" in result.stdout
    watchdog = EmergencyLine("127.0.0.1", 7497, 101, 1.5).command()
    assert watchdog[:2] == [str(bundle), "watchdog"]
