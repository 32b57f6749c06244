"""The desk's restart watch on a clock the test moves: held before, expected inside the
window, released after the reconcile (at once headless, after the acknowledgement with a
window), and a disconnect outside the window left to the alarms as ever."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

from ibdesk.desk.restarts import REPORT_KEY, RestartWatch
from ibdesk.domain.connection import LinkState
from ibdesk.domain.restarts import RestartSchedule, RestartStage
from ibdesk.state.link import LinkStore

NY = ZoneInfo("America/New_York")


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY).timestamp()


class Runner:
    """The runner's hold and release, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.held = False

    def hold(self, kind: str, why: str) -> None:
        self.calls.append(("hold", kind, why))
        self.held = True

    def release(self, kind: str, why: str) -> None:
        self.calls.append(("release", kind, why))
        self.held = False


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-12-03 23:30"))


def make(clock: Clock, auto: bool = False) -> tuple[RestartWatch, Runner, LinkStore]:
    schedule = RestartSchedule(dt.time(23, 45), "America/New_York", 300.0, 900.0)
    runner, link = Runner(), LinkStore()
    link.set_status(state=LinkState.CONNECTED)
    watch = RestartWatch(schedule, runner, link, clock)
    watch.auto_resume = auto
    return watch, runner, link


def restart(watch: RestartWatch, link: LinkStore, clock: Clock) -> None:
    """TWS goes down inside the window, comes back, and the book is reconciled."""
    clock.now = at("2026-12-03 23:46")
    link.set_status(state=LinkState.RECONNECTING)
    watch.on_disconnected()
    assert watch.stage is RestartStage.RESTARTING
    assert watch.expected_for() == 14 * 60.0  # the rest of the window
    clock.now = at("2026-12-03 23:48")
    link.set_status(state=LinkState.CONNECTED)
    assert watch.reconciled("nothing changed while away")


def test_strategies_are_held_before_the_restart_and_the_window_opens(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    watch, runner, _ = make(clock)
    caplog.set_level(logging.INFO, "ibdesk.desk.restarts")
    watch.tick()
    assert watch.stage is RestartStage.CLEAR and not runner.calls
    clock.now = at("2026-12-03 23:40")
    watch.tick()
    assert watch.stage is RestartStage.PAUSED
    assert runner.calls == [("hold", "restart", "for the TWS restart at 23:45 ET")]
    clock.now = at("2026-12-03 23:45")
    watch.tick()
    assert watch.stage is RestartStage.WINDOW
    assert [r.getMessage()[:35] for r in caplog.records] == [
        "TWS restart at 23:45 ET in 5.0 min:",
        "TWS restart window open (23:45 ET t",
    ]


def test_headless_resumes_by_itself_after_the_reconcile(clock: Clock) -> None:
    watch, runner, link = make(clock, auto=True)
    clock.now = at("2026-12-03 23:41")
    watch.tick()
    restart(watch, link, clock)
    assert not runner.held and watch.stage is RestartStage.CLEAR
    assert REPORT_KEY not in link.notices
    watch.tick()  # the window is still open: the restart it was is over, no new hold
    assert not runner.held
    assert watch.view().next_restart == at("2026-12-04 23:45")


def test_the_window_waits_for_the_trader_to_acknowledge_the_report(clock: Clock) -> None:
    watch, runner, link = make(clock)
    clock.now = at("2026-12-03 23:41")
    watch.tick()
    restart(watch, link, clock)
    assert runner.held and watch.stage is RestartStage.WAITING
    report = link.notices[REPORT_KEY].text
    assert report.startswith("TWS restart over: reconnected and reconciled (nothing changed")
    assert "stay paused until you acknowledge this report (Dismiss)" in report
    clock.now = at("2026-12-03 23:59")
    watch.tick()
    clock.now = at("2026-12-04 00:05")
    watch.tick()
    assert runner.held  # time alone does not resume them
    link.clear(REPORT_KEY)  # the banner's button
    assert not runner.held and watch.stage is RestartStage.CLEAR


def test_a_window_without_a_restart_ends_the_hold_too(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ibdesk.desk.restarts")
    watch, runner, _ = make(clock, auto=True)
    clock.now = at("2026-12-03 23:50")  # started inside the window
    watch.tick()
    assert watch.stage is RestartStage.WINDOW and runner.held
    clock.now = at("2026-12-04 00:00")
    watch.tick()
    assert not runner.held and watch.stage is RestartStage.CLEAR
    assert caplog.records[-1].getMessage() == (
        "no TWS restart was seen by the end of its window (00:00 ET); strategies resume"
    )


def test_a_disconnect_outside_the_window_is_not_the_restart(clock: Clock) -> None:
    watch, _, link = make(clock)
    clock.now = at("2026-12-03 23:42")  # paused before, but TWS is not due yet
    watch.tick()
    link.set_status(state=LinkState.RECONNECTING)
    watch.on_disconnected()
    assert watch.stage is RestartStage.PAUSED and watch.expected_for() == 0.0
    link.set_status(state=LinkState.CONNECTED)
    assert not watch.reconciled("nothing changed while away")  # the desk's usual report


async def test_the_schedule_in_force_is_said_at_the_start(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ibdesk.desk.restarts")
    schedule = RestartSchedule(
        dt.time(23, 45), "America/New_York", 300.0, 900.0, relogin=(6, dt.time(1, 0))
    )
    watch = RestartWatch(schedule, Runner(), LinkStore(), clock)
    watch.start()
    await watch.close()
    assert caplog.records[0].getMessage() == (
        "TWS restart expected daily at 23:45 ET: strategies pause 5 min before, a disconnect "
        "within 15 min after it is the restart, not an alarm; IB's weekly re-login Sun 01:00 ET"
    )


def test_a_later_reconcile_keeps_the_report_saying_the_strategies_wait(clock: Clock) -> None:
    """A report still unacknowledged is not replaced by a plain "while away" one: the
    trader would dismiss it without knowing the strategies wait for that."""
    watch, runner, link = make(clock)
    clock.now = at("2026-12-03 23:41")
    watch.tick()
    restart(watch, link, clock)
    clock.now = at("2026-12-04 00:30")  # a reconnect outside the window, report still up
    assert watch.reconciled("1 fill recovered")
    report = link.notices[REPORT_KEY].text
    assert "1 fill recovered" in report
    assert "stay paused until you acknowledge this report (Dismiss)" in report
    link.clear(REPORT_KEY)
    assert not runner.held
