"""How each kind of alert is told: a plural for grouped messages, its sound, and the channels
it goes to unless the config says otherwise.

The kinds themselves (an enum that later work extends) live in ibdesk.domain.alerts, where
the config and anything that posts an alert can reach them; a new kind also takes a row in
:data:`KINDS` here (a test fails until it has one). A strategy's circuit breaker posts
BREAKER through :meth:`ibdesk.alerts.hub.AlertHub.post`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ibdesk.domain.alerts import AlertKind, Channel


@dataclass(frozen=True, slots=True)
class KindInfo:
    """How one kind is told: a plural noun for grouped messages, its sound (a name of
    ``ibdesk.resources.SOUNDS``), and the channels it goes to unless configured."""

    plural: str
    sound: str
    channels: frozenset[Channel]


_ALL = frozenset(Channel)
_QUIET = frozenset({Channel.DESKTOP, Channel.PUSH})
_SCREEN = frozenset({Channel.DESKTOP})

#: Sounds are off by default for fills (a busy day would ring all day) and on for everything
#: that stops trading or needs the trader.
KINDS: Mapping[AlertKind, KindInfo] = {
    AlertKind.FILL: KindInfo("fills", "fill", _QUIET),
    AlertKind.PARTIAL_FILL: KindInfo("partial fills", "fill", _SCREEN),
    AlertKind.REJECT: KindInfo("rejects", "reject", _ALL),
    AlertKind.HALT: KindInfo("halts", "halt", _ALL),
    AlertKind.REDUCING: KindInfo("REDUCING", "warning", _ALL),
    AlertKind.KILL: KindInfo("kill reports", "halt", _QUIET),
    AlertKind.LOSS_LOCK: KindInfo("daily loss locks", "halt", _ALL),
    AlertKind.BREAKER: KindInfo("breaker trips", "halt", _ALL),
    AlertKind.DISCONNECT: KindInfo("disconnects", "warning", _ALL),
    AlertKind.RECONNECT: KindInfo("reconnects", "warning", _QUIET),
    AlertKind.TEST: KindInfo("test alerts", "fill", _ALL),
}


def default_routes() -> dict[AlertKind, frozenset[Channel]]:
    """Every kind's default channels."""
    return {kind: info.channels for kind, info in KINDS.items()}


def routes_from(configured: Mapping[str, tuple[str, ...]]) -> dict[AlertKind, frozenset[Channel]]:
    """The defaults with the config's ``[alerts.routes]`` in place (already validated by
    ibdesk.config: known kinds, known channels)."""
    routes = default_routes()
    for kind, channels in configured.items():
        routes[AlertKind(kind)] = frozenset(Channel(c) for c in channels)
    return routes
