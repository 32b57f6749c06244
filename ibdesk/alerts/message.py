"""Alerts grouped into one message: a title that counts, a body that lists (bounded).

100 fills within a window are one message, "100 fills", listing the first few; a halt among
them leads the title. A message never grows past :data:`MAX_LINES` lines however many alerts
it stands for, so a flood costs a phone one short notification.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ibdesk.alerts.kinds import KINDS
from ibdesk.domain.alerts import URGENCY, Alert, AlertKind, Urgency

MAX_LINES = 12
""" lines of a grouped message's body before "... and N more" """
MAX_TITLE_PARTS = 3


@dataclass(frozen=True, slots=True)
class Message:
    """What one channel sends for one window of alerts.

    ``alerts`` holds the alerts listed (at most the first :data:`MAX_LINES`, plus the most
    urgent); ``counts`` how many of each kind the message stands for, listed or not.
    """

    title: str
    body: str
    alerts: tuple[Alert, ...]
    counts: tuple[tuple[AlertKind, int], ...]

    @property
    def count(self) -> int:
        """How many alerts this message stands for."""
        return sum(n for _, n in self.counts)

    @property
    def lead(self) -> Alert:
        """The most urgent alert (the earliest of equals): its sound is the message's."""
        return max(self.alerts, key=lambda a: (a.urgency, -a.time))

    @property
    def urgency(self) -> Urgency:
        """The most urgent alert's urgency."""
        return self.lead.urgency


def compose(alerts: Sequence[Alert], extra: Counter[AlertKind] | None = None) -> Message:
    """One message for ``alerts`` (in the order they happened), plus ``extra`` alerts that
    were counted but not kept (a flood past what a window holds)."""
    if not alerts:
        raise ValueError("a message needs at least one alert")
    counts: Counter[AlertKind] = Counter(a.kind for a in alerts)
    if extra:
        counts.update(extra)
    total = sum(counts.values())
    by_urgency = sorted(counts, key=lambda k: (-URGENCY[k], list(counts).index(k)))
    if total == 1:
        title = alerts[0].title
        body = alerts[0].text or alerts[0].title
    else:
        parts = []
        for kind in by_urgency[:MAX_TITLE_PARTS]:
            n = counts[kind]
            if n == 1:
                parts.append(next(a.title for a in alerts if a.kind is kind))
            else:
                parts.append(f"{n} {KINDS[kind].plural}")
        title = " · ".join(parts) + (" · …" if len(by_urgency) > MAX_TITLE_PARTS else "")
        body = _body(alerts, total)
    lead = max(alerts, key=lambda a: (a.urgency, -a.time))
    kept = tuple(alerts[:MAX_LINES]) + ((lead,) if lead not in alerts[:MAX_LINES] else ())
    return Message(title, body, kept, tuple((k, counts[k]) for k in by_urgency))


def merge(messages: Sequence[Message]) -> Message:
    """Messages that queued up behind a slow service, as one."""
    if len(messages) == 1:
        return messages[0]
    alerts = sorted((a for m in messages for a in m.alerts), key=lambda a: a.time)
    listed: Counter[AlertKind] = Counter(a.kind for a in alerts)
    extra: Counter[AlertKind] = Counter()
    for m in messages:
        extra.update(dict(m.counts))
    extra.subtract(listed)
    return compose(alerts, +extra)


def _body(alerts: Sequence[Alert], total: int) -> str:
    lines = []
    for alert in alerts[:MAX_LINES]:
        stamp = time.strftime("%H:%M:%S", time.localtime(alert.time)) if alert.time else ""
        detail = f": {alert.text}" if alert.text and alert.kind is not AlertKind.FILL else ""
        lines.append(f"{stamp} {alert.title}{detail}".strip())
    if total > len(lines):
        lines.append(f"… and {total - len(lines)} more")
    return "\n".join(lines)
