"""What one hostile client can cost the simulator in log lines and remembered requests."""

from __future__ import annotations

import logging

import pytest

from ibdesk.simtws.inbound import InboundLog, InboundRecord
from ibdesk.simtws.throttle import LogThrottle, clip


def test_clip_keeps_short_text_and_says_how_much_it_cut() -> None:
    assert clip("short", 10) == "short"
    cut = clip("x" * 5000, 100)
    assert cut.startswith("x" * 100)
    assert "4900" in cut
    assert len(cut) < 140


def test_log_throttle_lets_a_burst_through_then_counts_what_it_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    logger = logging.getLogger("tests.throttle")
    throttle = LogThrottle(logger, burst=3, per_second=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        for i in range(10):
            throttle.warning("bad request %d", i)
        assert [r.getMessage() for r in caplog.records] == [f"bad request {i}" for i in range(3)]
        now[0] = 1.0  # one line's worth of budget back
        throttle.warning("bad request %d", 10)
        throttle.warning("bad request %d", 11)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[3:] == ["7 similar log lines were suppressed", "bad request 10"]


def test_log_throttle_clips_each_line(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("tests.throttle"), limit=50)
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        throttle.warning("request %s", "y" * 10_000)
    [record] = caplog.records
    assert len(record.getMessage()) < 100


def _record(n: int, size: int) -> InboundRecord:
    return InboundRecord(float(n), float(n), 1, 3, ("3", str(n), "z" * size))


def test_the_inbound_log_is_bounded_by_bytes_and_keeps_the_newest() -> None:
    log = InboundLog(max_records=1000, max_bytes=20_000)
    for n in range(500):
        log.append(_record(n, 1000))
    assert log.bytes <= 20_000
    assert 10 <= len(log) < 500
    assert [r.fields[1] for r in log][-1] == "499"


def test_the_inbound_log_is_bounded_by_count() -> None:
    log = InboundLog(max_records=10, max_bytes=1 << 30)
    for n in range(25):
        log.append(_record(n, 1))
    assert [int(r.fields[1]) for r in log] == list(range(15, 25))
