"""The connection to TWS / IB Gateway, kept alive.

Connects with the configured client id and falls back to the next one when TWS says it is
in use (326: TWS closes the socket and the library would only time out); reconnects with a
capped backoff whenever the socket drops (TWS restarts daily); measures the round trip with
``reqCurrentTime``; and turns IB's notices into plain-words banners and farm lights.

A socket can stay open with nothing usable coming through it: a stalled API stream left the
desk green for 20 s, and after a framing corruption data stayed frozen with no event at all
(issue 12). So the session watches the stream: after ``silence_after`` seconds without a
whole frame it asks TWS for the time, and no answer within ``answer_within`` seconds (with
nothing else arriving meanwhile), or a garbled stream (``InboundGuard``), means a red notice,
a drop and a reconnect through the usual loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from ibdesk import clock as clocks
from ibdesk import events
from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.codes import CodeLog
from ibdesk.broker.inbound import InboundGuard
from ibdesk.clock import Clock
from ibdesk.config import ConnectionSettings
from ibdesk.domain import notices
from ibdesk.domain.connection import LinkState, Notice
from ibdesk.domain.notices import FARM_CODES, notice_for, refused_notice
from ibdesk.logs import FloodGuard
from ibdesk.state.link import LinkStore

log = logging.getLogger("ibdesk.broker.session")

HEALTH_INTERVAL = 5.0
MAX_CLIENT_ID_FALLBACKS = 10
GRACE = 0.1
""" seconds a timed-out probe waits for data already in the socket (a loop that was frozen
reads it first) before the stream is declared dead """

LOG_FLOOD_GUARD = FloodGuard()
""" one per process: the loggers a hostile stream can flood, shared by every session """
GUARDED_LOGGERS = (
    *(f"{shim.LOGGER_PREFIX}.{name}" for name in ("Decoder", "wrapper", "client", "ib")),
    "ibdesk.broker.translate",
    "ibdesk.broker.orders",
    "ibdesk.broker.marketdata",
    "ibdesk.broker.accounts",
    "ibdesk.broker.inbound",
    "ibdesk.broker.session",
    "ibdesk.broker.codes",
)


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

    def __init__(
        self, settings: ConnectionSettings, link: LinkStore, clock: Clock = clocks.system
    ) -> None:
        self.settings = settings
        self.link = link
        self.clock = clock
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
        self._guarding_logs = False
        self._dropped: tuple[bool, float] | None = None
        """ (garbled, when) of the session's last drop for a dead stream, until it is back """
        self._worked: tuple[str, int] | None = None
        """ (host, port) this session last connected to: a failure to reach it again is a
        reconnect, never a first-time set-up problem """
        self._lost_at = 0.0
        """ when the connection last dropped (the clock's time) """
        self.codes = CodeLog()
        """ every code TWS sends, logged once at its level (the router says which cancels
        were ibdesk's) """
        self.inbound = InboundGuard(self.ib.client, self._on_garbled)
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
        if not self._guarding_logs:
            self._guarding_logs = True
            LOG_FLOOD_GUARD.attach(*GUARDED_LOGGERS)
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
        if self._guarding_logs:
            self._guarding_logs = False
            LOG_FLOOD_GUARD.flush()
            LOG_FLOOD_GUARD.detach()

    # ---- the connect loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        fallbacks = 0
        attempt = 0  # reconnect attempts since the connection dropped (0 while connected)
        while not self._stopping:
            worked = self._worked == self._endpoint
            self.link.set_status(
                state=LinkState.RECONNECTING if worked else LinkState.CONNECTING,
                host=self.settings.host,
                port=self.settings.port,
                client_id=self.client_id,
                retry_in=0.0,
            )
            if worked:
                attempt += 1
            try:
                await self._connect_once()
            except ClientIdInUseError:
                fallbacks += 1
                if fallbacks <= MAX_CLIENT_ID_FALLBACKS:
                    self._post_client_id_fallback()
                    self.client_id += 1
                    continue
                failure = notices.client_ids_exhausted(
                    self.settings.client_id, self.client_id, self.clock()
                )
            except (ConnectionRefusedError, OSError) as exc:
                log.info("connect to %s:%d failed: %s", self.settings.host, self.settings.port, exc)
                failure = refused_notice(self.settings.host, self.settings.port, self.clock())
            except TimeoutError:
                failure = notices.handshake_timeout(
                    self.settings.host, self.settings.port, self.clock()
                )
            else:
                fallbacks = 0
                await self._serve_until_down(attempt)
                attempt = 0
                continue
            await self._wait_before_retry(failure, attempt if worked else 0)

    async def _wait_before_retry(self, failure: Notice, attempt: int) -> None:
        """Say why the connection is not up, then wait the backoff's delay.

        ``attempt`` is the reconnect attempt that just failed (0: this endpoint has not
        worked in this session). A connection that worked is reconnecting, with its
        attempt and delay, whatever the failure: the advice for a first connection
        (enable the API, check the port) would send a trader hunting for settings that were
        right seconds ago. A client id refused for good is still said as such.
        """
        LOG_FLOOD_GUARD.flush()
        delay = self.backoff.take()
        host, port = self._endpoint
        if attempt and failure.key == "connection":
            failure = notices.reconnecting(host, port, attempt, delay, self._lost_at, self.clock())
        self.link.post(failure)
        self.link.set_status(retry_in=delay)
        await asyncio.sleep(delay)

    @property
    def _endpoint(self) -> tuple[str, int]:
        """Where the session connects: (host, port)."""
        return (self.settings.host, self.settings.port)

    async def _connect_once(self) -> None:
        self._down.clear()
        self.inbound.reset()
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
        if not self.ib.managedAccounts():
            # The socket dropped right behind the handshake and the library has forgotten
            # what it learnt: not up, and the loop tries again (nothing to serve without an
            # account, and a crash here would end the reconnecting for good).
            self.ib.disconnect()
            raise ConnectionError("the connection dropped during the handshake")

    async def _serve_until_down(self, attempt: int) -> None:
        """Connected (after ``attempt`` reconnect attempts; 0 for a first connect): say so,
        watch the stream's health until the socket drops, then say that."""
        self._came_up(attempt)
        self._health = asyncio.ensure_future(self._health_loop())
        self.connected.emit()
        await self._down.wait()
        for task in (self._health, self._rtt):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self._stopping:
            self._went_down()
            self.disconnected.emit()

    def _came_up(self, attempt: int) -> None:
        managed = tuple(translate.name(a, 32) for a in self.ib.managedAccounts()[:100])
        if self.settings.account and self.settings.account not in managed:
            self.link.post(
                notices.account_not_managed(self.settings.account, managed, self.clock())
            )
        self.account = self.settings.account if self.settings.account in managed else managed[0]
        self.backoff.reset()
        self._worked = self._endpoint
        for key in ("connection", "client-id"):
            self.link.clear(key)
        if self._dropped is not None:
            self.link.post(notices.data_restored(*self._dropped, self.clock()))
            self._dropped = None
        self.link.set_status(
            state=LinkState.CONNECTED,
            server_version=self.server_version,
            accounts=managed,
            account=self.account,
            client_id=self.client_id,
            retry_in=0.0,
        )
        host, port = self._endpoint
        if attempt:
            log.info(
                "reconnected to %s:%d as client %d after %.1f s down (%d attempts)",
                host,
                port,
                self.client_id,
                max(0.0, self.clock() - self._lost_at),
                attempt,
            )
        else:
            log.info(
                "connected to %s:%d as client %d (server version %d, accounts %s)",
                host,
                port,
                self.client_id,
                self.server_version,
                ",".join(managed),
            )

    def _went_down(self) -> None:
        """The socket dropped: the lights go grey, and the banner says a connection that
        worked is being restored (a drop for a dead stream has said so already)."""
        self._lost_at = self.clock()
        host, port = self._endpoint
        self.link.set_status(state=LinkState.RECONNECTING, server_version=0)
        if self._dropped is None:
            log.warning("the connection to TWS at %s:%d dropped; reconnecting", host, port)
            self.link.post(notices.connection_lost(host, port, self._lost_at, self.clock()))

    def _post_client_id_fallback(self) -> None:
        self.link.post(notices.client_id_fallback(self.client_id, self.clock()))

    # ---- health and the data-silence watchdog --------------------------------------------------

    async def _health_loop(self) -> None:
        """Round trip every few seconds, and at once when the stream falls silent; the
        outgoing message rate and the log summaries every second."""
        self._sent_mark = (time.monotonic(), int(self.ib.client.conn.numMsgSent))
        tick = min(0.25, self.settings.silence_after / 4)
        last_rtt = last_meter = -math.inf
        while True:
            now = time.monotonic()
            silent = now - self.inbound.last_frame >= self.settings.silence_after
            if (silent or now - last_rtt >= HEALTH_INTERVAL) and (
                self._rtt is None or self._rtt.done()
            ):
                last_rtt = now
                self._rtt = asyncio.ensure_future(self._probe())
            if now - last_meter >= 1.0:
                last_meter = now
                self.link.set_meters(msgs_per_s=self._message_rate())
                LOG_FLOOD_GUARD.flush()
            await asyncio.sleep(tick)

    async def _probe(self) -> None:
        """Ask TWS for the time: the round trip, and whether the stream is alive at all."""
        frames = self.inbound.frames
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.settings.answer_within)
            rtt = (time.perf_counter() - started) * 1000
        except TimeoutError:
            await asyncio.sleep(GRACE)
            if self.inbound.frames == frames and self.ib.isConnected():
                silent = time.monotonic() - self.inbound.last_frame
                notice = notices.data_silence(silent, self.settings.answer_within, self.clock())
                self._drop(notice, garbled=False)
                return
            rtt = math.inf
        except ConnectionError:
            rtt = math.inf
        if self.ib.isConnected():
            self.link.set_meters(rtt_ms=rtt)

    def _on_garbled(self, length: int) -> None:
        if self.ib.isConnected():
            self._drop(notices.garbled_stream(length, self.clock()), garbled=True)

    def _drop(self, notice: Notice, garbled: bool) -> None:
        """Drop a connection that delivers nothing usable; the connect loop reconnects."""
        if self._stopping or self._down.is_set():
            return
        log.warning("%s", notice.text)
        self.link.set_status(state=LinkState.RECONNECTING, server_version=0)  # lights grey now
        self.link.post(notice)
        self._dropped = (garbled, notice.time)
        self.inbound.reset()
        self.ib.disconnect()
        self._down.set()

    def _message_rate(self) -> float:
        """Messages sent per second since the last sample."""
        now = time.monotonic()
        sent = int(self.ib.client.conn.numMsgSent)
        then, before = self._sent_mark
        self._sent_mark = (now, sent)
        return (sent - before) / (now - then) if now > then else 0.0

    # ---- library events -------------------------------------------------------------------------

    def _on_error(self, req_id: int, code: int, text: str, *_: Any) -> None:
        text = translate.text(text)  # a megabyte of error text must reach no banner or table
        farm = FARM_CODES.get(code)
        if farm is not None:
            self.link.set_farm(*farm)
        notice = notice_for(code, text, self.clock())
        if notice is not None:
            self.link.post(notice)
        self.codes.record(req_id, code, text)
        self.error.emit(req_id, code, text)

    def _on_disconnected(self) -> None:
        self._down.set()
