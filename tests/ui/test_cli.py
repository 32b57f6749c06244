"""The ``ibdesk`` command as a user runs it: a demo screenshot, a bad config."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import private_env

pytestmark = pytest.mark.ui


def run(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = private_env(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "ibdesk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_demo_screenshot_writes_a_png(tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    result = run(["--demo", "--screenshot", str(shot), "--exit-after", "3"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a real window, not an empty frame
    assert "Traceback" not in result.stderr
    # Where the simulator listens, its control port too (a free one when not asked for).
    assert re.search(r"127\.0\.0\.1:\d+\D.*control port 127\.0\.0\.1:\d+", result.stdout)


def test_bad_config_is_reported_by_key_and_nothing_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[connection]\nport = "seven"\nclinet_id = 3\n')
    result = run(["--config", str(bad)], tmp_path)
    assert result.returncode == 2
    assert "[connection] port: must be an integer from 1 to 65535, got 'seven'" in result.stderr
    assert "unknown key 'clinet_id' (did you mean 'client_id'?)" in result.stderr


def test_screenshot_needs_exit_after(tmp_path: Path) -> None:
    result = run(["--screenshot", str(tmp_path / "x.png")], tmp_path)
    assert result.returncode == 2 and "--exit-after" in result.stderr


def test_the_demo_keeps_its_own_journal_and_window_state(tmp_path: Path) -> None:
    """The demo never touches a real account's journal, latch or layout: its orders, fills,
    kills and watchlist live in a folder of its own."""
    shot = tmp_path / "demo.png"
    result = run(["--demo", "--screenshot", str(shot), "--exit-after", "3"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    data = tmp_path / "ibdesk"
    assert (data / "demo" / "journal.sqlite").exists()
    assert not (data / "journal.sqlite").exists()
    state = tmp_path / "ibdesk" / "window.ini"
    assert not state.exists() and (tmp_path / "ibdesk" / "demo" / "window.ini").exists()
    export = run(
        ["journal", "export", "--demo", "--since", "2000-01-01", "--csv", str(tmp_path / "d.csv")],
        tmp_path,
    )
    assert export.returncode == 0, export.stderr
    assert len((tmp_path / "d.csv").read_text().splitlines()) > 1  # the demo session's rows


def test_the_demos_files_are_private(tmp_path: Path) -> None:
    """Journal, log and window state as the real app writes them: 0600 in 0700 folders."""
    import stat

    result = run(["--demo", "--screenshot", str(tmp_path / "s.png"), "--exit-after", "3"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    written = [
        tmp_path / "ibdesk" / "demo" / "journal.sqlite",
        tmp_path / "ibdesk" / "demo" / "window.ini",
        tmp_path / "ibdesk" / "log" / "ibdesk.log",
    ]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_says_where_its_simulator_listens_and_takes_a_control_port(
    tmp_path: Path,
) -> None:
    """One line on stdout: the simulator's API address and its control port, which answers
    (so a trader can try faults on the demo: drop the connection, a farm down, a price jump)."""
    wanted = _free_port()
    args = ["--demo", "--sim-control-port", str(wanted), "--exit-after", "6"]
    with subprocess.Popen(
        [sys.executable, "-m", "ibdesk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_env(tmp_path),
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "" at once if the flag is refused
        found = re.search(r"127\.0\.0\.1:(\d+)\D.*control.*127\.0\.0\.1:(\d+)", line)
        if found is None:
            proc.kill()
            pytest.fail(f"no address line on stdout: {line!r} {proc.communicate()[1][-1500:]}")
        api, control = int(found[1]), int(found[2])
        assert control == wanted
        with socket.create_connection(("127.0.0.1", control), timeout=5) as sock:
            stream = sock.makefile("rwb")
            stream.write(b'{"op": "status", "id": 1}\n')
            stream.flush()
            reply = json.loads(stream.readline())
        assert reply["ok"] and reply["result"]["port"] == api
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]


def test_the_sim_ports_need_the_demo(tmp_path: Path) -> None:
    result = run(["--sim-control-port", "7498"], tmp_path)
    assert result.returncode == 2
    assert "--sim-control-port only makes sense with --demo" in result.stderr


def test_a_taken_sim_port_is_said_in_a_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["--demo", "--sim-port", str(port), "--exit-after", "1"], tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert str(port) in result.stderr and "address already in use" in result.stderr.lower()
