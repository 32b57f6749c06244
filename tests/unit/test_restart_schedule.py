"""The restart schedule: next restart, countdown, pause-before, window, weekly re-login."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.domain.restarts import (
    RestartPhase,
    RestartSchedule,
    parse_time_of_day,
    parse_weekly,
)

NY = "America/New_York"
MIN = 60.0


def at(text: str, zone: str = NY) -> float:
    """``2026-03-07 23:45`` in ``zone`` as epoch seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def nightly(**kw: object) -> RestartSchedule:
    values: dict[str, object] = {
        "daily_at": dt.time(23, 45),
        "zone": NY,
        "pause_before": 5 * MIN,
        "window": 15 * MIN,
        "relogin": (6, dt.time(1, 0)),
    }
    values.update(kw)
    return RestartSchedule(**values)  # type: ignore[arg-type]


def test_clear_during_the_day_counts_down_to_tonight() -> None:
    o = nightly().outlook(at("2026-12-03 22:00:00"))
    assert o is not None
    assert o.phase is RestartPhase.CLEAR
    assert o.restart_at == at("2026-12-03 23:45")
    assert o.countdown == 105 * MIN


def test_pause_before_starts_pause_before_minutes_ahead() -> None:
    schedule = nightly()
    assert schedule.outlook(at("2026-12-03 23:39:59")).phase is RestartPhase.CLEAR  # type: ignore[union-attr]
    o = schedule.outlook(at("2026-12-03 23:40"))
    assert o is not None and o.phase is RestartPhase.PAUSE_BEFORE
    assert o.countdown == 5 * MIN


def test_the_window_crosses_midnight() -> None:
    schedule = nightly(window=120 * MIN)
    o = schedule.outlook(at("2026-12-04 00:30"))
    assert o is not None and o.phase is RestartPhase.WINDOW
    assert o.restart_at == at("2026-12-03 23:45")
    assert o.window_end == at("2026-12-04 01:45")
    assert o.countdown == -45 * MIN
    after = schedule.outlook(at("2026-12-04 01:45"))
    assert after is not None and after.phase is RestartPhase.CLEAR
    assert after.restart_at == at("2026-12-04 23:45")


def test_a_restart_after_midnight_is_that_day_s() -> None:
    schedule = nightly(daily_at=dt.time(0, 30), pause_before=60 * MIN)
    o = schedule.outlook(at("2026-12-03 23:45"))
    assert o is not None and o.phase is RestartPhase.PAUSE_BEFORE
    assert o.restart_at == at("2026-12-04 00:30")


def test_the_countdown_over_spring_forward_is_23_hours() -> None:
    # 2026-03-08 is the spring-forward Sunday in New York.
    o = nightly().outlook(at("2026-03-07 23:45") + 15 * MIN)
    assert o is not None and o.phase is RestartPhase.CLEAR
    assert o.countdown == 23 * 3600 - 15 * MIN


def test_a_restart_in_the_missing_hour_falls_an_hour_later() -> None:
    o = nightly(daily_at=dt.time(2, 30)).outlook(at("2026-03-08 00:00"))
    assert o is not None
    assert o.restart_at == at("2026-03-08 03:30")  # EDT


def test_a_restart_in_the_repeated_hour_is_the_first() -> None:
    o = nightly(daily_at=dt.time(1, 30)).outlook(at("2026-11-01 00:00"))
    assert o is not None
    assert o.restart_at == at("2026-11-01 05:30", "UTC")  # 01:30 EDT, not EST


def test_the_weekly_relogin_is_the_next_sunday_1am_and_flags_the_restart_after_it() -> None:
    schedule = nightly()
    friday = schedule.outlook(at("2026-12-04 12:00"))  # a Friday
    assert friday is not None
    assert friday.relogin_at == at("2026-12-06 01:00")
    assert not friday.needs_login  # Friday 23:45 comes before the expiry
    saturday = schedule.outlook(at("2026-12-05 23:50"))  # inside Saturday's window
    assert saturday is not None and not saturday.needs_login
    sunday = schedule.outlook(at("2026-12-06 12:00"))
    assert sunday is not None and sunday.needs_login  # the first restart after 01:00


def test_no_daily_restart_no_outlook() -> None:
    assert RestartSchedule(None).outlook(at("2026-12-03 12:00")) is None


@pytest.mark.parametrize(
    ("text", "expected"), [("23:45", dt.time(23, 45)), ("7:05:30", dt.time(7, 5, 30))]
)
def test_times_of_day_parse(text: str, expected: dt.time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00", "23:60", "2345", "11:45 PM", "", "a:b"])
def test_bad_times_of_day_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time_of_day(text)


def test_weekly_parses_and_refuses() -> None:
    assert parse_weekly("Sun 01:00") == (6, dt.time(1))
    assert parse_weekly("sunday 1:00") == (6, dt.time(1))
    with pytest.raises(ValueError, match="Sun 01:00"):
        parse_weekly("Funday 01:00")


# ---- properties: any zone, any instant, any time of day (DST days included) -----------------

ZONES = [
    NY,
    "Europe/London",
    "Australia/Sydney",  # summer time in the southern winter's opposite months
    "America/Santiago",  # changes at midnight
    "Asia/Kolkata",
    "UTC",
]
EPOCHS = st.floats(min_value=at("2020-01-01 00:00", "UTC"), max_value=at("2036-01-01", "UTC"))


@st.composite
def schedules(draw: st.DrawFn) -> RestartSchedule:
    window = draw(st.floats(min_value=1.0, max_value=720 * MIN))
    pause = draw(st.floats(min_value=0.0, max_value=1439 * MIN - window))
    return RestartSchedule(
        daily_at=draw(st.times()).replace(microsecond=0),
        zone=draw(st.sampled_from(ZONES)),
        pause_before=pause,
        window=window,
        relogin=(draw(st.integers(0, 6)), draw(st.times()).replace(microsecond=0)),
    )


@settings(max_examples=400, deadline=None)
@given(schedule=schedules(), now=EPOCHS)
def test_the_phase_says_where_now_stands_against_the_restart(
    schedule: RestartSchedule, now: float
) -> None:
    o = schedule.outlook(now)
    assert o is not None
    assert o.countdown == o.restart_at - now
    # restart_at is a restart: the one on its own local date
    day = dt.datetime.fromtimestamp(o.restart_at, ZoneInfo(schedule.zone)).date()
    assert schedule.restart_on(day) == o.restart_at
    if o.phase is RestartPhase.WINDOW:
        assert o.restart_at <= now < o.restart_at + schedule.window
    else:
        # the next restart: none between now and it, the one before it long over
        assert now < o.restart_at <= now + 26 * 3600
        before = schedule.restart_on(day - dt.timedelta(days=1))
        assert before <= now
        assert now >= before + schedule.window
        pausing = now >= o.restart_at - schedule.pause_before
        assert (o.phase is RestartPhase.PAUSE_BEFORE) == pausing


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), now=EPOCHS, step=st.floats(min_value=0.001, max_value=3600.0))
def test_time_moves_the_schedule_forward_only(
    schedule: RestartSchedule, now: float, step: float
) -> None:
    """A later instant never looks at an earlier restart, and the countdown to the same
    restart only shrinks: what a status bar ticking at 1 Hz relies on."""
    first, later = schedule.outlook(now), schedule.outlook(now + step)
    assert first is not None and later is not None
    assert later.restart_at >= first.restart_at
    if later.restart_at == first.restart_at:
        assert later.countdown == pytest.approx(first.countdown - step)
        order = list(RestartPhase)
        assert order.index(later.phase) >= order.index(first.phase)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules(), now=EPOCHS)
def test_the_weekly_relogin_is_within_a_week_on_its_weekday(
    schedule: RestartSchedule, now: float
) -> None:
    o = schedule.outlook(now)
    assert o is not None and o.relogin_at is not None and schedule.relogin is not None
    assert now < o.relogin_at <= now + 7 * 86400 + 3600
    local = dt.datetime.fromtimestamp(o.relogin_at, ZoneInfo(schedule.zone))
    assert local.weekday() == schedule.relogin[0] or (
        # a relogin time missing on a spring-forward day falls an hour later
        local.weekday() == (schedule.relogin[0] + 1) % 7 and local.hour == 0
    )
