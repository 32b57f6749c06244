"""The history pacer keeps every request inside IB's historical-data pacing rules."""

from __future__ import annotations

import pytest

from ibdesk.broker.history_pacing import (
    CONTRACT_WINDOW,
    IDENTICAL_GAP,
    PER_WINDOW,
    WINDOW,
    HistoryPacer,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_identical_request_waits_out_fifteen_seconds_and_a_different_one_does_not() -> None:
    clock = Clock()
    pacer = HistoryPacer(clock)
    key = (1, "1 min", "1 D", "TRADES")
    pacer.book(key, 1)
    clock.now += 5
    assert pacer.delay(key, 1) == IDENTICAL_GAP - 5 > 10
    assert pacer.delay((1, "5 mins", "1 W", "TRADES"), 1) == 0
    clock.now += IDENTICAL_GAP
    assert pacer.delay(key, 1) == 0


def test_five_requests_for_one_contract_then_a_pause() -> None:
    clock = Clock()
    pacer = HistoryPacer(clock)
    for i in range(5):
        assert pacer.delay(("k", i), 7) == 0
        pacer.book(("k", i), 7)
        clock.now += 0.1
    # A sixth within two seconds is a violation at IB: it waits for the first to age out.
    assert pacer.delay(("k", 9), 7) == pytest.approx(CONTRACT_WINDOW - 0.5)
    assert pacer.delay(("k", 9), 8) == 0  # another contract is not held up
    clock.now = 1000.0 + CONTRACT_WINDOW
    assert pacer.delay(("k", 9), 7) == 0


def test_sixty_requests_fill_ten_minutes() -> None:
    clock = Clock()
    pacer = HistoryPacer(clock)
    for i in range(PER_WINDOW):
        assert pacer.delay(i, i) == 0
        pacer.book(i, i)
        clock.now += 1
    wait = pacer.delay("one more", -1)
    assert wait == WINDOW - PER_WINDOW
    clock.now += wait
    assert pacer.delay("one more", -1) == 0
    assert len(pacer.sent) == PER_WINDOW - 1  # the oldest has left the window
