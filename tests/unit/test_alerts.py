"""Alerts without Qt: which events become alerts, where each kind goes, and how a burst
becomes one message per channel and window.

The stores are the desk's own (OrderStore, LinkStore); the kill switch is represented by its
two events; time is a manual clock whose scheduler the test advances."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable

import pytest

from ibdesk import events, resources
from ibdesk.alerts.hub import MAX_HELD, AlertHub
from ibdesk.alerts.kinds import KINDS, default_routes, routes_from
from ibdesk.alerts.message import MAX_LINES, Message, compose, merge
from ibdesk.alerts.watch import DeskWatcher
from ibdesk.domain.alerts import URGENCY, Alert, AlertKind, Channel
from ibdesk.domain.connection import LinkState, Notice, Severity
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side
from ibdesk.domain.risk import KillReport, StateChange, TradingState
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.trading.loss_limit import WHO as LOSS_LIMIT

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
T0 = 1_800_000_000.0


class Clock:
    """Manual time with a scheduler: ``advance`` runs what falls due, in order."""

    def __init__(self) -> None:
        self.now = T0
        self._due: list[tuple[float, int, Callable[[], None], list[bool]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay: float, callback: Callable[[], None]) -> Timer:
        cancelled = [False]
        heapq.heappush(self._due, (self.now + delay, next(self._seq), callback, cancelled))
        return Timer(cancelled)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._due and self._due[0][0] <= end:
            at, _, callback, cancelled = heapq.heappop(self._due)
            self.now = at
            if not cancelled[0]:
                callback()
        self.now = end


@dataclasses.dataclass
class Timer:
    cancelled: list[bool]

    def cancel(self) -> None:
        self.cancelled[0] = True


class Switch:
    """The kill switch's two events, as the watcher sees them."""

    def __init__(self) -> None:
        self.changed = events.new("tradingStateChanged")
        self.reported = events.new("killReported")


class Desk:
    """The stores and events an alert watcher listens to, and what it posted by channel."""

    def __init__(self, windows: dict[Channel, float] | None = None, **routes: tuple[str, ...]):
        self.clock = Clock()
        self.orders, self.link, self.switch = OrderStore(), LinkStore(), Switch()
        self.hub = AlertHub(
            routes_from(routes),
            windows or {Channel.DESKTOP: 0.25, Channel.SOUND: 0.25, Channel.PUSH: 2.0},
            self.clock.schedule,
        )
        self.sent: dict[Channel, list[Message]] = {c: [] for c in Channel}
        for channel in Channel:
            self.hub.connect(channel, self.sent[channel].append)
        self.watcher = DeskWatcher(
            self.hub.post,
            orders=self.orders,
            switch=self.switch,
            link=self.link,
            disconnect_after=30.0,
            schedule=self.clock.schedule,
            clock=self.clock,
        )

    def order(self, n: int, qty: float = 1.0, state: OrderState = OrderState.WORKING) -> str:
        ref = f"ticket#1.{n}"
        self.orders.put(
            OrderSnapshot(ref, ES, Side.BUY, qty, OrderType.MARKET, state, "DU1", updated=T0)
        )
        return ref

    def fill(self, ref: str, qty: float, price: float = 6801.25, at: float | None = None) -> None:
        n = len(self.orders.fills)
        when = self.clock.now if at is None else at
        self.orders.add_fill(
            FillSnapshot(f"e{n}", when, ref, n, n, ES, Side.BUY, qty, price, "DU1")
        )

    def titles(self, channel: Channel) -> list[str]:
        return [m.title for m in self.sent[channel]]


# ---- kinds and routes ---------------------------------------------------------------------------


def test_every_kind_has_an_urgency_a_sound_and_default_channels() -> None:
    """A kind added to the enum without its row here would go nowhere, silently."""
    for kind in AlertKind:
        assert kind in URGENCY and kind in KINDS, kind
        assert KINDS[kind].sound in resources.SOUNDS
    assert Channel.SOUND not in KINDS[AlertKind.FILL].channels  # off by default for fills
    for loud in (AlertKind.HALT, AlertKind.REJECT, AlertKind.LOSS_LOCK, AlertKind.DISCONNECT):
        assert Channel.SOUND in KINDS[loud].channels
    sounds = {KINDS[k].sound for k in (AlertKind.FILL, AlertKind.REJECT, AlertKind.HALT)}
    assert len(sounds) == 3  # distinct for fill, reject, halt


def test_a_fill_price_is_written_on_the_instruments_tick_grid() -> None:
    """6,800.00 and 6,800.50 as the blotter writes them, not 6,800 and 6,800.5."""
    for price, text in ((6800.0, "6,800.00"), (6800.5, "6,800.50")):
        desk = Desk()
        desk.fill(desk.order(1), 1, price=price)
        desk.clock.advance(0.3)
        assert desk.titles(Channel.DESKTOP) == [f"Filled BUY 1 ESZ6 @ {text}"]


def test_configured_routes_replace_the_defaults_of_the_kinds_they_name() -> None:
    routes = routes_from({"fill": ("desktop", "sound", "push"), "halt": ()})
    assert routes[AlertKind.FILL] == frozenset(Channel)
    assert routes[AlertKind.HALT] == frozenset()
    assert routes[AlertKind.REJECT] == default_routes()[AlertKind.REJECT]


# ---- grouping -----------------------------------------------------------------------------------


def test_a_fill_goes_to_the_desktop_and_push_but_makes_no_sound() -> None:
    desk = Desk()
    desk.fill(desk.order(1), 1)
    desk.clock.advance(0.3)
    assert desk.titles(Channel.DESKTOP) == ["Filled BUY 1 ESZ6 @ 6,801.25"]
    assert desk.sent[Channel.PUSH] == []  # its window is still open
    desk.clock.advance(2)
    assert desk.titles(Channel.PUSH) == ["Filled BUY 1 ESZ6 @ 6,801.25"]
    assert desk.sent[Channel.SOUND] == []


def test_a_hundred_fills_in_a_second_are_one_message_per_channel() -> None:
    desk = Desk(windows={Channel.DESKTOP: 0.25, Channel.SOUND: 0.25, Channel.PUSH: 2.0})
    for n in range(100):
        desk.fill(desk.order(n), 1)
        desk.clock.advance(0.01)
    desk.clock.advance(2)
    [push] = desk.sent[Channel.PUSH]
    assert push.title == "100 fills" and push.count == 100
    lines = push.body.splitlines()
    assert len(lines) == MAX_LINES + 1 and lines[-1] == f"… and {100 - MAX_LINES} more"
    # The desktop's short window makes a few notifications in that second, never one per fill.
    assert 1 < len(desk.sent[Channel.DESKTOP]) <= 5
    assert sum(m.count for m in desk.sent[Channel.DESKTOP]) == 100


def test_a_halt_among_fills_leads_the_grouped_message_and_picks_the_sound() -> None:
    desk = Desk()
    for n in range(3):
        desk.fill(desk.order(n), 1)
    desk.switch.changed.emit(StateChange(TradingState.HALTED, "kill shortcut", "", T0))
    desk.clock.advance(2.5)
    [push] = desk.sent[Channel.PUSH]
    assert push.title == "Trading HALTED by kill shortcut · 3 fills"
    assert KINDS[push.lead.kind].sound == "halt"
    [sound] = desk.sent[Channel.SOUND]
    assert sound.lead.kind is AlertKind.HALT  # fills make no sound, so only the halt is in it


def test_a_flood_is_counted_but_not_held() -> None:
    clock = Clock()
    hub = AlertHub(default_routes(), dict.fromkeys(Channel, 1.0), clock.schedule)
    got: list[Message] = []
    hub.connect(Channel.PUSH, got.append)
    for i in range(MAX_HELD * 3):
        hub.post(Alert(AlertKind.FILL, f"fill {i}", time=T0))
    hub.post(Alert(AlertKind.HALT, "halt", time=T0))
    clock.advance(1)
    [message] = got
    assert message.count == MAX_HELD * 3 + 1
    assert len(message.alerts) <= MAX_LINES + 1 and message.lead.kind is AlertKind.HALT


def test_messages_queued_behind_a_slow_service_merge_into_one() -> None:
    first = compose([Alert(AlertKind.FILL, f"f{i}", time=T0 + i) for i in range(20)])
    second = compose([Alert(AlertKind.REJECT, "Rejected BUY 1 ESZ6 LMT", "201", T0 + 30)])
    merged = merge([first, second])
    assert merged.count == 21
    assert merged.title == "Rejected BUY 1 ESZ6 LMT · 20 fills"


def test_a_channel_without_a_sink_holds_nothing_and_a_broken_sink_spares_the_others(
    caplog: pytest.LogCaptureFixture, expected_faults: object
) -> None:
    expected_faults.allow_errors("ibdesk.alerts")  # type: ignore[attr-defined]
    clock = Clock()
    hub = AlertHub(default_routes(), dict.fromkeys(Channel, 0.5), clock.schedule)
    shown: list[Message] = []

    def broken(message: Message) -> None:
        raise RuntimeError("tray gone")

    hub.connect(Channel.DESKTOP, broken)
    hub.connect(Channel.DESKTOP, shown.append)
    hub.post(Alert(AlertKind.HALT, "halt", time=T0))
    clock.advance(1)
    assert [m.title for m in shown] == ["halt"]
    assert "desktop alert channel failed" in caplog.text


# ---- what becomes an alert ----------------------------------------------------------------------


def test_partial_fills_then_the_last_one_is_a_fill() -> None:
    desk = Desk()
    ref = desk.order(1, qty=3)
    desk.fill(ref, 1)
    desk.fill(ref, 1)
    desk.clock.advance(0.3)
    desk.fill(ref, 1)
    desk.clock.advance(0.3)
    assert desk.titles(Channel.DESKTOP) == [
        "2 partial fills",
        "Filled BUY 1 ESZ6 @ 6,801.25",
    ]
    first = desk.sent[Channel.DESKTOP][0].alerts[0]
    assert first.title == "Partial fill BUY 1 ESZ6 @ 6,801.25 (1 of 3)"


def test_fills_and_rejects_from_before_the_start_are_history() -> None:
    desk = Desk()
    desk.fill(desk.order(1), 1, at=T0 - 3600)  # recovered by reqExecutions at the first connect
    ref = f"ticket#1.{2}"
    desk.orders.put(
        OrderSnapshot(ref, ES, Side.BUY, 1, OrderType.LIMIT, OrderState.REJECTED, updated=T0 - 3600)
    )
    desk.switch.changed.emit(StateChange(TradingState.HALTED, "watchdog", "stall", T0 - 600))
    desk.clock.advance(5)
    assert all(not sent for sent in desk.sent.values())


def test_a_reject_is_alerted_once_with_the_brokers_reason() -> None:
    desk = Desk()
    ref = desk.order(1)
    desk.orders.merge(ref, state=OrderState.REJECTED, reason="201: margin")
    desk.orders.merge(ref, reason="201: margin (again)")  # still rejected: no second alert
    desk.clock.advance(0.3)
    [message] = desk.sent[Channel.DESKTOP]
    assert message.title == "Rejected BUY 1 ESZ6 MKT" and message.body == "201: margin"
    assert [m.lead.kind for m in desk.sent[Channel.SOUND]] == [AlertKind.REJECT]


def test_halts_reducing_loss_locks_and_kill_reports() -> None:
    desk = Desk()
    now = desk.clock.now
    desk.switch.changed.emit(StateChange(TradingState.REDUCING, "trader", "exits only", now))
    desk.clock.advance(3)
    desk.switch.changed.emit(StateChange(TradingState.HALTED, LOSS_LIMIT, "P&L -1,000", now))
    desk.clock.advance(3)
    report = KillReport("DU1", now, now + 1, verified=False, problems=("no answer",))
    desk.switch.reported.emit(report)
    desk.switch.changed.emit(StateChange(TradingState.ACTIVE, "trader", "re-armed", now))
    desk.clock.advance(3)
    kinds = [m.lead.kind for m in desk.sent[Channel.PUSH]]
    assert kinds == [AlertKind.REDUCING, AlertKind.LOSS_LOCK, AlertKind.KILL]
    assert desk.titles(Channel.PUSH)[2] == "Kill NOT verified"


def test_a_disconnect_longer_than_the_threshold_and_the_reconnect() -> None:
    desk = Desk()
    desk.link.set_status(state=LinkState.CONNECTED, host="127.0.0.1", port=7497)
    desk.link.set_status(state=LinkState.RECONNECTING)
    desk.clock.advance(29)
    desk.link.set_status(state=LinkState.CONNECTED)  # back within 30 s: no alert
    desk.clock.advance(60)
    assert desk.sent[Channel.PUSH] == []
    desk.link.set_status(state=LinkState.RECONNECTING)
    desk.clock.advance(35)
    desk.link.set_meters(rtt_ms=3.0)  # link events that change nothing
    desk.link.set_status(state=LinkState.CONNECTED)
    desk.clock.advance(3)
    [down, up] = desk.sent[Channel.PUSH]
    assert down.title == "Disconnected for 30 s"
    assert "127.0.0.1:7497 is down" in down.body
    assert up.title == "Reconnected after 35 s"
    assert [m.lead.kind for m in desk.sent[Channel.SOUND]] == [AlertKind.DISCONNECT]


def expecting_a_restart_until(desk: Desk, window_end: float) -> None:
    """The desk's watcher, told that a disconnect before ``window_end`` is TWS's restart."""
    desk.watcher.close()
    desk.watcher = DeskWatcher(
        desk.hub.post,
        orders=desk.orders,
        switch=desk.switch,
        link=desk.link,
        disconnect_after=30.0,
        schedule=desk.clock.schedule,
        clock=desk.clock,
        expected=lambda: max(window_end - desk.clock.now, 0.0),
    )


def test_a_disconnect_inside_the_restart_window_raises_no_alarm() -> None:
    desk = Desk()
    expecting_a_restart_until(desk, T0 + 300)
    desk.link.set_status(state=LinkState.CONNECTED, host="127.0.0.1", port=7497)
    desk.link.set_status(state=LinkState.RECONNECTING)
    desk.clock.advance(120)  # a restart that takes two minutes
    desk.link.set_status(state=LinkState.CONNECTED)
    desk.clock.advance(60)
    assert all(not sent for sent in desk.sent.values())


def test_a_restart_that_outlasts_its_window_is_an_alarm_at_the_window_s_end() -> None:
    desk = Desk()
    expecting_a_restart_until(desk, T0 + 100)
    desk.link.set_status(state=LinkState.CONNECTED, host="127.0.0.1", port=7497)
    desk.link.set_status(state=LinkState.RECONNECTING)
    desk.clock.advance(99)
    assert all(not sent for sent in desk.sent.values())
    desk.clock.advance(4)  # the window closes at 100 s; push groups 2 s
    assert desk.titles(Channel.PUSH) == ["Disconnected for 100 s"]


def test_a_disconnect_after_the_window_is_an_alarm_as_ever() -> None:
    desk = Desk()
    expecting_a_restart_until(desk, T0 + 100)
    desk.link.set_status(state=LinkState.CONNECTED)
    desk.clock.advance(100)
    desk.link.set_status(state=LinkState.RECONNECTING)
    desk.clock.advance(33)
    assert desk.titles(Channel.PUSH) == ["Disconnected for 30 s"]


def test_tws_losing_ibs_servers_is_a_disconnect_too() -> None:
    desk = Desk()
    desk.link.set_status(state=LinkState.CONNECTED)
    desk.link.post(Notice("ib-connectivity", Severity.ERROR, "1100", 1100, T0))
    desk.clock.advance(35)
    desk.link.post(Notice("ib-connectivity", Severity.INFO, "1102", 1102, T0))
    desk.clock.advance(3)
    assert desk.titles(Channel.PUSH) == ["Disconnected for 30 s", "Reconnected after 35 s"]
    assert "lost its connection to IB's servers" in desk.sent[Channel.PUSH][0].body


def test_never_connected_is_not_a_disconnect_and_closing_stops_everything() -> None:
    desk = Desk()
    desk.link.set_status(state=LinkState.CONNECTING)
    desk.clock.advance(60)
    desk.link.set_status(state=LinkState.CONNECTED)
    desk.watcher.close()
    desk.link.set_status(state=LinkState.DISCONNECTED)
    desk.fill(desk.order(1), 1)
    desk.clock.advance(60)
    assert all(not sent for sent in desk.sent.values())
