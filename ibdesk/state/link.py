"""What the status bar and banners show about the connection."""

from __future__ import annotations

import dataclasses
from typing import Any

from ibdesk import events
from ibdesk.domain.connection import Farm, LinkState, LinkStatus, Notice


class LinkStore:
    """Connection status, farm health, notices and the budget meters.

    Events:
        changed(): the status, a farm, or a meter changed.
        notice(notice): a notice to show (it replaces any with the same key).
        cleared(key): the notice with ``key`` no longer applies.
    """

    def __init__(self) -> None:
        self.status = LinkStatus()
        self.farms: dict[Farm, bool | None] = {}
        """ Farm -> OK (True), broken (False), inactive but available (None) """
        self.notices: dict[str, Notice] = {}
        """ notice key -> the notice on show """
        self.rtt_ms: float | None = None
        self.msgs_per_s = 0.0
        self.market_lines = 0
        self.changed = events.new("linkChanged")
        self.notice = events.new("linkNotice")
        self.cleared = events.new("linkNoticeCleared")

    def set_status(self, **fields: Any) -> None:
        """Update fields of the LinkStatus. Leaving CONNECTED forgets the farms and the round
        trip: they described a connection that is gone (TWS reports its farms again at the
        next connect), and a green light on a dead link is what issue 12 found."""
        new = dataclasses.replace(self.status, **fields)
        if new != self.status:
            if new.state is not LinkState.CONNECTED:
                self.farms.clear()
                self.rtt_ms = None
            self.status = new
            self.changed.emit()

    def set_farm(self, farm: Farm, ok: bool | None) -> None:
        """Record a farm's health."""
        if self.farms.get(farm, "unset") != ok:
            self.farms[farm] = ok
            self.changed.emit()

    def set_meters(
        self,
        rtt_ms: float | None = None,
        msgs_per_s: float | None = None,
        market_lines: int | None = None,
    ) -> None:
        """Update the meters that are given."""
        if rtt_ms is not None:
            self.rtt_ms = rtt_ms
        if msgs_per_s is not None:
            self.msgs_per_s = msgs_per_s
        if market_lines is not None:
            self.market_lines = market_lines
        self.changed.emit()

    def post(self, notice: Notice) -> None:
        """Show a notice (replacing one with the same key)."""
        self.notices[notice.key] = notice
        self.notice.emit(notice)

    def clear(self, key: str) -> None:
        """Withdraw a notice."""
        if self.notices.pop(key, None) is not None:
            self.cleared.emit(key)
