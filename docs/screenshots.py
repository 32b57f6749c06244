"""The README's and the guide's pictures, made from the demo so they stay current.

    python docs/screenshots.py            # every picture, into docs/
    python docs/screenshots.py --only halted-1366x768

Each picture is taken in a process of its own, with a private home (no config, layout or
journal of the user's is read or written), on Qt's offscreen platform (no display needed), in
the dark theme, at the window size in its name, from the layout a first start gives at that
size. A picture is taken when what it shows is there (the charts loaded, the kill verified),
not after a fixed wait; a run that never gets there fails instead of saving a half-drawn
window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Shot:
    """One picture: its name, the window's size, and whether the desk is killed first."""

    name: str
    width: int
    height: int
    halted: bool = False


SHOTS = (
    Shot("desk-1920x1080", 1920, 1080),
    Shot("desk-1366x768", 1366, 768),
    Shot("halted-1366x768", 1366, 768, halted=True),
)


def take(shot: Shot, path: Path) -> int:
    """Run the demo desktop, lay it out for the shot's size, save the window; 0 if saved."""
    import asyncio

    from ibdesk import config
    from ibdesk.demo import start_demo
    from ibdesk.desktop import run_desktop
    from ibdesk.domain.connection import LinkState
    from ibdesk.windowed import WindowedDesk

    sim, settings = start_demo(config.Settings(), None)
    outcome = {"code": 1}

    async def shoot(desk: WindowedDesk) -> None:
        window = desk.window
        window.resize(shot.width, shot.height)
        window.reset_layout()
        try:
            await until(lambda: desk.link.status.state is LinkState.CONNECTED)
            charts = window.chart_area.charts
            await until(lambda: all(c.series is not None and len(c.series) for c in charts))
            await until(lambda: window.positions_model.rowCount() > 0)
            if shot.halted:
                desk.kill("kill button")
                await until(lambda: "verified" in window.state_band.texts())
            await asyncio.sleep(0.5)  # two frames for the charts to draw what they hold
            outcome["code"] = 0 if window.grab().save(str(path), "PNG") else 1
        finally:
            window.close()

    async def until(predicate: object) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT_S
        while not predicate():  # type: ignore[operator]
            if loop.time() > deadline:
                raise TimeoutError(f"{shot.name}: the demo never got ready")
            await asyncio.sleep(0.05)

    def on_ready(desk: WindowedDesk) -> None:
        desk.tasks.spawn(shoot(desk), f"the {shot.name} screenshot")

    try:
        run_desktop(settings, theme_override="dark", on_ready=on_ready)
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
            code = subprocess.run(command, env=env, timeout=TIMEOUT_S * 2, check=False).returncode
        print(f"{shot.name}.png: {'saved' if code == 0 else f'FAILED ({code})'}")
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
