"""What the status bar says of TWS's daily restart: a countdown, or where the restart stands.

Times are shown by the window's time rules (``ui.format.clock``): in exchange time the
restart's own zone (IB's, ET by default), in local time the machine's, always labelled.
"""

from __future__ import annotations

from ibdesk.domain.restarts import RestartStage, RestartView
from ibdesk.ui import format as fmt

EXPECTED_TIP = (
    "Expected TWS restart: the connection dropped inside TWS's daily restart window "
    "([restart] in the config). ibdesk reconnects when TWS is back; no disconnect alarm "
    "while the window lasts."
)


def countdown(seconds: float) -> str:
    """``1:23:45`` (hours unbounded, never negative)."""
    whole = max(int(seconds), 0)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def restart_texts(view: RestartView, now: float) -> tuple[str, str] | None:
    """(label, tooltip) for the restart at ``now``; None when no restart is configured."""
    outlook = view.outlook
    if view.stage is RestartStage.OFF or outlook is None:
        return None
    at = fmt.clock(outlook.restart_at, view.zone)
    end = fmt.clock(outlook.window_end, view.zone)
    if view.stage is RestartStage.PAUSED:
        text = f"Strategies paused for the TWS restart in {countdown(outlook.restart_at - now)}"
    elif view.stage is RestartStage.WINDOW:
        text = f"Strategies paused for the TWS restart (expected until {end})"
    elif view.stage is RestartStage.RESTARTING:
        text = "Expected TWS restart: reconnecting"
    elif view.stage is RestartStage.WAITING:
        text = "TWS restarted: strategies paused until you dismiss its report"
    else:
        upcoming = view.next_restart if view.next_restart is not None else outlook.restart_at
        at = fmt.clock(upcoming, view.zone)
        text = f"TWS restart in {countdown(upcoming - now)}"
    tip = (
        f"TWS / IB Gateway restarts daily at {at}; strategies pause before it (their exits "
        "still pass) and a disconnect inside its window is expected, not an alarm. After the "
        "reconnect and the reconciliation, they resume when you dismiss the report that follows it."
    )
    if outlook.relogin_at is not None:
        tip += f"\nIB's weekly re-login: {fmt.clock(outlook.relogin_at, view.zone)}"
        tip += " (due before this restart: TWS will wait for a login)." * outlook.needs_login
    return text, tip
