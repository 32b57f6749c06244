"""Turning the desk's events into alerts: fills, rejects, trading-state changes, kill reports
and long disconnects.

Listens to the stores and the kill switch (eventkit events, on the desk's loop) and posts to
the hub; every handler is a few dictionary operations, because some of them run on every
order event. What happened before the desk started is not news: executions recovered at the
first connect, orders already rejected, a halt restored from the journal are skipped (their
times are older than the watcher); fills that happen while the desk is disconnected and are
recovered at the reconnect are news and are alerted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from eventkit import Event

from ibdesk.alerts.hub import Handle, Schedule
from ibdesk.domain.alerts import Alert, AlertKind
from ibdesk.domain.connection import LinkState, Notice
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import FillSnapshot, OrderState
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.trading.loss_limit import WHO as LOSS_LIMIT

BEFORE_START = 1.0
""" seconds of clock skew allowed before the start: older events are history, not news """
IB_DOWN = frozenset({1100, 2110})
""" TWS has lost IB's servers: orders cannot reach an exchange, even with the socket up """
IB_UP = frozenset({1101, 1102})
UP = frozenset({LinkState.CONNECTED, LinkState.SYNCING})


class SwitchEvents(Protocol):
    """The kill switch's events (ibdesk.trading.killswitch.KillSwitch)."""

    changed: Event
    reported: Event


def _qty(x: float) -> str:
    return f"{x:g}"


def _price(x: float, inst: Instrument) -> str:
    return f"{x:,.{inst.price_decimals}f}"  # on the tick grid, as the blotter writes it


class DeskWatcher:
    """Posts an alert for each fill, reject, halt, REDUCING, kill report and long disconnect.

    Args:
        post: where alerts go (AlertHub.post).
        orders, switch, link: the desk's order store, kill switch and link store.
        disconnect_after: seconds down before a DISCONNECT alert.
        schedule: how to call later (the hub's).
        clock: epoch seconds.
        expected: seconds a disconnect stays expected from now (TWS's daily restart
            window: no alarm while it lasts, one if it outlasts it); 0 or None: not expected.
    """

    def __init__(
        self,
        post: Callable[[Alert], None],
        *,
        orders: OrderStore,
        switch: SwitchEvents,
        link: LinkStore,
        disconnect_after: float,
        schedule: Schedule,
        clock: Callable[[], float] = time.time,
        expected: Callable[[], float] | None = None,
    ) -> None:
        self.post = post
        self.expected = expected
        self.orders, self.switch, self.link = orders, switch, link
        self.disconnect_after = disconnect_after
        self.schedule = schedule
        self.clock = clock
        self.started = clock()
        self._states: dict[str, OrderState] = {}
        """ orderRef -> the last state seen (a reject is alerted on the change to it) """
        self._fill_qty: dict[str, float] = {}
        """ orderRef -> quantity filled by the executions seen """
        self._ever_up = link.status.state in UP
        self._socket_up = self._ever_up
        self._ib_up = True
        self._down_since: float | None = None
        self._down_alerted = False
        self._timer: Handle | None = None
        self._wiring = (
            (orders.filled, self._on_fill),
            (orders.added, self._on_order),
            (orders.updated, self._on_order),
            (switch.changed, self._on_state),
            (switch.reported, self._on_report),
            (link.changed, self._on_link),
            (link.notice, self._on_notice),
        )
        for event, handler in self._wiring:
            event.connect(handler)

    def close(self) -> None:
        """Stop listening (a desk that closes is not a disconnect)."""
        for event, handler in self._wiring:
            event.disconnect(handler)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- orders -----------------------------------------------------------------------------

    def _on_fill(self, fill: FillSnapshot) -> None:
        filled = self._fill_qty.get(fill.ref, 0.0) + fill.qty
        self._fill_qty[fill.ref] = filled
        if fill.time < self.started - BEFORE_START:
            return
        order = self.orders.get(fill.ref)
        what = (
            f"{fill.side.value} {_qty(fill.qty)} {fill.instrument.display} "
            f"@ {_price(fill.price, fill.instrument)}"
        )
        where = f" in {fill.account}" if fill.account else ""
        if order is not None and max(filled, order.filled) < order.qty - 1e-9:
            title = f"Partial fill {what} ({_qty(filled)} of {_qty(order.qty)})"
            self.post(Alert(AlertKind.PARTIAL_FILL, title, f"{fill.ref}{where}", fill.time))
        else:
            self.post(Alert(AlertKind.FILL, f"Filled {what}", f"{fill.ref}{where}", fill.time))

    def _on_order(self, ref: str) -> None:
        snap = self.orders.get(ref)
        if snap is None:
            return
        before = self._states.get(ref)
        self._states[ref] = snap.state
        if snap.state is not OrderState.REJECTED or before is OrderState.REJECTED:
            return
        if before is None and snap.updated < self.started - BEFORE_START:
            return  # rejected before this desk started
        what = (
            f"{snap.side.value} {_qty(snap.qty)} {snap.instrument.display} {snap.order_type.value}"
        )
        self.post(
            Alert(
                AlertKind.REJECT,
                f"Rejected {what}",
                snap.reason or "the broker gave no reason",
                self.clock(),
            )
        )

    # ---- the trading state ------------------------------------------------------------------

    def _on_state(self, change: StateChange) -> None:
        if change.time < self.started - BEFORE_START:
            return  # a latched state restored from the journal, not a new one
        if change.state is TradingState.HALTED:
            kind = AlertKind.LOSS_LOCK if change.who == LOSS_LIMIT else AlertKind.HALT
            self.post(Alert(kind, f"Trading HALTED by {change.who}", change.why, change.time))
        elif change.state is TradingState.REDUCING:
            title = f"Trading REDUCING (exits only) by {change.who}"
            self.post(Alert(AlertKind.REDUCING, title, change.why, change.time))

    def _on_report(self, report: KillReport) -> None:
        what = "Flatten" if report.flatten else "Kill"
        title = f"{what} verified" if report.verified else f"{what} NOT verified"
        self.post(Alert(AlertKind.KILL, title, report.summary(), report.finished))

    # ---- the connection ---------------------------------------------------------------------

    def _on_link(self) -> None:
        up = self.link.status.state in UP
        if up != self._socket_up:
            self._socket_up = up
            self._ever_up = self._ever_up or up
            self._update()

    def _on_notice(self, notice: Notice) -> None:
        if notice.code in IB_DOWN or notice.code in IB_UP:
            self._ib_up = notice.code in IB_UP
            self._update()

    def _down_reason(self) -> str:
        if not self._ever_up:
            return ""  # never connected: the connection dialog says so, not an alert
        if not self._socket_up:
            status = self.link.status
            return (
                f"The connection to TWS at {status.host}:{status.port} is down; ibdesk keeps "
                "reconnecting. Orders at the broker keep working, but ibdesk cannot send, "
                "cancel or see fills until it is back."
            )
        if not self._ib_up:
            return (
                "TWS has lost its connection to IB's servers: no order or cancel reaches an "
                "exchange until it is restored."
            )
        return ""

    def _update(self) -> None:
        down = bool(self._down_reason())
        if down and self._down_since is None:
            self._down_since = self.clock()
            self._timer = self.schedule(self.disconnect_after, self._on_down_long)
        elif not down and self._down_since is not None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._down_alerted:
                took = self.clock() - self._down_since
                title = f"Reconnected after {took:.0f} s"
                self.post(Alert(AlertKind.RECONNECT, title, "", self.clock()))
            self._down_since = None
            self._down_alerted = False

    def _on_down_long(self) -> None:
        self._timer = None
        reason = self._down_reason()
        if not reason or self._down_since is None:
            return
        quiet = self.expected() if self.expected is not None else 0.0
        if quiet > 0:  # TWS's restart: look again when its window closes
            self._timer = self.schedule(quiet, self._on_down_long)
            return
        took = self.clock() - self._down_since
        self._down_alerted = True
        self.post(
            Alert(
                AlertKind.DISCONNECT,
                f"Disconnected for {took:.0f} s",
                reason,
                self.clock(),
            )
        )
