"""Can a window open here? Checked before Qt is started, because Qt cannot say it well.

On Linux, with no display or with a library of its X11 (xcb) platform plugin missing, Qt
aborts the process (a core dump) after "no Qt platform plugin could be initialized", and
since 6.5 its hint names ``libxcb-cursor0`` whatever library is really missing. This module
says what is missing in words, with the exact ``apt-get`` line for Debian and Ubuntu, so the
command line can print it and exit with a code instead.

Only the platforms that need an X server are checked: ``QT_QPA_PLATFORM=offscreen`` (tests,
screenshots on a server), ``wayland``, ``vnc`` and the others are left to Qt.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

#: The X libraries Qt's xcb plugin and its libQt6XcbQpa link (``ldd`` on PySide6 6.11's
#: ``plugins/platforms/libqxcb.so``), by soname, with the Debian/Ubuntu package that ships
#: each. tests/unit/test_display.py checks this table against the installed plugin.
XCB_LIBRARIES: Mapping[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
}

Loader = Callable[[str], object]
""" loads a shared library by soname, raising OSError when it cannot (``ctypes.CDLL``) """


def problem(
    env: Mapping[str, str],
    *,
    platform: str = sys.platform,
    load: Loader = ctypes.CDLL,
) -> str | None:
    """Why Qt could not open a window here, in words for a terminal; None when it can.

    Args:
        env: the environment (``os.environ``): QT_QPA_PLATFORM, DISPLAY, WAYLAND_DISPLAY.
        platform: ``sys.platform``; only Linux (and the BSDs) use X11.
        load: how to try a library. The dynamic loader is asked, not a file search, so
            LD_LIBRARY_PATH and the loader's cache count exactly as they will for Qt (the
            libraries loaded here are the ones Qt's plugin loads a moment later anyway).
    """
    if platform in ("win32", "cygwin", "darwin"):
        return None
    wanted = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if wanted not in ("", "xcb"):
        return None  # offscreen, wayland, vnc ...: Qt's own business
    if not x11 and (wanted == "xcb" or not wayland):
        return _no_display(wanted)
    if wanted == "" and wayland:
        return None  # Qt picks its Wayland plugin in a Wayland session
    missing = missing_libraries(load)
    return _missing(missing) if missing else None


def missing_libraries(load: Loader = ctypes.CDLL) -> list[str]:
    """The sonames of XCB_LIBRARIES the dynamic loader cannot load."""
    missing = []
    for soname in XCB_LIBRARIES:
        try:
            load(soname)
        except OSError:
            missing.append(soname)
    return missing


def _no_display(wanted: str) -> str:
    unset = "DISPLAY is not set"
    if wanted != "xcb":
        unset = "neither DISPLAY nor WAYLAND_DISPLAY is set"
    return (
        f"ibdesk: no display to open the window on ({unset}).\n"
        "Start it from a desktop session, or over `ssh -X`. Without a screen:\n"
        "  - `ibdesk run FILE.py` runs strategies without a window;\n"
        "  - QT_QPA_PLATFORM=offscreen renders off screen (with --screenshot PATH)."
    )


def _missing(sonames: list[str]) -> str:
    packages = sorted({XCB_LIBRARIES[s] for s in sonames})
    return (
        "ibdesk: Qt's X11 (xcb) platform plugin needs libraries this system lacks: "
        + ", ".join(sonames)
        + ".\nOn Debian or Ubuntu, install them (as root) with:\n"
        + "  apt-get install -y "
        + " ".join(packages)
        + "\nOther systems: the packages that ship those files (on Fedora, xcb-util-* and"
        " libxkbcommon-x11). See the README's Linux section."
    )
