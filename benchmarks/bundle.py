"""The application bundle against a pip install: first paint, and the size on disk.

``python packaging/build.py --no-smoke && python -m benchmarks.bundle [--bundle PATH]``

* ``bundle_start_ratio``: seconds from launching the process to the first paint of the main
  window, for the PyInstaller bundle, divided by the same for the pip install measured in the
  same run (alternating, median of 5 launches each). Both run the same entry script
  (packaging/pyinstaller/ibdesk_main.py: the bundle has it frozen, the pip install runs it
  with this interpreter), which writes the time of the main window's first paint to the file
  ``IBDESK_FIRST_PAINT_FILE`` names; both connect to the simulated TWS in its own process, with
  a private home and the offscreen platform. Goal <= 1.5.
* ``bundle_size_mib``: the bundle folder's size on disk, reported (no goal; see
  packaging/README.md for what is in it and what was left out).

Every launch is a new process, so the bundle's unpacking of its archive and the pip install's
imports are both counted, as a user feels them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import emit, median, sim_process

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "packaging" / "pyinstaller" / "ibdesk_main.py"
DEFAULT_BUNDLE = ROOT / "dist" / "ibdesk" / ("ibdesk.exe" if os.name == "nt" else "ibdesk")
RUNS = 5


def first_paint(command: list[str], port: int, home: Path) -> float:
    """Seconds from starting ``command`` (ibdesk's arguments follow) to its first paint."""
    home.mkdir(parents=True, exist_ok=True)
    mark = home / "first-paint"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "IBDESK_FIRST_PAINT_FILE": str(mark),
        "XDG_CONFIG_HOME": str(home),
        "XDG_STATE_HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "HOME": str(home),
    }
    args = ["--host", "127.0.0.1", "--port", str(port), "--exit-after", "1"]
    started = time.time()
    subprocess.run(
        [*command, *args], env=env, check=True, timeout=90, capture_output=True, text=True
    )
    return float(mark.read_text()) - started


def size_on_disk(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    """Measure and print both metrics."""
    p = argparse.ArgumentParser(description="first paint of the bundle vs the pip install")
    p.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="the bundle's executable")
    bundle = p.parse_args().bundle.resolve()
    if not bundle.is_file():
        sys.exit(f"no bundle at {bundle}: build it first (python packaging/build.py --no-smoke)")
    frozen, pip = [], []
    with sim_process() as sim, tempfile.TemporaryDirectory() as tmp:
        for i in range(RUNS):
            frozen.append(first_paint([str(bundle)], sim.port, Path(tmp) / f"b{i}"))
            pip.append(first_paint([sys.executable, str(ENTRY)], sim.port, Path(tmp) / f"p{i}"))
    emit(
        "bundle_start_ratio",
        median(frozen) / median(pip),
        1.0,
        "<= 1.5",
        bundle_first_paint_s=round(median(frozen), 3),
        pip_first_paint_s=round(median(pip), 3),
        runs=RUNS,
    )
    emit("bundle_size_mib", size_on_disk(bundle.parent) / 2**20, None, "report")


if __name__ == "__main__":
    main()
