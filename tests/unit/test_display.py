"""Before Qt starts: a display to open the window on, and the libraries Qt's X11 plugin needs.

Without them Qt aborts the process (a core dump) with a message that names the wrong package;
ibdesk says what is missing and exits with a code instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ibdesk import display


def loader_missing(*missing: str):
    """A library loader (ctypes.CDLL's shape) that fails for the named sonames."""
    asked: list[str] = []

    def load(soname: str) -> object:
        asked.append(soname)
        if soname in missing:
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")
        return object()

    load.asked = asked  # type: ignore[attr-defined]
    return load


def test_no_display_is_said_plainly() -> None:
    problem = display.problem({}, platform="linux", load=loader_missing())
    assert problem is not None
    assert "no display" in problem.lower() and "DISPLAY" in problem
    assert "QT_QPA_PLATFORM=offscreen" in problem  # the way to run without a screen


def test_xcb_asked_for_without_display_is_refused_even_on_wayland() -> None:
    problem = display.problem(
        {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"},
        platform="linux",
        load=loader_missing(),
    )
    assert problem is not None and "DISPLAY" in problem


def test_offscreen_and_other_platforms_skip_every_check() -> None:
    load = loader_missing("libxcb-icccm.so.4")
    for name in ("offscreen", "minimal", "wayland", "vnc"):
        assert display.problem({"QT_QPA_PLATFORM": name}, platform="linux", load=load) is None
    assert load.asked == []  # type: ignore[attr-defined]


def test_other_systems_are_not_checked() -> None:
    load = loader_missing("libxcb-icccm.so.4")
    assert display.problem({}, platform="darwin", load=load) is None
    assert display.problem({}, platform="win32", load=load) is None


def test_missing_xcb_libraries_give_the_exact_apt_get_line() -> None:
    load = loader_missing("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0")
    problem = display.problem({"DISPLAY": ":0"}, platform="linux", load=load)
    assert problem is not None
    assert "libxcb-icccm.so.4" in problem and "libxcb-keysyms.so.1" in problem
    lines = [line.strip() for line in problem.splitlines()]
    assert "apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in lines


def test_a_wayland_session_does_not_need_the_xcb_libraries() -> None:
    load = loader_missing("libxcb-icccm.so.4")
    env = {"WAYLAND_DISPLAY": "wayland-0"}
    assert display.problem(env, platform="linux", load=load) is None


def test_all_present_is_no_problem() -> None:
    load = loader_missing()
    assert display.problem({"DISPLAY": ":0"}, platform="linux", load=load) is None
    assert set(load.asked) == set(display.XCB_LIBRARIES)  # type: ignore[attr-defined]


def test_the_library_list_covers_what_pysides_xcb_plugin_links() -> None:
    """The table is checked against the plugin this PySide6 ships (``ldd``), so an upgrade
    that needs one more X library fails here instead of on a trader's machine."""
    import PySide6

    ldd = shutil.which("ldd")
    if ldd is None or not sys.platform.startswith("linux"):
        pytest.skip("needs ldd on Linux")
    qt = Path(PySide6.__file__).parent / "Qt"
    linked: set[str] = set()
    for lib in (qt / "plugins/platforms/libqxcb.so", qt / "lib/libQt6XcbQpa.so.6"):
        out = subprocess.run([ldd, str(lib)], capture_output=True, text=True, check=True).stdout
        linked |= set(re.findall(r"^\s*(\S+\.so\.\d+) =>", out, re.MULTILINE))
    x_libs = {n for n in linked if re.match(r"lib(xcb|X11|xkbcommon|GL\.|EGL\.)", n)}
    assert x_libs, "ldd listed no X library: is this the xcb plugin?"
    assert x_libs <= set(display.XCB_LIBRARIES), x_libs - set(display.XCB_LIBRARIES)


def test_ibdesk_without_a_display_exits_with_the_reason(tmp_path: Path) -> None:
    """As a user would meet it: no DISPLAY, QT_QPA_PLATFORM unset. Today Qt aborts."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(XDG_CONFIG_HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path), HOME=str(tmp_path))
    env["XDG_DATA_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ibdesk", "--demo", "--exit-after", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "no display" in result.stderr.lower()
    assert "could not be initialized" not in result.stderr  # Qt never got to try
    assert not (tmp_path / "ibdesk" / "demo" / "journal.sqlite").exists()  # nothing started
