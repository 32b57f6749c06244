"""The frozen bundle's smoke test: the executable PyInstaller built, run as a user runs it.

Opt-in: ``IBDESK_BUNDLE=dist/ibdesk/ibdesk python -m pytest tests/bundle`` (packaging/build.py
does this after a build). Every run starts the bundle fresh, with a private home.

What it proves: the bundle holds what it needs (the package's resources, the Qt plugins a
desktop needs, tzdata, apprise's plugins) and not what it was meant to leave out; its
``kill`` command works; ``--demo`` paints a real window; and against a simulated TWS the
frozen desk starts its watchdog and its kill window as the bundle itself (each connects with
its own client id), adopts a halt from ``ibdesk kill`` and pushes the alert to a local push
service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from ibdesk.simtws import SimThread
from tests.fake_push import push_server
from tests.helpers import private_env, wait_until

BUNDLE = os.environ.get("IBDESK_BUNDLE", "")

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.skipif(not BUNDLE, reason="set IBDESK_BUNDLE to the built executable"),
]

DESK_ID, WATCHDOG_ID, CLI_ID, WINDOW_ID = 1, 101, 102, 103


def executable() -> Path:
    path = Path(BUNDLE).resolve()
    assert path.is_file() and os.access(path, os.X_OK), f"no bundle executable at {path}"
    return path


def internal() -> Path:
    return executable().parent / "_internal"


def run(args: list[str], home: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(executable()), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=private_env(home),
        check=False,
    )


def test_the_bundle_carries_what_it_needs_and_leaves_out_the_rest() -> None:
    root = internal()
    resources = root / "ibdesk" / "resources"
    for name in ("ibdesk.svg", "ibdesk.desktop", *(f"sounds/{s}.wav" for s in ("fill", "halt"))):
        assert (resources / name).is_file(), name
    plugins = root / "PySide6" / "Qt" / "plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
    ):
        assert (plugins / plugin).is_file(), plugin
    assert (root / "tzdata" / "zoneinfo" / "America" / "New_York").is_file()
    # apprise finds its plugins by listing their folder at run time
    assert (root / "apprise" / "plugins" / "custom_json.py").is_file()
    shipped = {p.name for p in root.rglob("*")}
    for left_out in ("libQt6Quick.so.6", "libQt6Qml.so.6", "libQt6Network.so.6", "libqgtk3.so"):
        assert left_out not in shipped, left_out
    assert not any(name.startswith(("libgtk", "libpango", "libcairo")) for name in shipped)


def test_the_example_strategies_are_shipped_as_files_and_run(tmp_path: Path) -> None:
    examples = internal() / "ibdesk" / "strategies" / "examples"
    for name in ("breakout.py", "mean_reversion.py"):
        assert (examples / name).is_file(), name
    args = ["--strategy", "breakout", "--strategy", "mean_reversion", "--start"]
    result = run(["--demo", *args, "--exit-after", "8"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    log = (tmp_path / "ibdesk" / "log" / "ibdesk.log").read_text()
    assert "loaded Breakout from breakout.py" in log
    assert "did not start" not in log


def test_kill_help(tmp_path: Path) -> None:
    result = run(["kill", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ibdesk kill")


def test_the_demo_paints_a_real_window(tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    result = run(["--demo", "--screenshot", str(shot), "--exit-after", "4"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "application icon" not in result.stderr  # the SVG plugin loaded
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600, image.size()
    colors = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colors) > 50, len(colors)  # panels, quotes, a chart: not an empty frame


def clients(sim: SimThread) -> set[int]:
    return {c["client_id"] for c in sim.control.clients()}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle")
async def test_the_frozen_desk_spawns_itself_adopts_a_kill_and_pushes_the_alert(
    sim: SimThread, tmp_path: Path
) -> None:
    with push_server() as server:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[connection]
port = {sim.port}
client_id = {DESK_ID}
auto_connect = true
[risk]
kill_window = true
[alerts]
push = ["{server.url("bundle-secret")}"]
group_seconds = 0.5
"""
        )
        config.chmod(0o600)
        desk = subprocess.Popen(
            [str(executable()), "--config", str(config), "--exit-after", "15"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=private_env(tmp_path),
        )
        try:
            # The desk, its watchdog and its kill window: the last two are the bundle itself.
            await wait_until(
                lambda: {DESK_ID, WATCHDOG_ID, WINDOW_ID} <= clients(sim),
                timeout=40,
                what="the desk, its watchdog and its kill window connected",
            )
            kill = run(["kill", "--config", str(config)], tmp_path)
            assert kill.returncode == 0, kill.stderr[-3000:]
            await wait_until(
                lambda: any("HALTED" in t for t in server.titles()),
                timeout=20,
                what="the halt pushed",
            )
            await wait_until(lambda: desk.poll() is not None, timeout=60, what="the desk exits")
            _, err = desk.communicate(timeout=30)
        finally:
            if desk.poll() is None:
                desk.kill()
                desk.communicate(timeout=30)
        assert desk.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert "bundle-secret" not in err
        await wait_until(
            lambda: not clients(sim) & {DESK_ID, WATCHDOG_ID, WINDOW_ID},
            timeout=20,
            what="the desk's children gone with it",
        )
