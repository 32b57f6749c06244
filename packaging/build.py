"""Build ibdesk as a one-folder application with PyInstaller, and smoke-test it.

    python packaging/build.py            # build into dist/ibdesk, then smoke-test it
    python packaging/build.py --no-smoke # build only
    python packaging/build.py --smoke-only

The build runs in a virtualenv of its own (``build/bundle/venv``, reused between builds) with
ibdesk installed from a wheel, not in development mode: the bundle carries exactly what the
wheel carries (a resource missing from the package data is missing from the bundle too).
The smoke test (tests/bundle) runs with the interpreter that runs this script, which needs
the test extra: ``pip install -e ".[test]"``.

Prints the time the build and the smoke test took and the bundle's size on disk; CI runs
this only when asked (``IBDESK_CI_BUNDLE=1 .ci/run``; see packaging/README.md for why).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "pyinstaller" / "ibdesk.spec"


def run(*args: str | Path, **kw: object) -> None:
    """Run a command, echoing it; fail loudly."""
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kw)


def build_python(work: Path) -> Path:
    """The build virtualenv's interpreter (created on first use)."""
    folder = work / "venv"
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        venv.create(folder, with_pip=True)
    return python


def render_icon(python: Path) -> None:
    """Windows and macOS want a raster icon: render the packaged SVG to a 256 px PNG."""
    code = (
        "import sys; from PySide6.QtGui import QGuiApplication, QImage; "
        "from ibdesk import resources; app = QGuiApplication(['x']); image = QImage(); "
        "image.loadFromData(resources.icon_svg(), 'SVG'); sys.exit(not image.save(sys.argv[1]))"
    )
    target = ROOT / "packaging" / "build" / "ibdesk-256.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    run(python, "-c", code, target, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def size_on_disk(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build(dist: Path, work: Path) -> Path:
    """Build the bundle into ``dist`` (``work`` holds the build virtualenv and PyInstaller's
    files); returns the executable."""
    python = build_python(work)
    run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    # A regular install from a wheel (never editable): the bundle sees what the wheel holds.
    run(python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(ROOT))
    run(python, "-m", "pip", "install", "-q", f"{ROOT}[bundle]")
    if sys.platform in ("win32", "darwin"):
        render_icon(python)
    run(
        python, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", dist, "--workpath", work / "pyinstaller", SPEC,
    )  # fmt: skip
    folder = dist / "ibdesk"
    if sys.platform.startswith("linux"):
        shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", folder / "install.sh")
    return folder / ("ibdesk.exe" if os.name == "nt" else "ibdesk")


def smoke(executable: Path) -> None:
    """The bundle's smoke test (tests/bundle) against ``executable``."""
    env = {**os.environ, "IBDESK_BUNDLE": str(executable)}
    run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/bundle", env=env)


def main() -> int:
    """Build and/or smoke-test; print the timings and the size."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes")
    p.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "bundle",
        help="the build virtualenv and PyInstaller's work files (kept: the next build is faster)",
    )
    p.add_argument("--no-smoke", action="store_true", help="build only")
    p.add_argument("--smoke-only", action="store_true", help="test an existing bundle")
    args = p.parse_args()
    executable = args.dist / "ibdesk" / ("ibdesk.exe" if os.name == "nt" else "ibdesk")
    timings: dict[str, float] = {}
    if not args.smoke_only:
        started = time.monotonic()
        executable = build(args.dist, args.work)
        timings["build_s"] = time.monotonic() - started
    if not args.no_smoke:
        started = time.monotonic()
        smoke(executable)
        timings["smoke_s"] = time.monotonic() - started
    size = size_on_disk(executable.parent)
    shown = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    print(f"bundle {executable.parent}: {size / 2**20:.1f} MiB on disk; {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
