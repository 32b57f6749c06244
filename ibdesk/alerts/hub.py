"""The hub: every alert goes to the channels its kind is routed to, grouped and rate-limited
per channel.

Grouping and rate limiting are one rule: per channel, the first alert opens a window of that
channel's length; everything that arrives until it closes goes out as one message when it
closes; the next alert opens the next window. A channel therefore sends at most one message
per window however many alerts arrive (100 fills in a second are one push), and the first
alert waits at most one window. Desktop and sound use a short window (a burst is one
notification, one sound); push uses the config's ``group_seconds``.

Runs on the desk's event loop. :meth:`AlertHub.post` appends to a list and, at most once per
window, schedules a timer: cheap enough to call from any order event. Channels are sinks
(callables taking a :class:`~ibdesk.alerts.message.Message`) that must not block either: the
push sink hands over to its own thread, the sound sink to a player process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Protocol

from ibdesk.alerts.message import Message, compose
from ibdesk.domain.alerts import Alert, AlertKind, Channel

log = logging.getLogger("ibdesk.alerts")

Sink = Callable[[Message], None]

DESKTOP_WINDOW = 0.25
""" seconds: a burst of alerts is one notification and one sound """
MAX_HELD = 1_000
""" alerts a window keeps; past it they are only counted (a flood must not grow memory) """


class Handle(Protocol):
    """A scheduled call (asyncio.TimerHandle)."""

    def cancel(self) -> None:
        """Do not call it."""


Schedule = Callable[[float, Callable[[], None]], Handle]


def loop_schedule(delay: float, callback: Callable[[], None]) -> Handle:
    """Call ``callback`` after ``delay`` seconds on the running event loop."""
    return asyncio.get_running_loop().call_later(delay, callback)


class Grouper:
    """One channel's windows: collects alerts, hands one message per window to ``deliver``."""

    def __init__(self, window: float, schedule: Schedule, deliver: Callable[[Message], None]):
        self.window = window
        self.schedule = schedule
        self.deliver = deliver
        self._held: list[Alert] = []
        self._uncounted: Counter[AlertKind] = Counter()
        self._timer: Handle | None = None

    def add(self, alert: Alert) -> None:
        """Hold an alert for the current window (opening one if none is open)."""
        if len(self._held) < MAX_HELD or alert.urgency > self._held[-1].urgency:
            self._held.append(alert)
        else:
            self._uncounted[alert.kind] += 1
        if self._timer is None:
            self._timer = self.schedule(self.window, self.flush)

    def flush(self) -> None:
        """Close the window now: deliver what it holds as one message."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._held:
            return
        held, extra = self._held, self._uncounted
        self._held, self._uncounted = [], Counter()
        try:
            self.deliver(compose(held, extra))
        except Exception:  # one broken channel must not take the others with it
            log.exception("an alert channel failed")

    def close(self) -> None:
        """Drop the open window, unsent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()


class AlertHub:
    """Routes alerts to channel sinks.

    Args:
        routes: the channels of each kind (a kind missing goes nowhere).
        windows: each channel's window in seconds.
        schedule: how to call later (the running loop's ``call_later`` by default).
    """

    def __init__(
        self,
        routes: Mapping[AlertKind, frozenset[Channel]],
        windows: Mapping[Channel, float],
        schedule: Schedule = loop_schedule,
    ) -> None:
        self.routes = dict(routes)
        self.sinks: dict[Channel, list[Sink]] = {channel: [] for channel in Channel}
        self._groupers = {
            channel: Grouper(windows[channel], schedule, self._deliverer(channel))
            for channel in Channel
        }
        self.posted: Counter[AlertKind] = Counter()
        """ alerts posted since the start, by kind (the test dialog shows them) """
        self._closed = False

    def connect(self, channel: Channel, sink: Sink) -> None:
        """Send this channel's messages to ``sink`` too."""
        self.sinks[channel].append(sink)

    def disconnect(self, channel: Channel, sink: Sink) -> None:
        """Stop sending to ``sink``."""
        self.sinks[channel] = [s for s in self.sinks[channel] if s is not sink]

    def post(self, alert: Alert) -> None:
        """An alert happened: it goes to every channel its kind is routed to that has a sink,
        in that channel's next message."""
        if self._closed:
            return
        self.posted[alert.kind] += 1
        for channel in self.routes.get(alert.kind, ()):
            if self.sinks[channel]:
                self._groupers[channel].add(alert)

    def flush(self) -> None:
        """Close every open window now."""
        for grouper in self._groupers.values():
            grouper.flush()

    def close(self) -> None:
        """Send what the open windows hold, then accept nothing more."""
        self.flush()
        self._closed = True
        for grouper in self._groupers.values():
            grouper.close()

    def _deliverer(self, channel: Channel) -> Callable[[Message], None]:
        def deliver(message: Message) -> None:
            for sink in list(self.sinks[channel]):
                try:
                    sink(message)
                except Exception:
                    log.exception("the %s alert channel failed", channel.value)

        return deliver
