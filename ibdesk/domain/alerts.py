"""Alerts as the desk speaks of them: what happened (the kind), where an alert can go (the
channel), and how urgent it is. The vocabulary the config's ``[alerts]`` section, the alerts
package and whatever posts an alert (a strategy's circuit breaker) share.

The kinds are an enum that later work extends: a new kind is one member here, its urgency in
:data:`URGENCY`, and its defaults in ``ibdesk.alerts.kinds.KINDS``; the config accepts it
in ``[alerts.routes]`` from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class AlertKind(StrEnum):
    """What happened. The values are the config's keys (``[alerts.routes] fill = [...]``)."""

    FILL = "fill"
    """ an order filled completely """
    PARTIAL_FILL = "partial_fill"
    """ an execution that leaves part of the order working """
    REJECT = "reject"
    """ the broker refused an order """
    HALT = "halt"
    """ trading HALTED (a kill, the watchdog, ``ibdesk kill``, the kill window) """
    REDUCING = "reducing"
    """ trading REDUCING: exits only """
    KILL = "kill"
    """ a kill or flatten finished its verification (verified or not) """
    LOSS_LOCK = "loss_lock"
    """ the daily loss limit halted trading until the next session """
    BREAKER = "breaker"
    """ a strategy's circuit breaker tripped (posted by the strategy runner) """
    DISCONNECT = "disconnect"
    """ the connection to TWS, or TWS's to IB, has been down longer than ``disconnect_after`` """
    RECONNECT = "reconnect"
    """ it is back, after a disconnect alert """
    TEST = "test"
    """ the trader asked for a test alert (every channel, whatever the routes) """


class Channel(StrEnum):
    """Where an alert can go."""

    DESKTOP = "desktop"
    """ a tray notification (the status bar where the desktop has no tray) """
    SOUND = "sound"
    """ the kind's sound """
    PUSH = "push"
    """ every push URL of the config (apprise: ntfy, Telegram, e-mail, ...) """


class Urgency(IntEnum):
    """How loud an alert is; a grouped message takes its most urgent alert's."""

    INFO = 0
    GOOD = 1
    WARNING = 2
    CRITICAL = 3


#: How urgent each kind is.
URGENCY: Mapping[AlertKind, Urgency] = {
    AlertKind.FILL: Urgency.GOOD,
    AlertKind.PARTIAL_FILL: Urgency.GOOD,
    AlertKind.REJECT: Urgency.WARNING,
    AlertKind.HALT: Urgency.CRITICAL,
    AlertKind.REDUCING: Urgency.WARNING,
    AlertKind.KILL: Urgency.WARNING,
    AlertKind.LOSS_LOCK: Urgency.CRITICAL,
    AlertKind.BREAKER: Urgency.CRITICAL,
    AlertKind.DISCONNECT: Urgency.CRITICAL,
    AlertKind.RECONNECT: Urgency.INFO,
    AlertKind.TEST: Urgency.INFO,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing that happened: a one-line title (``Filled BUY 2 ES @ 6801.25``), an optional
    detail, and when (epoch seconds)."""

    kind: AlertKind
    title: str
    text: str = ""
    time: float = 0.0

    @property
    def urgency(self) -> Urgency:
        """The kind's urgency."""
        return URGENCY[self.kind]
