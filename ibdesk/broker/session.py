"""The connection to TWS / IB Gateway, kept alive.

Connects with the configured client id and falls back to the next one when TWS says it is
in use (326: TWS closes the socket and the library would only time out); reconnects with a
capped backoff whenever the socket drops (TWS restarts daily); measures the round trip with
``reqCurrentTime``; and turns IB's notices into plain-words banners and farm lights.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ibdesk import events
from ibdesk.broker import ib as shim
from ibdesk.config import ConnectionSettings
from ibdesk.domain import notices
from ibdesk.domain.connection import LinkState
from ibdesk.domain.notices import FARM_CODES, notice_for, refused_notice
from ibdesk.state.link import LinkStore

log = logging.getLogger("ibdesk.broker.session")

HEALTH_INTERVAL = 5.0
MAX_CLIENT_ID_FALLBACKS = 10


class ClientIdInUseError(Exception):
    """TWS refused the client id (error 326)."""


class Backoff:
    """Delays between reconnect attempts: doubling from ``initial`` up to ``cap`` seconds.

    The cap is short on purpose: TWS restarts are local and cheap to poll, and a trader
    wants the desk back within seconds of the port reopening.
    """

    def __init__(self, initial: float = 0.5, cap: float = 3.0) -> None:
        self.initial = initial
        self.cap = cap
        self.next = initial

    def take(self) -> float:
        """The delay before the next attempt (and double it for the one after)."""
        delay = self.next
        self.next = min(self.cap, self.next * 2)
        return delay

    def reset(self) -> None:
        """After a success, start again from the shortest delay."""
        self.next = self.initial


class BrokerSession:
    """Owns the IB client object and keeps it connected.

    Events:
        connected(): connected and synced; fires again after every reconnect.
        disconnected(): the socket dropped (a reconnect follows unless stopped).
        error(req_id, code, text): every error or notice TWS sends.
    """

    def __init__(self, settings: ConnectionSettings, link: LinkStore) -> None:
        self.settings = settings
        self.link = link
        self.ib = shim.IB()
        for name in self.ib.events:
            # A handler of ours that raises must be seen, never swallowed by eventkit.
            events.loud(getattr(self.ib, name))
        self.client_id = settings.client_id
        self.account = settings.account
        self.backoff = Backoff()
        self.connected = events.new("sessionConnected")
        self.disconnected = events.new("sessionDisconnected")
        self.error = events.new("sessionError")
        self._stopping = False
        self._down = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._health: asyncio.Task[None] | None = None
        self._rtt: asyncio.Task[None] | None = None
        self._sent_mark = (time.monotonic(), 0)
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected

    @property
    def is_connected(self) -> bool:
        """Whether the API connection is up and synced."""
        return bool(self.ib.isConnected()) and self.link.status.state is LinkState.CONNECTED

    @property
    def server_version(self) -> int:
        """The negotiated API version (0 when disconnected)."""
        return int(self.ib.client.serverVersion() or 0) if self.ib.isConnected() else 0

    def start(self) -> asyncio.Task[None]:
        """Connect, and keep reconnecting until :meth:`stop`."""
        if self._runner is None or self._runner.done():
            self._stopping = False
            self._runner = asyncio.ensure_future(self._run())
        return self._runner

    async def stop(self) -> None:
        """Disconnect for good."""
        self._stopping = True
        for task in (self._rtt, self._health, self._runner):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.ib.disconnect()
        self.link.set_status(state=LinkState.DISCONNECTED, retry_in=0.0)

    # ---- the connect loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        fallbacks = 0
        first = True
        while not self._stopping:
            self.link.set_status(
                state=LinkState.CONNECTING if first else LinkState.RECONNECTING,
                host=self.settings.host,
                port=self.settings.port,
                client_id=self.client_id,
                retry_in=0.0,
            )
            try:
                await self._connect_once()
            except ClientIdInUseError:
                fallbacks += 1
                if fallbacks <= MAX_CLIENT_ID_FALLBACKS:
                    self._post_client_id_fallback()
                    self.client_id += 1
                    continue
                self.link.post(
                    notices.client_ids_exhausted(
                        self.settings.client_id, self.client_id, time.time()
                    )
                )
            except (ConnectionRefusedError, OSError) as exc:
                log.info("connect to %s:%d failed: %s", self.settings.host, self.settings.port, exc)
                self.link.post(refused_notice(self.settings.host, self.settings.port, time.time()))
            except TimeoutError:
                self.link.post(
                    notices.handshake_timeout(self.settings.host, self.settings.port, time.time())
                )
            else:
                first = False
                fallbacks = 0
                await self._serve_until_down()
                continue
            first = False
            await self._wait_before_retry()

    async def _connect_once(self) -> None:
        self._down.clear()
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def watch(req_id: int, code: int, *_: Any) -> None:
            if code == 326 and not refused.done():
                refused.set_exception(ClientIdInUseError())

        self.ib.errorEvent += watch
        connecting = asyncio.ensure_future(
            self.ib.connectAsync(
                self.settings.host,
                self.settings.port,
                clientId=self.client_id,
                timeout=self.settings.connect_timeout,
                account=self.settings.account,
            )
        )
        try:
            done, _ = await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused in done:
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                self.ib.disconnect()
                refused.result()
            connecting.result()
        finally:
            self.ib.errorEvent -= watch
            if not refused.done():
                refused.cancel()

    async def _serve_until_down(self) -> None:
        managed = tuple(self.ib.managedAccounts())
        if self.settings.account and self.settings.account not in managed:
            self.link.post(notices.account_not_managed(self.settings.account, managed, time.time()))
        self.account = self.settings.account if self.settings.account in managed else managed[0]
        self.backoff.reset()
        for key in ("connection", "client-id"):
            self.link.clear(key)
        self.link.set_status(
            state=LinkState.CONNECTED,
            server_version=self.server_version,
            accounts=managed,
            account=self.account,
            client_id=self.client_id,
            retry_in=0.0,
        )
        log.info(
            "connected to %s:%d as client %d (server version %d, accounts %s)",
            self.settings.host,
            self.settings.port,
            self.client_id,
            self.server_version,
            ",".join(managed),
        )
        self._health = asyncio.ensure_future(self._health_loop())
        self.connected.emit()
        await self._down.wait()
        for task in (self._health, self._rtt):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self._stopping:
            self.link.set_status(state=LinkState.RECONNECTING, server_version=0)
            self.disconnected.emit()

    async def _wait_before_retry(self) -> None:
        delay = self.backoff.take()
        self.link.set_status(retry_in=delay)
        await asyncio.sleep(delay)

    def _post_client_id_fallback(self) -> None:
        self.link.post(notices.client_id_fallback(self.client_id, time.time()))

    # ---- health -------------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        """Round trip every few seconds; the outgoing message rate every second."""
        self._sent_mark = (time.monotonic(), int(self.ib.client.conn.numMsgSent))
        tick = 0
        while True:
            if tick % int(HEALTH_INTERVAL) == 0 and (self._rtt is None or self._rtt.done()):
                self._rtt = asyncio.ensure_future(self._measure_rtt())
            await asyncio.sleep(1.0)
            self.link.set_meters(msgs_per_s=self._message_rate())
            tick += 1

    async def _measure_rtt(self) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), HEALTH_INTERVAL)
            rtt = (time.perf_counter() - started) * 1000
        except (TimeoutError, ConnectionError):
            rtt = float("inf")
        if self.ib.isConnected():
            self.link.set_meters(rtt_ms=rtt)

    def _message_rate(self) -> float:
        """Messages sent per second since the last sample."""
        now = time.monotonic()
        sent = int(self.ib.client.conn.numMsgSent)
        then, before = self._sent_mark
        self._sent_mark = (now, sent)
        return (sent - before) / (now - then) if now > then else 0.0

    # ---- library events -------------------------------------------------------------------------

    def _on_error(self, req_id: int, code: int, text: str, *_: Any) -> None:
        farm = FARM_CODES.get(code)
        if farm is not None:
            self.link.set_farm(*farm)
        notice = notice_for(code, text, time.time())
        if notice is not None:
            self.link.post(notice)
        if code in (1100, 2110):
            log.warning("TWS lost IB connectivity (%d): %s", code, text)
        self.error.emit(req_id, code, text)

    def _on_disconnected(self) -> None:
        self._down.set()
