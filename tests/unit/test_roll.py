"""The roll warning: one rule for the ticket, the watchlist and the chart header."""

from __future__ import annotations

import datetime as dt

import pytest

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.roll import roll_warning

ESZ6 = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
AAPL = Instrument(265598, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL")


def test_a_future_within_the_warning_days_warns_in_short_and_in_full() -> None:
    w = roll_warning(ESZ6, dt.date(2026, 12, 15), within_days=5)
    assert w is not None
    assert (w.days, w.expiry) == (3, dt.date(2026, 12, 18))
    assert w.marker == "roll 3d"
    assert w.short == "expires in 3 days"
    assert w.text == "ESZ6 expires Fri 18 Dec 2026, in 3 days: roll to the next contract."


@pytest.mark.parametrize(
    ("today", "short"),
    [
        (dt.date(2026, 12, 17), "expires tomorrow"),
        (dt.date(2026, 12, 18), "expires today"),
        (dt.date(2026, 12, 19), "expired"),
    ],
)
def test_the_last_days_are_said_in_words(today: dt.date, short: str) -> None:
    w = roll_warning(ESZ6, today, within_days=5)
    assert w is not None and w.short == short


def test_far_from_expiry_and_things_that_do_not_expire_say_nothing() -> None:
    assert roll_warning(ESZ6, dt.date(2026, 12, 12), within_days=5) is None  # 6 days left
    assert roll_warning(ESZ6, dt.date(2026, 12, 13), within_days=5) is not None  # 5 days left
    assert roll_warning(AAPL, dt.date(2026, 12, 17), within_days=5) is None


def test_zero_warning_days_warns_on_the_last_day_only() -> None:
    assert roll_warning(ESZ6, dt.date(2026, 12, 17), within_days=0) is None
    assert roll_warning(ESZ6, dt.date(2026, 12, 18), within_days=0) is not None
