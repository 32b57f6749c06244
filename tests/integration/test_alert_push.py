"""Push alerts through the real apprise to a push service on 127.0.0.1 (apprise's ``json://``
URL posts a JSON body there): what arrives, how often, and what a hanging service costs.

The desk's order store and link store feed the real watcher, hub and push thread; only the
kill switch is stood in for by its two events."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from ibdesk import events
from ibdesk.alerts.desk import DeskAlerts
from ibdesk.alerts.push import PushReport, PushService
from ibdesk.config import AlertSettings
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from tests.fake_push import PushServer, push_server
from tests.helpers import wait_until

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
SECRET = "ibdesk-secret-path"


class Switch:
    def __init__(self) -> None:
        self.changed = events.new("tradingStateChanged")
        self.reported = events.new("killReported")


def private_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("# push URLs live here\n")
    path.chmod(0o600)
    return path


def alerts_for(
    tmp_path: Path, server: PushServer, **settings: float
) -> tuple[DeskAlerts, OrderStore]:
    orders = OrderStore()
    alerts = DeskAlerts(
        AlertSettings(push=(server.url(SECRET),), **settings),  # type: ignore[arg-type]
        private_config(tmp_path),
        orders=orders,
        switch=Switch(),
        link=LinkStore(),
    )
    return alerts, orders


def fill(orders: OrderStore, n: int) -> None:
    ref = f"ticket#1.{n}"
    orders.put(OrderSnapshot(ref, ES, Side.BUY, 1, OrderType.MARKET, OrderState.WORKING))
    orders.add_fill(FillSnapshot(f"e{n}", time.time(), ref, n, n, ES, Side.BUY, 1, 6801.25, "DU1"))


async def settled(alerts: DeskAlerts, server: PushServer, count: int) -> None:
    """Wait until ``count`` messages arrived and nothing more is open or queued."""
    push = alerts.push
    assert push is not None
    await wait_until(lambda: len(server.received) >= count, timeout=15, what=f"{count} pushes")
    await wait_until(lambda: push.idle, timeout=15, what="the push thread idle")
    alerts.hub.flush()  # nothing left in an open window either
    await wait_until(lambda: push.idle, timeout=15, what="the push thread idle")


async def test_a_fill_sends_one_message(tmp_path: Path) -> None:
    with push_server() as server:
        alerts, orders = alerts_for(tmp_path, server, group_seconds=0.5)
        try:
            fill(orders, 1)
            await settled(alerts, server, 1)
        finally:
            alerts.close()
        assert server.titles() == ["Filled BUY 1 ESZ6 @ 6,801.25"]
        assert server.received[0]["type"] == "success"
        assert server.paths == [f"/{SECRET}"]


async def test_a_hundred_fills_in_a_second_send_one_grouped_message(tmp_path: Path) -> None:
    with push_server() as server:
        alerts, orders = alerts_for(tmp_path, server, group_seconds=2.0)
        try:
            started = time.monotonic()
            for n in range(100):
                fill(orders, n)
                await asyncio.sleep(0.01)  # the scenario: 100 fills spread over a second
            assert time.monotonic() - started < 2.0
            await settled(alerts, server, 1)
        finally:
            alerts.close()
        [message] = server.received
        assert message["title"] == "100 fills"
        assert message["message"].splitlines()[-1] == "… and 88 more"


async def test_a_hanging_service_never_blocks_the_loop(tmp_path: Path) -> None:
    """While the service holds the request unanswered, sending is instant and the loop keeps
    its beat; the thread gives up at the deadline and says so; what queued meanwhile goes out
    as one message."""
    with push_server(hang=True) as server:
        push = PushService([server.url(SECRET)], timeout=2.0)
        push.start()
        reports: list[PushReport] = []
        try:
            from ibdesk.alerts.message import compose
            from ibdesk.domain.alerts import Alert, AlertKind

            def message(i: int) -> object:
                return compose([Alert(AlertKind.FILL, f"fill {i}", time=time.time())])

            push.send(message(0), reports.append)  # type: ignore[arg-type]
            await wait_until(lambda: server.waiting == 1, timeout=10, what="the request held")
            worst_send, lags = 0.0, []
            for i in range(1, 50):
                t0 = time.perf_counter()
                push.send(message(i))  # type: ignore[arg-type]
                worst_send = max(worst_send, time.perf_counter() - t0)
                t1 = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t1 - 0.01)
            assert push.busy_since is not None  # still stuck on the first message
            assert worst_send < 0.005, worst_send
            assert max(lags) < 0.1, max(lags)
            await wait_until(lambda: reports, timeout=10, what="the deadline")
            [report] = reports
            assert [r.outcome for r in report.results] == ["timed out"]
            await wait_until(lambda: len(server.received) == 2, timeout=10, what="the backlog")
            assert server.received[1]["title"] == "49 fills"  # the backlog, merged
        finally:
            push.close()


async def test_push_urls_never_reach_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """apprise logs the URLs it calls at DEBUG and parts of them in warnings; none of it gets
    through, from a service that refuses or one that does not understand the URL."""
    refused = PushServer()
    refused.http.server_close()  # never served: its port refuses
    apprise_log = logging.getLogger("apprise")
    level = apprise_log.level
    apprise_log.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    bad = "tgram://123456789:SECRETbotTOKEN/42424242"
    push = PushService([refused.url(SECRET), "ntfy://", bad], timeout=3.0)
    push.start()
    reports: list[PushReport] = []
    try:
        from ibdesk.alerts.message import compose
        from ibdesk.domain.alerts import Alert, AlertKind

        push.send(compose([Alert(AlertKind.TEST, "t", time=time.time())]), reports.append)
        await wait_until(lambda: reports, timeout=15, what="the report")
    finally:
        push.close()
        apprise_log.setLevel(level)
    assert not reports[0].ok
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "apprise" in {r.name for r in caplog.records}  # it did log, at length
    for secret in (SECRET, str(refused.port), "SECRETbotTOKEN", "123456789", "42424242"):
        assert secret not in text, secret
    assert "push 1 (json): failed" in text
