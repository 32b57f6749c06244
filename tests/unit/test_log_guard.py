"""Bounded logging: a flood of one kind of record is one line and a summary, and no record
is longer than its handler can afford (issue 12, finding 6)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import pytest

from ibdesk.logs import BoundedFormatter, FloodGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        return [r.getMessage() for r in self.records]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flood(clock: Clock) -> Iterator[tuple[FloodGuard, logging.Logger, Records]]:
    logger = logging.getLogger("tests.flood.Decoder")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    seen = Records()
    logger.addHandler(seen)
    guard = FloodGuard(window=10.0, clock=clock)
    guard.attach(logger.name)
    yield guard, logger, seen
    guard.detach()
    logger.removeHandler(seen)
    logger.propagate = True


def decoder_error(logger: logging.Logger, fields: list[str]) -> None:
    """What the client library's decoder does for a frame it cannot decode."""
    try:
        float(fields[4])
    except ValueError:
        logger.exception(f"Error handling fields: {fields}")


def test_a_flood_of_one_kind_is_one_record_then_a_summary(flood, clock: Clock) -> None:
    guard, logger, seen = flood
    started = time.perf_counter()
    for i in range(30_000):
        decoder_error(logger, ["1", "6", str(i), "1", "not-a-price", "x", "0"])
    spent = time.perf_counter() - started
    assert len(seen.records) == 1
    assert seen.records[0].exc_info is not None  # the first one keeps its traceback
    assert guard.flush() == 0  # the window has not ended: nothing to say yet
    clock.now += 10.0
    assert guard.flush() == 1
    assert len(seen.records) == 2
    summary = seen.texts()[1]
    assert "29,999 more" in summary and "Error handling fields" in summary
    assert seen.records[1].levelno == logging.ERROR
    assert spent < 3.0, f"30,000 suppressed records took {spent:.2f} s"


def test_each_kind_gets_its_own_line(flood) -> None:
    _, logger, seen = flood
    for _ in range(3):
        logger.error("refused a fill: side %r", "XYZ")
        logger.error("refused a fill: quantity %s", -5)
        logger.error("Error 4, reqId 7: the text of one error")
    assert seen.texts() == [
        "refused a fill: side 'XYZ'",
        "refused a fill: quantity -5",
        "Error 4, reqId 7: the text of one error",
    ]


def test_a_new_window_lets_the_kind_through_again(flood, clock: Clock) -> None:
    guard, logger, seen = flood
    for _ in range(5):
        logger.warning("quote refused: %s", "high")
    clock.now += 11
    logger.warning("quote refused: %s", "high")
    # The summary of the first window is still owed, and comes out at the next flush.
    assert len(seen.records) == 2
    assert guard.flush() == 1
    assert "4 more" in seen.texts()[-1]


def test_info_records_are_never_held_back(flood) -> None:
    _, logger, seen = flood
    for i in range(50):
        logger.info("openOrder: %d", i)
    assert len(seen.records) == 50


def test_a_logger_has_a_budget_across_kinds(flood, clock: Clock) -> None:
    guard, logger, seen = flood
    for i in range(1000):
        logger.error(f"attacker text {'abcdefghij'[i % 10]}{i}" + "z" * (i % 37))
    assert len(seen.records) <= guard.per_logger
    clock.now += 10
    guard.flush()
    assert len(seen.records) <= 2 * guard.per_logger + 1


def test_detach_forgets_everything(clock: Clock) -> None:
    logger = logging.getLogger("tests.flood.detach")
    seen = Records()
    logger.addHandler(seen)
    logger.propagate = False
    try:
        guard = FloodGuard(window=10.0, clock=clock)
        guard.attach(logger.name)
        guard.attach(logger.name)  # a second user (two sessions)
        for _ in range(3):
            logger.error("the same error")
        guard.detach()
        for _ in range(3):
            logger.error("the same error")
        assert len(seen.records) == 1  # still attached for the second user
        guard.detach()
        for _ in range(3):
            logger.error("the same error")
        assert len(seen.records) == 4  # gone: every record passes
    finally:
        logger.removeHandler(seen)
        logger.propagate = True


def test_a_megabyte_record_is_cut_to_the_handler_s_size() -> None:
    formatter = BoundedFormatter("%(levelname)s %(message)s", max_chars=1000, max_lines=12)
    record = logging.LogRecord("ib_async.wrapper", logging.ERROR, "", 0, "x" * (1 << 20), (), None)
    text = formatter.format(record)
    assert len(text) < 1100
    assert text.startswith("ERROR xxx")
    assert "1,047,58" in text  # how much was cut is said


def test_a_long_traceback_keeps_its_head_and_its_last_line() -> None:
    formatter = BoundedFormatter("%(message)s", max_chars=10_000, max_lines=12)

    def deep(n: int) -> None:
        if n:
            deep(n - 1)
        raise ValueError("the reason")

    try:
        deep(40)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "failed", (), sys.exc_info())
    lines = formatter.format(record).splitlines()
    assert len(lines) <= 13
    assert lines[0] == "failed"
    assert lines[-1] == "ValueError: the reason"
    assert any("more lines" in line for line in lines)
