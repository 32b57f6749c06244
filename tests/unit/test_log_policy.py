"""The log as a trader reads it (issue 14): the client library's chatter out of the log file
below WARNING unless the debug switch is on, the library's own lines about IB codes left to
ibdesk (which logs each code at its level), and the level each code deserves."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ibdesk import config, logs
from ibdesk.broker import ib as shim
from ibdesk.domain.connection import Severity
from ibdesk.domain.notices import code_severity

WRAPPER = f"{shim.LOGGER_PREFIX}.wrapper"


@pytest.fixture
def log_file() -> Iterator[Callable[..., Path]]:
    """``logs.setup`` into a folder; its handlers are taken off the root afterwards."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level

    def make(directory: Path, library: bool = False) -> Path:
        return logs.setup(directory=directory, library=library)

    yield make
    for handler in root.handlers[len(before) :]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def library_chatter() -> None:
    """What the client library says during an ordinary session, through its own loggers and
    its own code: a portfolio dump at INFO, a warning, and its line about an ordinary cancel
    (TWS's 202, which ib_async logs at ERROR)."""
    logging.getLogger(WRAPPER).info("updatePortfolio: PortfolioItem(contract=Future(conId=1))")
    logging.getLogger(f"{shim.LOGGER_PREFIX}.client").warning("a library warning")
    shim.IB().wrapper.error(7, 202, "Order Canceled - reason:", "")
    logging.getLogger("ibdesk.broker.session").info("connected to 127.0.0.1:7497 as client 1")


def test_the_file_keeps_the_librarys_warnings_but_not_its_chatter(
    log_file: Callable[..., Path], tmp_path: Path
) -> None:
    path = log_file(tmp_path / "log")
    library_chatter()
    text = path.read_text(encoding="utf-8")
    assert "connected to 127.0.0.1:7497" in text
    assert "a library warning" in text
    assert "updatePortfolio" not in text
    # ibdesk logs every code itself at its level: the library's line about it is a duplicate
    # at the wrong level (an ERROR for an ordinary cancel).
    assert "Order Canceled" not in text


def test_the_debug_switch_keeps_the_library_in_the_file(
    log_file: Callable[..., Path], tmp_path: Path
) -> None:
    path = log_file(tmp_path / "log", library=True)
    library_chatter()
    text = path.read_text(encoding="utf-8")
    assert "updatePortfolio" in text
    assert "202, reqId 7: Order Canceled" in text  # "Error" in ib_async, "Warning" in ib_insync


def test_the_debug_switch_is_a_config_key() -> None:
    assert config.Settings().log.library is False
    assert config.from_mapping({"log": {"library": True}}).log.library is True
    with pytest.raises(config.ConfigError, match=r"\[log\] library: must be true or false"):
        config.from_mapping({"log": {"library": "yes"}})


@pytest.mark.parametrize(
    ("code", "asked", "severity"),
    [
        (202, True, Severity.INFO),  # the cancel ibdesk asked for
        (202, False, Severity.WARNING),  # someone else's cancel, or the broker's
        (2104, False, Severity.INFO),  # farm OK
        (2106, False, Severity.INFO),
        (2158, False, Severity.INFO),
        (2107, False, Severity.INFO),  # farm inactive but available on demand
        (2108, False, Severity.INFO),
        (1102, False, Severity.INFO),  # restored, data kept
        (2103, False, Severity.WARNING),  # farm broken
        (1101, False, Severity.WARNING),  # restored, data lost (ibdesk resubscribes)
        (10148, False, Severity.WARNING),  # too late to cancel: filled
        (1100, False, Severity.ERROR),  # TWS lost IB
        (201, False, Severity.ERROR),  # order rejected
        (200, False, Severity.ERROR),
    ],
)
def test_each_ib_code_has_the_level_it_deserves(code: int, asked: bool, severity: Severity) -> None:
    assert code_severity(code, asked) is severity
