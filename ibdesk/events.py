"""eventkit events whose listener exceptions are loud.

eventkit catches an exception raised by a listener and hands it to the event's
``error_event``; when nobody listens there (aeventkit 2.x) it is dropped without a trace. Every
event ibdesk creates, and every library event it listens to, goes through :func:`loud` so such
exceptions become ERROR log records (and, in the app, an error dialog).
"""

from __future__ import annotations

import logging
from typing import Any

from eventkit import Event

log = logging.getLogger("ibdesk.events")


def _report(source: Any, error: BaseException) -> None:
    name = source.name() if callable(getattr(source, "name", None)) else source
    log.error(
        "a listener of event %s raised %s: %s",
        name,
        type(error).__name__,
        error,
        exc_info=(type(error), error, error.__traceback__),
    )


def loud(event: Event) -> Event:
    """Make a listener's exception on ``event`` an ERROR log record; returns the event."""
    errors = getattr(event, "error_event", None)
    if errors is not None and _report not in errors:
        errors += _report
    return event


def new(name: str) -> Event:
    """A new event with loud listener errors."""
    return loud(Event(name))
