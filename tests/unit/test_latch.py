"""The latched trading state, kept per account, with one owner (issue: safety holes 2 and 4).

A kill in one account (the demo's, a paper account) must not halt another; REDUCING is a
latched state like HALTED; loosening either takes a typed reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ibdesk.domain.risk import StateChange, TradingState
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal
from ibdesk.trading.latch import StateLatch


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    with Journal(tmp_path / "journal.sqlite") as j:
        yield j


def test_a_kill_in_one_account_leaves_another_active(journal: Journal) -> None:
    clock = Clock()
    paper = StateLatch(journal, clock)
    paper.bind(["DU111"], "DU111")
    paper.set(TradingState.HALTED, "kill button", "paper test")
    # The next session starts on the last account's state, before it connects...
    again = StateLatch(journal, clock)
    assert again.state is TradingState.HALTED and again.last_change.who == "kill button"
    seen: list[StateChange] = []
    again.changed += seen.append
    # ...and the live account it connects to has its own, untouched state.
    again.bind(["U222"], "U222")
    assert again.state is TradingState.ACTIVE
    assert [c.state for c in seen] == [TradingState.ACTIVE]
    assert latch.read(journal, "DU111")["state"] == "HALTED"
    assert latch.read(journal, "U222") is None or latch.read(journal, "U222")["state"] != "HALTED"
    third = StateLatch(journal, clock)
    assert third.account == "U222" and third.state is TradingState.ACTIVE


def test_a_kill_before_any_connection_applies_to_the_login_that_connects(
    journal: Journal,
) -> None:
    state = StateLatch(journal, Clock())
    state.set(TradingState.HALTED, "kill button", "before connecting")
    state.bind(["DU1", "DU2"], "DU1")
    assert state.state is TradingState.HALTED
    # The global cancel reaches every account of the login: all of them are latched.
    assert latch.read(journal, "DU1")["state"] == "HALTED"
    assert latch.read(journal, "DU2")["state"] == "HALTED"


def test_a_journal_from_before_accounts_keeps_its_latch_for_the_first_account(
    journal: Journal,
) -> None:
    journal.set_value(
        latch.STATE_KEY,
        {"state": "HALTED", "who": "old", "why": "kept", "time": 1.0, "locked_until": None},
    )
    state = StateLatch(journal, Clock())
    assert state.state is TradingState.HALTED
    state.bind(["DU1"], "DU1")
    assert state.state is TradingState.HALTED and state.last_change.who == "old"


@pytest.mark.parametrize("start", [TradingState.HALTED, TradingState.REDUCING])
def test_loosening_the_state_needs_a_typed_reason(journal: Journal, start: TradingState) -> None:
    state = StateLatch(journal, Clock())
    state.set(start, "button", "")  # tightening needs no reason
    with pytest.raises(ValueError, match="typed reason"):
        state.set(TradingState.ACTIVE, "trader", "  ")
    assert state.state is start
    state.set(TradingState.ACTIVE, "trader", "checked the book")
    assert state.state is TradingState.ACTIVE


def test_a_stricter_state_written_elsewhere_is_offered_for_adoption(journal: Journal) -> None:
    clock = Clock()
    state = StateLatch(journal, clock)
    state.bind(["DU1"], "DU1")
    assert state.newer_stricter() is None
    latch.write(
        journal,
        ["DU1"],
        {"state": "REDUCING", "who": "ibdesk kill", "why": "risk", "time": clock() + 5},
    )
    offered = state.newer_stricter()
    assert offered is not None and offered.state is TradingState.REDUCING
    state.set(TradingState.REDUCING, offered.who, offered.why)
    assert state.newer_stricter() is None  # adopted: not offered again
    latch.write(journal, ["U9"], {"state": "HALTED", "who": "x", "why": "", "time": clock() + 9})
    assert state.newer_stricter() is None  # another account's halt is not ours


def test_hold_is_halted_at_once_until_the_loop_journals_it(journal: Journal) -> None:
    state = StateLatch(journal, Clock())
    state.hold()
    assert state.state is TradingState.HALTED
    assert state.last_change.state is TradingState.ACTIVE  # nothing journaled yet
    state.set(TradingState.HALTED, "watchdog", "stalled")
    assert latch.read(journal, "")["who"] == "watchdog"
    state.set(TradingState.ACTIVE, "trader", "loop fixed")
    assert state.state is TradingState.ACTIVE
