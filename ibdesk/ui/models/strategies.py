"""The strategies table: one row per loaded strategy, its state, its book and its health,
and after them a read-only row per strategy another API client runs (``ibdesk run`` on a
server), shown from its orders and fills at the broker.

Rows follow the runner's ``changed`` event, which fires on every order update and fill of a
strategy: a burst of them only marks the name, and the flush takes one snapshot per changed
strategy (``StrategyOps.status``). A running strategy's open P&L and its slowest callback of
the last minute move without any event, so the flush also re-reads the active ones; they are
a handful, never thousands.
"""

from __future__ import annotations

from collections.abc import Hashable

from PySide6.QtCore import QObject

from ibdesk.desk.api import StrategyOps
from ibdesk.domain.strategy import StrategyState, StrategyStatus
from ibdesk.strategies.loader import StrategyError
from ibdesk.ui import format as fmt
from ibdesk.ui.models.table import CoalescingTableModel, Column

STATE_TONES = {
    StrategyState.RUNNING: "ok",
    StrategyState.PAUSED: "warn",
    StrategyState.HALTED: "error",
}


REMOTE = "remote (ibdesk run)"
""" the State cell of a strategy another API client runs: its state is where it runs """


def _state_text(s: StrategyStatus) -> str:
    return REMOTE if s.remote else s.state.value


def position_text(s: StrategyStatus) -> str:
    """Its own position per instrument (``ESZ6 +2``), and who is left holding it."""
    held = [(inst, qty) for inst, qty in s.positions if qty]
    if not held:
        return "flat" if s.state.active or s.remote else ""
    text = ", ".join(f"{inst} {qty:+g}" for inst, qty in held)
    return f"{text} left by {s.name}" if s.left_position else text


def _position_hint(s: StrategyStatus) -> str:
    if s.left_position:
        return (
            f"{s.name} stopped with this position and no longer manages it: hand it over "
            "to take it as yours (its stops, its exits), or start the strategy again."
        )
    return "Its own position, from its own fills (the account may hold more)."


def _callback_text(s: StrategyStatus) -> str:
    if not s.callback_ms and not s.slow:
        return fmt.DASH
    return f"{s.callback_ms:,.1f} slow" if s.slow else f"{s.callback_ms:,.1f}"


def _columns() -> list[Column[StrategyStatus]]:
    return [
        Column(
            "Strategy",
            lambda s: s.name,
            lambda s: s.name,
            numeric=False,
            static=True,
            hint=lambda s: s.path,
        ),
        Column(
            "State",
            _state_text,
            _state_text,
            numeric=False,
            tone=lambda s: None if s.remote else STATE_TONES.get(s.state),
            hint=lambda s: s.reason,
        ),
        Column(
            "Instruments",
            lambda s: ", ".join(s.instruments),
            lambda s: ", ".join(s.instruments),
            numeric=False,
        ),
        Column(
            "Position",
            lambda s: s.position,
            position_text,
            numeric=False,
            tone=lambda s: "warn" if s.left_position else fmt.tone(s.position),
            hint=_position_hint,
        ),
        Column(
            "P&L today",
            lambda s: s.pnl,
            lambda s: fmt.money(s.pnl),
            tone=lambda s: fmt.tone(s.pnl),
            tip="Realized and open P&L of its own fills today",
        ),
        Column("Working", lambda s: s.working, lambda s: str(s.working), tip="Its live orders"),
        Column(
            "Last signal",
            lambda s: s.last_why,
            lambda s: s.last_why,
            numeric=False,
            hint=lambda s: s.last_why,
            tip="The why of its last order",
        ),
        Column(
            "Callback ms",
            lambda s: s.callback_ms,
            _callback_text,
            tone=lambda s: "warn" if s.slow else None,
            tip="Its slowest callback of the last minute; 'slow': one went over the budget",
        ),
        Column(
            "Errors",
            lambda s: s.errors,
            lambda s: str(s.errors),
            tone=lambda s: "error" if s.errors else None,
        ),
    ]


class StrategiesModel(CoalescingTableModel[StrategyStatus]):
    """Every loaded strategy, in the order loaded, keyed by name.

    Args:
        runner: the strategy runner's controls (its ``changed`` event and snapshots).
        refresh_hz: flushes per second (a few: these rows are read, not watched tick by tick).
    """

    def __init__(
        self, runner: StrategyOps, refresh_hz: float = 4.0, parent: QObject | None = None
    ) -> None:
        super().__init__(_columns(), refresh_hz, parent)
        self.runner = runner
        self.rows: dict[str, StrategyStatus] = {}
        """ name -> its snapshot as of the last flush """
        self._changed: dict[str, None] = {}
        """ names the runner said changed since the last flush, in the order it said so (a
        file's strategies appear in the order it defines them) """
        for status in runner.statuses():
            self.rows[status.name] = status
            self.insert_key(status.name)
        runner.changed += self._on_runner_changed

    def close(self) -> None:
        """Stop listening to the runner."""
        self.runner.changed -= self._on_runner_changed

    def _on_runner_changed(self, name: str) -> None:
        self._changed[name] = None

    def status(self, name: str) -> StrategyStatus | None:
        """A strategy's snapshot as the table shows it (None: not in the table)."""
        return self.rows.get(name)

    def refresh(self) -> None:
        """Take fresh snapshots of the changed and the active strategies."""
        # Remote rows too: their open P&L moves with the market, and they are a handful.
        names = self._changed | {
            n: None for n, s in self.rows.items() if s.state.active or s.remote
        }
        self._changed = {}
        for name in names:
            try:
                status = self.runner.status(name)
            except StrategyError:  # no longer loaded
                self.rows.pop(name, None)
                self.remove_key(name)
                continue
            new = name not in self.rows
            self.rows[name] = status
            self.insert_key(name) if new else self.mark_dirty(name)

    def flush(self) -> None:
        """Snapshots first, then the changed cells."""
        self.refresh()
        super().flush()

    def row(self, key: Hashable) -> StrategyStatus:
        """The strategy behind a row."""
        return self.rows[str(key)]
