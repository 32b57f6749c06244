"""Cold start of the desktop app.

``python -m benchmarks.startup``

* ``startup_first_paint_ratio``: seconds from launching a fresh Python process to the first
  paint of ibdesk's main window, divided by the same for a bare PySide6 window (QApplication
  and an empty QMainWindow) measured in the same run. Median of 5 launches each. Goal <= 2.
* ``startup_synced_s``: seconds from launching ibdesk to connected and synced (account values
  in the store) against the simulated TWS running in its own process. Median of 5. Goal <= 3.

Every launch is a new process, so imports and Qt start-up are included, as a user feels them.
The first paint is seen by an event filter on the main window itself. A filter on the whole
application (as this benchmark had) turns every event of every widget into a Python call, and
Python wrappers for each new kind of widget: for ibdesk's window, with its docks, menus and
status bar, that probe cost about 18 ms before the first paint (~10 % of the figure), for the
bare window almost nothing. Until ibdesk's window exists, the filter watches the application
for it (a handful of events).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import emit, median, sim_process

BARE = r"""
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
win = QMainWindow(); win.resize(1280, 800)
class First(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and obj is win:
            print(json.dumps({"paint": time.time()}), flush=True)
            QTimer.singleShot(0, app.quit)
        return False
f = First(); win.installEventFilter(f)
win.show()
app.exec()
"""

IBDESK = r"""
import json, math, sys, time, pathlib
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
marks = {}
class First(QObject):  # watches the application until the main window exists, then it
    window = None
    def eventFilter(self, obj, ev):
        if self.window is None and type(obj).__name__ == "MainWindow":
            self.window = obj
            obj.installEventFilter(self)
            app.removeEventFilter(self)
        if obj is self.window and ev.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()
        return False
f = First(); app.installEventFilter(f)
from ibdesk.desktop import run_desktop
from ibdesk.config import ConnectionSettings, Settings
from ibdesk.domain.connection import LinkState
port, state = int(sys.argv[1]), pathlib.Path(sys.argv[2])
def ready(desk):
    def poll():
        snap = desk.accounts.get(desk.session.account)
        if desk.link.status.state is LinkState.CONNECTED and \
                not math.isnan(snap.net_liquidation) and "paint" in marks:
            marks["synced"] = time.time()
            print(json.dumps(marks), flush=True)
            desk.window.close()
        else:
            QTimer.singleShot(5, poll)
    poll()
run_desktop(Settings(connection=ConnectionSettings(port=port)), state_path=state,
            on_ready=ready)
"""


def launch(code: str, *args: str) -> tuple[float, dict[str, float]]:
    """Run ``code`` in a fresh interpreter; returns (launch time, the JSON it printed)."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    return started, json.loads(line)


def main() -> None:
    """Measure and print both metrics."""
    bare, first, synced = [], [], []
    with sim_process() as sim, tempfile.TemporaryDirectory() as tmp:
        for i in range(5):
            t0, marks = launch(BARE)
            bare.append(marks["paint"] - t0)
            t0, marks = launch(IBDESK, str(sim.port), f"{tmp}/window{i}.ini")
            first.append(marks["paint"] - t0)
            synced.append(marks["synced"] - t0)
    emit(
        "startup_first_paint_ratio",
        median(first) / median(bare),
        1.0,
        "<= 2",
        ibdesk_first_paint_s=round(median(first), 3),
        bare_first_paint_s=round(median(bare), 3),
    )
    emit("startup_synced_s", median(synced), median(bare), "<= 3")


if __name__ == "__main__":
    main()
