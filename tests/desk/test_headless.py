"""The desk runs without Qt: a fresh interpreter imports the desk core, trades through it
against the simulator on plain asyncio, and never imports PySide6, qasync or pyqtgraph.

In a process of its own, because pytest-qt has imported PySide6 into this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import private_env

pytestmark = pytest.mark.desk

SCRIPT = r"""
import asyncio, json, sys, time
from pathlib import Path

from ibdesk.config import ConnectionSettings, Settings, limits_off
from ibdesk.desk.core import Desk
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import Side, Source
from ibdesk.simtws import SimConfig, SimThread


async def until(check, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def main(port: int, journal: Path) -> dict:
    settings = Settings(
        connection=ConnectionSettings(host="127.0.0.1", port=port, client_id=1),
        risk=limits_off(),
    )
    desk = Desk(settings, journal, watchlist=["ES"])
    desk.start()
    await until(lambda: desk.link.status.state is LinkState.CONNECTED, "connected")
    await until(lambda: len(desk.watchlist.items) == 1, "ES on the watchlist")
    es = desk.watchlist.items[0]
    await until(lambda: desk.quotes.get(es.con_id) is not None, "an ES quote")
    bracket = desk.template_bracket(es, Side.BUY, Source("hotkey"))
    decision = desk.place(bracket)
    entry, *legs = decision.refs
    # Entered at the touch, the entry may fill at once or rest; its exits then work.
    await until(
        lambda: desk.orders.get(entry).state.value in ("Working", "Filled")
        and all(desk.orders.get(r).state.value == "Working" for r in legs),
        "the bracket working",
    )
    report = await desk.kill("headless test")
    await desk.close()
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "qasync", "pyqtgraph"))
    return {"refs": list(decision.refs), "verified": report.verified, "qt": qt}


with SimThread(SimConfig(port=0, seed=3, tick_interval=0.05)) as sim:
    result = asyncio.run(main(sim.port, Path(sys.argv[1])))
    result["at_sim"] = [o["order_ref"] for o in sim.control.orders()]
print(json.dumps(result))
"""


def test_the_desk_trades_and_kills_with_no_qt_in_the_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "journal.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
        env=private_env(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["qt"] == [], f"Qt was imported: {result['qt']}"
    assert len(result["refs"]) == 3 and set(result["refs"]) <= set(result["at_sim"])
    assert all(ref.startswith("hotkey#") for ref in result["refs"])
    assert result["verified"]
