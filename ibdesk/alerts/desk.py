"""The alerts of a running desk: the hub, the watcher on the desk's stores, and push.

:class:`DeskAlerts` is what the composition root creates (one line) and closes (one line), and
what the window's Qt parts attach to (ibdesk.ui.alerts). Push is switched on only when the
config names URLs and the config file is private; otherwise a banner says why it is off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from ibdesk import clock as clocks
from ibdesk.alerts.hub import DESKTOP_WINDOW, AlertHub, Schedule, loop_schedule
from ibdesk.alerts.kinds import routes_from
from ibdesk.alerts.push import PushService
from ibdesk.alerts.watch import DeskWatcher, SwitchEvents
from ibdesk.clock import Clock
from ibdesk.config import AlertSettings, secret_file_problem
from ibdesk.domain.alerts import Alert, AlertKind, Channel
from ibdesk.domain.connection import Notice, Severity
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore

log = logging.getLogger("ibdesk.alerts")

NOTICE_KEY = "alerts"


class DeskAlerts:
    """Alerts wired to a desk's order store, kill switch and link store.

    Attributes:
        hub: where alerts are posted (a strategy breaker posts BREAKER here too).
        push: the push service, or None (no URLs, or a config file others can read).
        push_off: why push is off, in a sentence ("" when it is on or not configured).
    """

    def __init__(
        self,
        settings: AlertSettings,
        config_path: Path | None,
        *,
        orders: OrderStore,
        switch: SwitchEvents,
        link: LinkStore,
        schedule: Schedule = loop_schedule,
        clock: Clock = clocks.system,
        expected: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.link = link
        self.clock = clock
        windows = {
            Channel.DESKTOP: DESKTOP_WINDOW,
            Channel.SOUND: DESKTOP_WINDOW,
            Channel.PUSH: settings.group_seconds,
        }
        self.hub = AlertHub(routes_from(settings.routes), windows, schedule)
        self.push: PushService | None = None
        self.push_off = ""
        if settings.push:
            self.push_off = secret_file_problem(config_path)
            if self.push_off:
                self._announce(f"Push alerts are off: {self.push_off}, then restart ibdesk.")
            else:
                self.push = PushService(settings.push, settings.push_timeout, self._announce)
                self.push.start(_current_loop())
                self.hub.connect(Channel.PUSH, self.push.send)
                log.info("push alerts to %s", ", ".join(self.push.labels))
        self.watcher = DeskWatcher(
            self.hub.post,
            orders=orders,
            switch=switch,
            link=link,
            disconnect_after=settings.disconnect_after,
            schedule=schedule,
            expected=expected,
        )

    def test_alert(self) -> Alert:
        """The alert the test button sends (to every channel, whatever the routes)."""
        return Alert(
            AlertKind.TEST,
            "Test alert from ibdesk",
            "If this reached you, ibdesk's alerts reach you too.",
            self.clock(),
        )

    def close(self) -> None:
        """Stop watching, send what the windows hold, stop the push thread (not waiting for a
        slow service: whatever it still sends, it sends on its own daemon thread)."""
        self.watcher.close()
        self.hub.close()
        if self.push is not None:
            self.push.close()

    def _announce(self, text: str) -> None:
        log.warning("%s", text)
        self.link.post(Notice(NOTICE_KEY, Severity.WARNING, text, 0, self.clock()))


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop the desk runs on: running, or set and about to run (the desktop builds the
    desk before it runs the loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None
