"""The README's and the guide's pictures, made from the demo so they stay current.

    python docs/screenshots.py            # every picture, into docs/
    python docs/screenshots.py --only halted-1366x768

Each picture is taken in a process of its own, with a private home (no config, layout or
journal of the user's is read or written), on Qt's offscreen platform (no display needed), in
the dark theme, at the window size the shot names (1366 x 768 for most of the guide's), from
the layout a first start gives at that size. A picture is taken when what it shows is there
(the charts loaded, the kill verified, the strategy's bracket working), not after a fixed
wait; a run that never gets there fails instead of saving a half-drawn window.

A picture shows the whole window, or one part of it (the ticket, a chart, the kill window,
the alerts' test dialog) where the guide explains that part.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ibdesk.simtws import SimThread
    from ibdesk.windowed import WindowedDesk

DOCS = Path(__file__).resolve().parent
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Shot:
    """One picture: its name, the window's size, and the scene it shows (``desk``: the demo
    as it starts; the others are the functions of :data:`SCENES`)."""

    name: str
    width: int
    height: int
    scene: str = "desk"


SHOTS = (
    Shot("desk-1920x1080", 1920, 1080),
    Shot("desk-1366x768", 1366, 768),
    Shot("halted-1366x768", 1366, 768, "halted"),
    Shot("guide-ticket", 1366, 768, "ticket"),
    Shot("guide-chart-armed", 1366, 768, "chart_armed"),
    Shot("guide-reducing", 1366, 768, "reducing"),
    Shot("guide-kill-window", 1366, 768, "kill_window"),
    Shot("guide-strategies", 1920, 1080, "strategies"),
    Shot("guide-alerts", 1366, 768, "alerts"),
)

Until = Callable[[Callable[[], object], str], Any]
""" ``await until(predicate, what)``: wait for it, or fail the picture naming ``what`` """


@dataclass
class Stage:
    """What a scene works with: the desk and its window, the simulator, and the waiter."""

    desk: WindowedDesk
    sim: SimThread
    until: Until
    cleanups: list[Callable[[], object]] = field(default_factory=list)
    """ run after the picture is saved, before the window closes """


# ---- the scenes: each sets the desk up and returns the widget to save -------------------------


async def desk_scene(stage: Stage) -> QWidget:
    return stage.desk.window


async def halted_scene(stage: Stage) -> QWidget:
    window = stage.desk.window
    stage.desk.kill("kill button")
    await stage.until(lambda: "verified" in window.state_band.texts(), "the kill verified")
    return window


async def reducing_scene(stage: Stage) -> QWidget:
    window = stage.desk.window
    stage.desk.reduce("reduce button")
    await stage.until(lambda: "REDUCING" in window.state_band.texts(), "the REDUCING band")
    return window


async def ticket_scene(stage: Stage) -> QWidget:
    """An ES bracket from the template in the ticket, sized by a $200 risk, with IB's
    what-if answered: what a trader sees just before Submit."""
    from PySide6.QtTest import QTest

    panel = await es_in_the_ticket(stage)
    QTest.keyClicks(panel.risk, "200")
    await stage.until(lambda: "initial margin" in panel.preview.text(), "the what-if")
    await stage.until(panel.submit_button.isEnabled, "Submit enabled")
    return stage.desk.window.dock("ticket")


async def chart_armed_scene(stage: Stage) -> QWidget:
    """A resting ES bracket sent from the ticket (a buy limit under the bid): its entry,
    take-profit and stop as lines on the armed chart, next to the demo's position."""
    from PySide6.QtTest import QTest

    window = stage.desk.window
    chart = window.chart_area.charts[0]
    panel = await es_in_the_ticket(stage)
    before = len(chart.overlay.lines)
    # A buy limit resting under the bid with exits of 16 and 12 ticks (typed over the
    # template's), where its three lines and their labels stand clear of the lines already
    # there (the demo's stop and target, the position) and inside the prices in view.
    entry = clear_entry(stage, chart, float(panel.entry.text()), up=4.0, down=3.0)
    for edit, text in (
        (panel.entry, f"{entry:.2f}"),
        (panel.take_profit, "16"),
        (panel.stop_loss, "12"),
    ):
        edit.clear()
        QTest.keyClicks(edit, text)
    await stage.until(panel.submit_button.isEnabled, "Submit enabled")
    panel.submit()
    await stage.until(lambda: len(chart.overlay.lines) >= before + 3, "the bracket's lines")
    chart.arm_button.setChecked(True)
    return chart


def clear_entry(stage: Stage, chart: Any, bid: float, up: float, down: float) -> float:
    """An ES buy-limit price under ``bid`` whose bracket (take-profit ``up`` points above it,
    stop ``down`` below) keeps 2 points from every other order line and the position, stays
    above the lowest price in view, and is at most 12 points (48 ticks) from the bid: from
    50 ticks the ticket asks to confirm a fat finger. The nearest to the middle of the view
    between the bid and its low wins."""
    low = chart.view.price_box.viewRange()[1][0]
    con_id = chart.instrument.con_id if chart.instrument is not None else None
    taken = [o.limit_price or o.stop_price for o in stage.desk.orders.live()]
    held = stage.desk.positions.positions.values()
    taken += [p.avg_price for p in held if p.instrument.con_id == con_id]
    taken = [t for t in taken if t is not None]
    middle = (bid + low) / 2
    candidates = sorted((bid - 0.25 * i for i in range(4, 49)), key=lambda e: abs(e - middle))
    for entry in candidates:
        prices = (entry + up, entry, entry - down)
        if entry - down > low and all(abs(p - t) >= 2.0 for p in prices for t in taken):
            return entry
    return bid - 3.0


async def kill_window_scene(stage: Stage) -> QWidget:
    """The separate kill window, connected with its own client id, after its KILL verified
    (the same window ``ibdesk kill --window`` opens; here in the demo's process)."""
    from ibdesk.broker.emergency import StandbyKill
    from ibdesk.desk.safety import WINDOW_ID_OFFSET
    from ibdesk.ui.kill_window import KillWindow

    desk = stage.desk
    conn = desk.settings.connection
    client_id = conn.client_id + WINDOW_ID_OFFSET
    standby = StandbyKill(conn.host, conn.port, client_id, desk.journal_path)
    window = KillWindow(
        f"{conn.host}:{conn.port} as client {client_id}",
        standby.kill,
        lambda: standby.connected,
        on_reduce=standby.reduce,
    )
    desk.tasks.spawn(standby.keep_connected(), "the kill window's connection")
    stage.cleanups += [window.close, standby.stop]
    window.show()
    await stage.until(lambda: standby.connected, "the kill window connected")
    window.show_link()
    window.start(flatten=False)
    await stage.until(lambda: "verified" in window.result.text(), "the kill window's kill")
    return window


async def strategies_scene(stage: Stage) -> QWidget:
    """The shipped breakout example running on ES 5-second bars, after a jump in the price
    gave it a signal: its bracket working, its position and its why in the panel."""
    from ibdesk.strategies.runner import StrategyState

    desk, window = stage.desk, stage.desk.window
    runner = desk.strategies
    await stage.until(lambda: runner.state_of("Breakout") is StrategyState.RUNNING, "running")
    window.dock("strategies").raise_()
    chart = window.chart_area.charts[0]
    assert chart.series is not None
    con_id = chart.instrument.con_id if chart.instrument is not None else "ES"

    def positioned() -> bool:
        return any(s.position for s in runner.statuses() if s.name == "Breakout")

    for _ in range(6):  # each jump a new high: the next 5-second bar closes above the range
        stage.sim.control.jump_price(con_id, 12)
        try:
            await stage.until(positioned, "the breakout's position", timeout=8.0)
            break
        except TimeoutError:
            continue
    await stage.until(positioned, "the breakout's position")
    window.strategies_model.sync()
    return window


async def alerts_scene(stage: Stage) -> QWidget:
    """File > Send a test alert… after a send: the desktop, the sound and a push to a
    local service that stands in for ntfy (the config names it; the file is private)."""
    dialog = stage.desk.window.alerts_ui.open_test_dialog()
    dialog.send()
    await stage.until(lambda: "(ntfy): " in dialog.push_result.text(), "the push answered")
    if "(ntfy): sent" not in dialog.push_result.text():
        raise RuntimeError(f"the push failed: {dialog.push_result.text()}")
    return dialog


SCENES: dict[str, Callable[[Stage], Any]] = {
    "desk": desk_scene,
    "halted": halted_scene,
    "reducing": reducing_scene,
    "ticket": ticket_scene,
    "chart_armed": chart_armed_scene,
    "kill_window": kill_window_scene,
    "strategies": strategies_scene,
    "alerts": alerts_scene,
}


async def es_in_the_ticket(stage: Stage) -> Any:
    """The ticket with ES typed in, the entry following the bid."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    panel = stage.desk.window.ticket_panel
    stage.desk.window.dock("ticket").raise_()
    panel.symbol.setText("ES")
    QTest.keyClick(panel.symbol, Qt.Key.Key_Return)
    await stage.until(lambda: panel.instrument is not None, "ES in the ticket")
    await stage.until(
        lambda: math.isfinite(panel.market().bid) and panel.entry.text(), "the entry at the bid"
    )
    return panel


# ---- one picture, in a process of its own -----------------------------------------------------


class PushReceiver:
    """A local push service for the alerts picture: answers every POST as ntfy does (200,
    a JSON body) and keeps the messages."""

    def __init__(self) -> None:
        received: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(body.decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ntfy://127.0.0.1:{self.http.server_address[1]}/ibdesk-alerts"


def settings_for(shot: Shot) -> Any:
    """The demo's settings; for the alerts picture, a private config file naming a push URL."""
    from ibdesk import config

    if shot.scene != "alerts":
        return config.Settings(), None
    receiver = PushReceiver()
    path = config.default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[alerts]\npush = ["{receiver.url}"]\n', encoding="utf-8")
    path.chmod(0o600)
    return config.load(path), receiver


def strategies_for(shot: Shot) -> Any:
    """The breakout example, started once connected, for the strategies picture."""
    from ibdesk.desktop import StrategyLaunch

    if shot.scene != "strategies":
        return None
    from ibdesk.strategies.loader import checked_strategies

    files, params = checked_strategies(["breakout"], [])
    return StrategyLaunch(files, params, start=True)


def take(shot: Shot, path: Path) -> int:
    """Run the demo desktop, lay it out for the shot's size, set the scene, save; 0 if saved."""
    import asyncio

    from ibdesk.demo import start_demo
    from ibdesk.desktop import run_desktop
    from ibdesk.domain.connection import LinkState

    # The push receiver (alerts) serves on a daemon thread until this process ends: the desk
    # sends what its alert windows still hold as it closes, after the window has gone.
    settings, _receiver = settings_for(shot)
    sim, settings = start_demo(settings, None)
    outcome = {"code": 1}

    async def until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT_S) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError(f"{shot.name}: never got {what}")
            await asyncio.sleep(0.05)

    async def shoot(desk: WindowedDesk) -> None:
        window = desk.window
        window.resize(shot.width, shot.height)
        window.reset_layout()
        try:
            await until(lambda: desk.link.status.state is LinkState.CONNECTED, "connected")
            charts = window.chart_area.charts
            await until(
                lambda: all(c.series is not None and len(c.series) for c in charts), "the charts"
            )
            await until(lambda: window.positions_model.rowCount() > 0, "the positions")
            stage = Stage(desk, sim, until)
            try:
                widget = await SCENES[shot.scene](stage)
                await asyncio.sleep(0.5)  # two frames for the charts to draw what they hold
                outcome["code"] = 0 if widget.grab().save(str(path), "PNG") else 1
            except Exception:  # the run says why here, not only in the desk's log file
                traceback.print_exc()
                raise
            finally:
                for cleanup in stage.cleanups:
                    cleanup()
        finally:
            window.close()

    def on_ready(desk: WindowedDesk) -> None:
        desk.tasks.spawn(shoot(desk), f"the {shot.name} screenshot")

    try:
        run_desktop(
            settings, theme_override="dark", on_ready=on_ready, strategies=strategies_for(shot)
        )
    finally:
        sim.stop()
    return outcome["code"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="one picture by name (default: all)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where to save (default: docs/)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shots = {s.name: s for s in SHOTS}
    if args.child:
        return take(shots[args.child], args.out / f"{args.child}.png")
    wanted = [shots[args.only]] if args.only else list(SHOTS)
    failed = 0
    for shot in wanted:
        with tempfile.TemporaryDirectory(prefix="ibdesk-shot-") as home:
            env = {
                **os.environ,
                "HOME": home,
                "XDG_CONFIG_HOME": f"{home}/config",
                "XDG_DATA_HOME": f"{home}/data",
                "XDG_STATE_HOME": f"{home}/state",
                "XDG_CACHE_HOME": f"{home}/cache",
                "QT_QPA_PLATFORM": "offscreen",
            }
            command = [sys.executable, __file__, "--child", shot.name, "--out", str(args.out)]
            try:
                done = subprocess.run(command, env=env, timeout=TIMEOUT_S * 2, check=False)
                code, why = done.returncode, f"FAILED (exit code {done.returncode})"
            except subprocess.TimeoutExpired:
                code, why = 1, f"FAILED (no picture within {TIMEOUT_S * 2:g} s)"
        print(f"{shot.name}.png: {'saved' if code == 0 else why}", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
