"""Times of day as the desk shows them: in one zone, always labelled with it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from ibdesk.domain import times
from ibdesk.ui import format as fmt

#: 2026-07-14 14:31:07.250 UTC: 09:31:07 in Chicago (summer time), 23:31:07 in Tokyo.
SUMMER = dt.datetime(2026, 7, 14, 14, 31, 7, 250_000, tzinfo=dt.UTC).timestamp()
#: 2026-01-14 15:31:07 UTC: 09:31:07 in Chicago (winter time).
WINTER = dt.datetime(2026, 1, 14, 15, 31, 7, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone is Tokyo for this test."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def choice() -> Iterator[None]:
    """Put the display's zone choice back as it was."""
    before = fmt.time_zone()
    yield
    fmt.set_time_zone(before)


def test_an_exchange_time_carries_the_name_traders_use() -> None:
    assert times.time_of_day(SUMMER, "US/Central") == "09:31:07 CT"
    assert times.time_of_day(WINTER, "America/Chicago") == "09:31:07 CT"  # CST and CDT alike
    assert times.time_of_day(SUMMER, "US/Eastern") == "10:31:07 ET"
    assert times.time_of_day(SUMMER, "US/Central", millis=True) == "09:31:07.250 CT"
    assert times.time_of_day(SUMMER, "US/Central", seconds=False) == "09:31 CT"


def test_other_zones_keep_their_own_abbreviation() -> None:
    assert times.time_of_day(SUMMER, "Europe/Berlin") == "16:31:07 CEST"
    assert times.time_of_day(SUMMER, "Asia/Shanghai") == "22:31:07 CST"  # China's, not CT
    assert times.time_of_day(SUMMER, "UTC") == "14:31:07 UTC"


def test_no_zone_or_an_unknown_one_is_local_time_and_says_so(tokyo: None) -> None:
    assert times.time_of_day(SUMMER, "") == "23:31:07 JST"
    assert times.time_of_day(SUMMER, "Mars/Olympus") == "23:31:07 JST"
    assert times.local_zone().tzname(dt.datetime.fromtimestamp(SUMMER, dt.UTC)) == "JST"


def test_the_choice_picks_the_zone(tokyo: None, choice: None) -> None:
    fmt.set_time_zone("exchange")
    assert fmt.clock(SUMMER, "US/Central") == "09:31:07 CT"
    assert fmt.time_heading() == "Time (exchange)"
    fmt.set_time_zone("local")
    assert fmt.clock(SUMMER, "US/Central") == "23:31:07 JST"
    assert fmt.clock(SUMMER, "US/Central", millis=True) == "23:31:07.250 JST"
    assert fmt.time_heading() == "Time (local)"
    assert fmt.clock(0, "US/Central") == fmt.DASH  # no time yet


def test_a_time_with_no_instrument_is_local_whatever_the_choice(tokyo: None, choice: None) -> None:
    for chosen in times.CHOICES:
        fmt.set_time_zone(chosen)
        assert fmt.clock(SUMMER) == "23:31:07 JST"


def test_an_unknown_choice_is_refused(choice: None) -> None:
    with pytest.raises(ValueError, match=r"exchange.*local"):
        fmt.set_time_zone("utc")


def test_the_kill_verification_is_labelled(tokyo: None) -> None:
    from ibdesk.domain.risk import KillReport

    report = KillReport("DU1", SUMMER - 1, SUMMER, True)
    assert report.summary() == "0 working orders in DU1, verified at 23:31:07 JST."
