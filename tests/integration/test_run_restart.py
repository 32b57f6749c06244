"""``ibdesk run`` and TWS's daily restart: a subprocess against the simulator, with the
restart configured around now, so nothing waits for 23:45 ET.

Waits are on the runner's own output (a reader thread collects its lines), never on time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from ibdesk.simtws import SimConfig, SimThread
from tests.fake_push import push_server
from tests.helpers import quick_sim, wait_until
from tests.integration.test_run import finished, no_runner_left, start_run, strategy

pytestmark = pytest.mark.sim

__all__ = ["no_runner_left"]  # the fixture that kills a runner a failed test leaves behind


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim()


class Output:
    """The runner's stdout, line by line, as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._stream = proc.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def index(self, text: str, after: int = -1) -> int:
        """The first line after line ``after`` that holds ``text`` (-1: none yet)."""
        for i in range(after + 1, len(self.lines)):
            if text in self.lines[i]:
                return i
        return -1

    async def line(self, text: str, after: int = -1, timeout: float = 20.0) -> int:
        await wait_until(
            lambda: self.index(text, after) >= 0,
            timeout=timeout,
            what=f"{text!r} in the output:\n" + "\n".join(self.lines[-30:]),
        )
        return self.index(text, after)

    def text(self) -> str:
        return "\n".join(self.lines)


def restart_config(tmp_path: Path, daily_at: dt.datetime, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[restart]\n"
        f'daily_at = "{daily_at:%H:%M:%S}"\n'
        'time_zone = "UTC"\n'
        "pause_before_minutes = 20\n"
        "window_minutes = 10\n"
        'weekly_relogin = ""\n' + extra
    )
    path.chmod(0o600)  # it may hold push URLs
    return path


async def test_strategies_pause_before_the_restart_exits_pass_entries_are_refused(
    tmp_path: Path, sim: SimThread
) -> None:
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=10)
    proc = start_run(
        [str(strategy(tmp_path, timer="1.2")), "--port", str(sim.port), "--client-id", "7",
         "--config", str(restart_config(tmp_path, soon)), "--log-format", "json"],
        tmp_path,
    )  # fmt: skip
    out = Output(proc)
    paused = json.loads(out.lines[await out.line(f"TWS restart at {soon:%H:%M:%S} UTC in ")])
    assert paused["logger"] == "ibdesk.desk.restarts" and paused["level"] == "INFO"
    assert "strategies paused until it is over" in paused["message"]
    await out.line(f"strategy Rest: Paused (for the TWS restart at {soon:%H:%M:%S} UTC)")
    denied = await out.line("order DENIED (strategy: Rest is paused (for the TWS restart at")
    assert out.index("order sent from strategy:Rest") == -1  # no entry ever went
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finished(proc)
    assert code == 0, err[-2000:]
    assert denied >= 0


async def test_a_restart_inside_the_window_is_expected_and_they_resume_after_reconciling(
    tmp_path: Path, sim: SimThread
) -> None:
    """The runner starts inside the window (strategies held), the simulator restarts: a log
    line and no alarm (the push server would hear it: disconnect_after is 1 s, the restart
    takes 3), then after the reconnect and the reconciliation the strategy resumes and
    trades."""
    with push_server() as push:
        just_now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
        alerts = f'[alerts]\npush = ["{push.url()}"]\ndisconnect_after = 1\ngroup_seconds = 0.1\n'
        path = restart_config(tmp_path, just_now, alerts)
        proc = start_run(
            [str(strategy(tmp_path, timer="1.2")), "--port", str(sim.port), "--client-id", "7",
             "--config", str(path)],
            tmp_path,
        )  # fmt: skip
        out = Output(proc)
        await out.line(f"TWS restart window open ({just_now:%H:%M:%S} UTC to")
        await out.line("order DENIED (strategy: Rest is paused (for the TWS restart at")
        sim.control.restart(down_seconds=3.0)
        expected = await out.line("Expected TWS restart (daily at")
        assert "no alarm" in out.lines[expected]
        over = await out.line("TWS restart over: reconnected and reconciled", expected)
        resumed = await out.line("strategy Rest: Running (the TWS restart is over)", over)
        await out.line("order sent from strategy:Rest", resumed)
        assert out.index("order sent from strategy:Rest") > resumed  # nothing before
        # An alarm would have been pushed 1 s into the 3 s restart, long before the resume.
        assert not [t for t in push.titles() if "connect" in t.lower()], push.titles()
        proc.send_signal(signal.SIGTERM)
        code, _, err = await asyncio.wait_for(finished(proc), 40)
        assert code == 0, err[-2000:]


async def test_without_resume_headless_it_waits_for_sigusr1(tmp_path: Path, sim: SimThread) -> None:
    just_now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    path = restart_config(tmp_path, just_now, "resume_headless = false\n")
    proc = start_run(
        [str(strategy(tmp_path, timer="1.2")), "--port", str(sim.port), "--client-id", "7",
         "--config", str(path)],
        tmp_path,
    )  # fmt: skip
    out = Output(proc)
    await out.line("TWS restart window open")
    await out.line("strategy Rest: Paused")
    sim.control.restart(down_seconds=1.0)
    over = await out.line("TWS restart over: reconnected and reconciled")
    assert f"until you send it SIGUSR1 (kill -USR1 {proc.pid})" in out.lines[over]
    assert out.index("strategy Rest: Running", over) == -1
    proc.send_signal(signal.SIGUSR1)
    await out.line("acknowledged: strategies resume", over)
    await out.line("strategy Rest: Running", over)
    await out.line("order sent from strategy:Rest", over)
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finished(proc)
    assert code == 0, err[-2000:]
