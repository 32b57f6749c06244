"""IB's codes in plain words."""

from __future__ import annotations

from ibdesk.domain.connection import Severity
from ibdesk.domain.notices import notice_for, refused_notice


def test_connectivity_notices_replace_each_other() -> None:
    lost, restored = notice_for(1100, "", 0), notice_for(1102, "", 0)
    assert lost is not None and restored is not None
    assert lost.key == restored.key
    assert lost.severity is Severity.ERROR and restored.severity is Severity.INFO
    data_lost = notice_for(1101, "", 0)
    assert data_lost is not None and "resubscrib" in data_lost.text


def test_competing_session_is_explained() -> None:
    notice = notice_for(10197, "No market data during competing live session", 0)
    assert notice is not None and "another session" in notice.text


def test_ordinary_codes_need_no_banner() -> None:
    assert notice_for(2104, "Market data farm connection is OK", 0) is None
    assert notice_for(202, "Order Canceled", 0) is None


def test_refused_connection_tells_how_to_enable_the_api() -> None:
    assert "Global Configuration > API > Settings" in refused_notice("h", 7497, 0).text
