"""The pacer: one budget, a priority lane, nothing lost silently."""

from __future__ import annotations

import asyncio

from ibdesk.broker.pacing import Pacer, message_id, order_id_of


class Wire:
    """A fake socket with a settable clock."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.now = 0.0
        self.open = True

    def write(self, frame: bytes) -> None:
        self.frames.append(frame[4:].decode())

    def ids(self) -> list[str]:
        return [message_id(f) for f in self.frames]


def pacer(wire: Wire, normal: int = 40, total: int = 48) -> Pacer:
    return Pacer(wire.write, lambda: wire.open, normal, total, 1.0, lambda: wire.now)


def msg(*fields: object) -> str:
    """An outgoing message as the library builds it: NUL-terminated fields."""
    return "".join(f"{f}\x00" for f in fields)


def place(order_id: int) -> str:
    return msg(3, order_id, "ES")


async def test_ordinary_messages_stay_within_their_budget() -> None:
    wire = Wire()
    p = pacer(wire)
    for i in range(100):
        p.submit(place(i + 1))
    assert len(wire.frames) == 40 and p.queued == 60
    wire.now = 1.0
    p._drain()
    assert len(wire.frames) == 80


async def test_a_cancel_jumps_the_queue_and_uses_the_headroom() -> None:
    wire = Wire()
    p = pacer(wire)
    for i in range(150):
        p.submit(place(i + 1))
    p.submit(msg(4, 1, 7))  # cancelOrder
    p.submit(msg(58, 1))  # reqGlobalCancel
    assert wire.ids()[-2:] == ["4", "58"]  # sent at once, after only the first 40 orders
    assert wire.ids().count("3") == 40


async def test_priority_waits_only_for_the_total_budget() -> None:
    wire = Wire()
    p = pacer(wire, normal=40, total=42)
    for i in range(40):
        p.submit(place(i + 1))
    for _ in range(3):
        p.submit(msg(4, 1, 9))
    assert wire.ids().count("4") == 2  # 42 in the window: the third cancel waits
    wire.now = 1.0
    p._drain()
    assert wire.ids().count("4") == 3


async def test_withdraw_and_reset_hand_back_what_never_left() -> None:
    wire = Wire()
    p = pacer(wire)
    for i in range(50):
        p.submit(place(i + 1))
    assert p.withdraw({45, 46, 99}) == {45, 46}
    wire.open = False
    p.submit(place(51))
    dropped = p.reset()
    assert sorted(order_id_of(m) for m in dropped) == [*range(41, 45), *range(47, 52)]
    assert p.queued == 0


async def test_queued_messages_go_out_when_the_window_slides() -> None:
    wire = Wire()
    p = Pacer(wire.write, lambda: True, 5, 6, 0.05)
    for i in range(12):
        p.submit(place(i + 1))
    assert len(wire.frames) == 5
    for _ in range(200):
        if len(wire.frames) == 12:
            break
        await asyncio.sleep(0.01)
    assert [order_id_of(f) for f in wire.frames] == list(range(1, 13))  # in order


async def test_an_order_guard_saying_no_holds_every_order_until_a_purge() -> None:
    """The desk's stall check: once the guard says no, neither the queued orders nor a new
    one reach the wire (other messages and cancels still go), and the hold lasts until a
    kill's purge decides their fate, even if the guard says yes again meanwhile."""
    wire = Wire()
    p = pacer(wire)
    for i in range(50):
        p.submit(place(i + 1))
    assert wire.ids().count("3") == 40 and p.queued == 10
    stalled = [True]
    p.order_guard = lambda: not stalled[0]
    wire.now = 1.0  # a fresh budget: without the guard, all of it would go now
    p.submit(place(51))  # the frozen code's next order
    p.submit(msg(1, 2, 1001))  # a market-data request
    p.submit(msg(58, 1))  # the kill's global cancel
    assert wire.ids()[40:] == ["1", "58"]
    assert p.hold_orders and len(p.held) == 11
    stalled[0] = False  # the desk beats again: the hold stays until the kill decides
    p._drain()
    assert wire.ids().count("3") == 40
    assert {order_id_of(m) for m in p.purge()} == set(range(41, 52))
    p.submit(place(52))
    assert wire.ids()[-1] == "3" and not p.hold_orders


def test_message_parsing() -> None:
    assert message_id(msg(3, 12)) == "3"
    assert order_id_of(msg(3, 12, "x")) == 12
    assert order_id_of(msg(4, 1, 12)) == 0
    assert order_id_of(msg(3, "abc")) == 0
