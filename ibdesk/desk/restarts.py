"""The desk's side of TWS's daily restart: pause before it, expect it, resume after it.

Driven by the pure :class:`~ibdesk.domain.restarts.RestartSchedule` and the desk's clock,
ticking once a second (a few date computations: nothing on the order or quote path):

* ``pause_before`` ahead of the restart, every strategy is held PAUSED (the gate lets its
  exits and cancels through, refuses its new entries saying why);
* a disconnect inside the window is the expected restart: a log line, not an alarm (the
  alerts ask :meth:`RestartWatch.expected_for`), and the status bar says so;
* after the reconnect *and* the reconciliation (or a window that passes with no restart),
  the hold ends: at once when ``auto_resume`` (``ibdesk run``, per ``[restart]
  resume_headless``), else when the trader acknowledges the report (the window's "while
  ibdesk was away" banner, dismissed; ``ibdesk run`` takes SIGUSR1).

Events:
    changed(RestartView): the stage changed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ibdesk import events
from ibdesk.clock import Clock
from ibdesk.domain import times
from ibdesk.domain.connection import LinkState, Notice, Severity
from ibdesk.domain.restarts import (
    RestartOutlook,
    RestartPhase,
    RestartSchedule,
    RestartStage,
    RestartView,
)
from ibdesk.state.link import LinkStore
from ibdesk.tasks import TaskGroup

log = logging.getLogger("ibdesk.desk.restarts")

HOLD = "restart"
""" the runner's hold for the restart """
REPORT_KEY = "reconcile"
""" the notice key of the report the trader acknowledges (the "while away" banner's) """
TICK = 1.0
""" seconds between looks at the clock """


class StrategyHold(Protocol):
    """What the watch asks of the strategy runner (ibdesk.strategies.runner)."""

    def hold(self, kind: str, why: str) -> None:
        """Hold every strategy paused for ``kind``, saying ``why``."""

    def release(self, kind: str, why: str) -> None:
        """End the hold: the strategies it paused go on."""


class RestartWatch:
    """Holds the strategies around TWS's daily restart and tells what it expects.

    Args:
        schedule: the configured schedule.
        runner: the strategies to hold and release.
        link: the connection's status and the notices (the report to acknowledge).
        clock: the desk's clock.
    """

    def __init__(
        self, schedule: RestartSchedule, runner: StrategyHold, link: LinkStore, clock: Clock
    ) -> None:
        self.schedule = schedule
        self.runner = runner
        self.link = link
        self.clock = clock
        self.auto_resume = False
        """ resume after the reconcile without asking (ibdesk run sets it per the config) """
        self.how_to_resume = "acknowledge this report (Dismiss)"
        """ said in the log while the strategies wait for an acknowledgement """
        self.stage = RestartStage.OFF if schedule.daily_at is None else RestartStage.CLEAR
        self.changed = events.new("restartChanged")
        self._outlook: RestartOutlook | None = None
        self._held_for: float | None = None
        """ the restart the strategies are (or were last) held for """
        self._done_for: float | None = None
        """ the restart whose hold is over (its window may still be open) """
        self._tasks = TaskGroup("restart watch", log)
        link.cleared += self._on_notice_cleared

    # ---- what others ask ------------------------------------------------------------------------

    def view(self) -> RestartView:
        """The stage and the schedule now."""
        outlook = self._outlook or self.schedule.outlook(self.clock())
        upcoming = None
        if outlook is not None:
            upcoming = outlook.restart_at
            if outlook.phase is RestartPhase.WINDOW and self.stage is RestartStage.CLEAR:
                after = self.schedule.outlook(outlook.window_end)
                upcoming = after.restart_at if after is not None else None
        return RestartView(self.stage, outlook, upcoming, self.schedule.zone)

    def expected_for(self) -> float:
        """Seconds a disconnect (or TWS's loss of IB) stays expected from now: the rest of
        the restart window; 0 outside it."""
        outlook = self.schedule.outlook(self.clock())
        if outlook is None or outlook.phase is not RestartPhase.WINDOW:
            return 0.0
        return max(outlook.window_end - self.clock(), 0.0)

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Look at the clock now and then once a second (call with the loop running)."""
        if self.stage is RestartStage.OFF:
            log.info("no daily TWS restart expected ([restart] daily_at is empty)")
            return
        log.info("%s", self._schedule_text())
        self.tick()
        self._tasks.spawn(self._ticking(), "restart schedule")

    async def close(self) -> None:
        """Stop ticking and listening."""
        self.link.cleared -= self._on_notice_cleared
        await self._tasks.close()

    async def _ticking(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.tick()

    def tick(self) -> None:
        """Move the stage on with the clock."""
        outlook = self._outlook = self.schedule.outlook(self.clock())
        if outlook is None:
            return
        fresh = outlook.restart_at != self._done_for
        if self.stage is RestartStage.CLEAR and fresh and outlook.phase is not RestartPhase.CLEAR:
            self._hold(outlook)
            if outlook.phase is RestartPhase.PAUSE_BEFORE:
                self._to(RestartStage.PAUSED, self._pausing_text(outlook))
            else:
                self._to(RestartStage.WINDOW, self._window_text(outlook))
        elif self.stage is RestartStage.PAUSED and outlook.phase is RestartPhase.WINDOW:
            self._to(RestartStage.WINDOW, self._window_text(outlook))
        elif self.stage is RestartStage.PAUSED and outlook.phase is RestartPhase.CLEAR:
            self._over("the restart time moved away (the clock changed)")
        elif self.stage is RestartStage.WINDOW and outlook.phase is not RestartPhase.WINDOW:
            self._over(
                f"no TWS restart was seen by the end of its window ({self._at(self.clock())})",
            )

    # ---- the connection -------------------------------------------------------------------------

    def on_disconnected(self) -> None:
        """A disconnect: inside the window it is the restart; outside it is none of ours."""
        if self.stage is RestartStage.OFF:
            return
        outlook = self._outlook = self.schedule.outlook(self.clock())
        if outlook is None or outlook.phase is not RestartPhase.WINDOW:
            return
        self._hold(outlook)
        self._to(
            RestartStage.RESTARTING,
            f"Expected TWS restart (daily at {self._at(outlook.restart_at)}): the connection "
            "dropped inside the restart window, no alarm; ibdesk reconnects when TWS is back, "
            "strategies stay paused until the book is reconciled"
            + (" (the weekly re-login is due: TWS waits for someone to log in)")
            * outlook.needs_login,
        )

    def reconciled(self, counts: str) -> bool:
        """The book is reconciled after a connect; True when that ends the expected restart
        (the report is then this watch's to post: ``counts`` is its summary)."""
        if self.stage is RestartStage.WAITING:
            # The report still waits for the trader: it keeps saying what it holds.
            self._report(f"reconnected and reconciled again ({counts})")
            return True
        if self.stage is not RestartStage.RESTARTING:
            return False
        if self.link.status.state is not LinkState.CONNECTED:
            return False
        self._over(f"TWS restart over: reconnected and reconciled ({counts})")
        return True

    def acknowledge(self) -> None:
        """The trader (or SIGUSR1 headless) read the report: the held strategies go on."""
        if self.stage is RestartStage.WAITING:
            self._release("acknowledged: strategies resume")

    # ---- helpers --------------------------------------------------------------------------------

    def _hold(self, outlook: RestartOutlook) -> None:
        self._held_for = outlook.restart_at
        self.runner.hold(HOLD, f"for the TWS restart at {self._at(outlook.restart_at)}")

    def _over(self, said: str) -> None:
        """The restart is behind us: resume now, or ask first."""
        self._done_for = self._held_for
        if self.auto_resume:
            self._release(f"{said}; strategies resume")
            return
        self._to(
            RestartStage.WAITING,
            f"{said}; strategies paused for it stay paused until you {self.how_to_resume}",
        )
        self._report(said)

    def _report(self, said: str) -> None:
        """The report the trader acknowledges (the "while away" banner's key)."""
        text = (
            f"{said[0].upper()}{said[1:]}. Strategies paused for the restart stay paused "
            f"until you {self.how_to_resume}."
        )
        self.link.post(Notice(REPORT_KEY, Severity.WARNING, text, 0, self.clock()))

    def _release(self, said: str) -> None:
        # Said first: the log reads "restart over; strategies resume", then each one's line.
        self.stage = RestartStage.CLEAR
        log.info("%s", said)
        self.runner.release(HOLD, "the TWS restart is over")
        self.changed.emit(self.view())

    def _on_notice_cleared(self, key: str) -> None:
        if key == REPORT_KEY:
            self.acknowledge()

    def _to(self, stage: RestartStage, said: str) -> None:
        self.stage = stage
        log.info("%s", said)
        self.changed.emit(self.view())

    def _schedule_text(self) -> str:
        """The schedule in force, said once at the start (what an operator checks first)."""
        s = self.schedule
        outlook = s.outlook(self.clock())
        assert outlook is not None
        text = (
            f"TWS restart expected daily at {self._at(outlook.restart_at)}: strategies pause "
            f"{s.pause_before / 60:g} min before, a disconnect within {s.window / 60:g} min "
            f"after it is the restart, not an alarm"
        )
        if outlook.relogin_at is not None:
            when = moment_text(outlook.relogin_at, s.zone)
            text += f"; IB's weekly re-login {when}"
        return text

    def _pausing_text(self, outlook: RestartOutlook) -> str:
        minutes = outlook.countdown / 60.0
        login = (
            "; the weekly re-login is due: TWS will wait for someone to log in"
            if outlook.needs_login
            else ""
        )
        return (
            f"TWS restart at {self._at(outlook.restart_at)} in {minutes:.1f} min: strategies "
            f"paused until it is over (their exits and cancels still pass){login}"
        )

    def _window_text(self, outlook: RestartOutlook) -> str:
        return (
            f"TWS restart window open ({self._at(outlook.restart_at)} to "
            f"{self._at(outlook.window_end)}): a disconnect now is the expected restart; "
            "strategies stay paused until it is over"
        )

    def _at(self, epoch: float) -> str:
        seconds = int(epoch) % 60 != 0
        return times.time_of_day(epoch, self.schedule.zone, seconds=seconds)


def moment_text(epoch: float, zone: str) -> str:
    """``Sun 01:00 ET``: a weekday and a time of day in ``zone``."""
    return f"{times.moment(epoch, zone):%a} {times.time_of_day(epoch, zone, seconds=False)}"
