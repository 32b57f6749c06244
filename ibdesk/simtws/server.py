"""The simulated TWS: listening socket, client registry, and routing of order events.

One asyncio loop runs everything: the sockets, the market clock and the engine. Nothing here
blocks, so a slow client slows only itself (its market data is conflated, see session.py), a
client that does not read at all is dropped, and a client that floods the server with
requests or bad input costs it bounded time, memory and log (see session.py, throttle.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ibdesk.simtws import accounts_feed as feed
from ibdesk.simtws import outbound as out
from ibdesk.simtws import streams
from ibdesk.simtws.account import Account
from ibdesk.simtws.catalog import Catalog
from ibdesk.simtws.config import SimConfig
from ibdesk.simtws.engine import Engine
from ibdesk.simtws.faults import Faults
from ibdesk.simtws.handlers import HANDLERS
from ibdesk.simtws.history import HistoryService, Tape
from ibdesk.simtws.inbound import InboundLog, InboundRecord
from ibdesk.simtws.market import Market
from ibdesk.simtws.order_codec import WhatIfState, encode_open_order, order_status_fields
from ibdesk.simtws.orders import Execution, SimOrder
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import BarsSub, ClientSession, MarketSub
from ibdesk.simtws.throttle import LogThrottle, clip, show

log = logging.getLogger("ibdesk.simtws")

FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


__all__ = ["InboundRecord", "SimServer", "Watchers"]


@dataclass(slots=True)
class Watchers:
    """Streaming subscriptions indexed for the market clock.

    Attributes:
        market: conId -> (session, reqMktData subscription) for everyone watching it
        tick_by_tick: conId -> (session, reqId, tick type)
        keepers: every keepUpToDate history request
    """

    market: dict[int, list[tuple[ClientSession, MarketSub]]] = field(default_factory=dict)
    tick_by_tick: dict[int, list[tuple[ClientSession, int, str]]] = field(default_factory=dict)
    keepers: list[tuple[ClientSession, BarsSub]] = field(default_factory=list)


class SimServer:
    """A TWS that speaks the real wire protocol to unmodified ib_async / ib_insync clients."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.started_at = clock()
        self.catalog = Catalog.build(dt.date.fromtimestamp(self.started_at))
        self.market = Market(self.catalog, config.seed, paused=config.start_paused)
        self.accounts = {code: Account(code, cash=config.starting_cash) for code in config.accounts}
        self.engine = Engine(self.catalog, self.market, self.accounts, self, clock, config.engine)
        self._seed_positions()
        self.tape = Tape(self.started_at)
        self.history = HistoryService(self.market, self.tape, config.seed)
        self.sessions: set[ClientSession] = set()
        self.by_client: dict[int, ClientSession] = {}
        self._watchers = Watchers()
        self._watchers_stale = False
        self.inbound = InboundLog(max_bytes=config.inbound_log_bytes)
        # Log lines any client can provoke at will go through these (see throttle.py).
        self.noisy = LogThrottle(log)
        self.noisy_drops = LogThrottle(log, burst=50)
        self.inbound_hooks: list[Callable[[InboundRecord], None]] = []
        self.hist_requests: deque[tuple[float, tuple[object, ...], int]] = deque()
        self.data_down = False
        self.competing = False
        #: display group id -> the contract shown in it (``conId@exchange``)
        self.display_groups: dict[int, str] = {}
        #: news bulletins sent so far: (msgId, type, text, exchange)
        self.bulletins: list[tuple[int, int, str, str]] = []
        self.id_rollback = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.faults: Faults
        self._listener: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self.port = config.port

    def _seed_positions(self) -> None:
        """Open the configured starting positions at the starting prices."""
        if not self.config.positions:
            return
        account = self.accounts[self.config.accounts[0]]
        for symbol, qty in self.config.positions:
            inst = self.catalog.find(symbol)
            account.apply_fill(inst, qty, self.market.reference_price(inst))
            self.market.quote(inst.con_id)
        account.new_day(self.engine.marks())

    # ---- life cycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen and start the market clock; returns the bound port."""
        self.loop = asyncio.get_running_loop()
        self.faults = Faults(self.loop)
        await self._listen()
        self._ticker = self.loop.create_task(streams.run_clock(self), name="simtws-clock")
        log.info(
            "simulated TWS listening on %s:%d (server version %d, accounts %s)",
            self.config.host,
            self.port,
            self.config.max_version,
            ",".join(self.config.accounts),
        )
        return self.port

    async def _listen(self) -> None:
        assert self.loop is not None
        self._listener = await self.loop.create_server(
            lambda: ClientSession(self), self.config.host, self.port
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and stop the clock."""
        for task in (self._ticker, self._restarting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._close_listener("the simulator is stopping")

    async def _close_listener(self, reason: str) -> None:
        """Stop accepting, drop every client, then wait for the listener to close.

        The order matters: since Python 3.12 ``wait_closed`` also waits for every accepted
        connection, so it must come after the clients are dropped.
        """
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self.drop_clients(reason)
        if listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), 5)

    def drop_clients(self, reason: str = "dropped by the control interface") -> int:
        """Close every client socket at once (the connection-loss fault)."""
        victims = list(self.sessions)
        for s in victims:
            s.kill(reason)
        return len(victims)

    def restart(
        self, down_seconds: float, roll_back_ids: int = 0, keep_orders: bool = True
    ) -> None:
        """Like a TWS restart: drop everyone, refuse connections, come back.

        Args:
            down_seconds: how long the port stays closed.
            roll_back_ids: make nextValidId this much lower after the restart, as gateways
                have been seen to do; a client that trusts it will reuse order ids.
            keep_orders: False comes back without the working orders (all cancelled while
                the port was closed, nobody told): positions and executions stay, as they
                do at the broker. A client learns it only from its resync.
        """
        assert self.loop is not None
        if self._restarting is not None and not self._restarting.done():
            raise RuntimeError("a restart is already under way")
        self._restarting = self.loop.create_task(
            self._restart(down_seconds, roll_back_ids, keep_orders)
        )

    async def _restart(self, down_seconds: float, roll_back_ids: int, keep_orders: bool) -> None:
        log.warning("restarting: port %d closed for %.1f s", self.port, down_seconds)
        await self._close_listener("the simulator is restarting")
        if not keep_orders:
            log.warning("restarting without state: %d orders cancelled", self.engine.cancel_all())
        await asyncio.sleep(down_seconds)
        self.id_rollback = roll_back_ids
        self.data_down = False
        await self._listen()
        log.warning("restart done: listening again on %d", self.port)

    @property
    def restarting(self) -> bool:
        """Whether the port is closed for a restart."""
        return self._restarting is not None and not self._restarting.done()

    # ---- sessions -----------------------------------------------------------------------------

    def on_connect(self, session: ClientSession) -> None:
        """A socket was accepted."""
        self.sessions.add(session)
        log.info("connection from %s", session.peer)

    def on_disconnect(self, session: ClientSession) -> None:
        """A socket closed (either side)."""
        self.sessions.discard(session)
        if session.client_id is not None and self.by_client.get(session.client_id) is session:
            del self.by_client[session.client_id]
            log.info("client %d disconnected", session.client_id)
        self.faults.forget(session)
        self.rebuild_watchers()

    def start_api(self, session: ClientSession, client_id: int) -> None:
        """startApi: register the client id, or refuse a duplicate with 326 as TWS does."""
        if client_id in self.by_client or client_id < 0:
            session.send(
                out.error(
                    -1,
                    326,
                    "Unable to connect as the client id is already in "
                    "use. Retry with a unique client id.",
                    session.version,
                )
            )
            session.kill(f"client id {client_id} already in use")
            return
        session.client_id = client_id
        session.started = True
        self.by_client[client_id] = session
        session.send(out.managed_accounts(list(self.config.accounts)))
        session.send(out.next_valid_id(self.next_valid_id(client_id)))
        for code, text in FARM_NOTICES:
            session.send(out.error(-1, code, text, session.version))
        log.info("client %d started the API (version %d)", client_id, session.version)

    def next_valid_id(self, client_id: int) -> int:
        """nextValidId for a client, lowered by an injected rollback."""
        return max(1, self.engine.next_valid_id(client_id) - self.id_rollback)

    def dispatch(self, session: ClientSession, fields: list[str]) -> None:
        """Handle one request; a bad one gets an error and never disturbs anyone else."""
        try:
            req = Request(fields)
        except RequestError as exc:
            self.noisy.warning("%s: unreadable request: %s", session.describe(), exc)
            session.send(out.error(-1, 320, f"Error reading request: {exc}", session.version))
            return
        record = InboundRecord(
            time.perf_counter(), self.clock(), session.client_id, req.msg_id, tuple(fields)
        )
        self.inbound.append(record)
        for hook in self.inbound_hooks:
            hook(record)
        if not self._within_rate(session):
            session.send(
                out.error(
                    -1,
                    100,
                    "Max rate of messages per second has been "
                    f"exceeded:max={self.config.max_msg_rate}",
                    session.version,
                )
            )
        if not session.started and req.msg_id != 71:
            self.noisy.warning("%s sent message %d before startApi", session.describe(), req.msg_id)
            return
        handler = HANDLERS.get(req.msg_id)
        if handler is None:
            self.noisy.warning("%s sent unknown message id %d", session.describe(), req.msg_id)
            session.send(
                out.error(
                    -1,
                    320,
                    f"Error reading request: unknown message id {req.msg_id}",
                    session.version,
                )
            )
            return
        try:
            handler(self, session, req)
        except RequestError as exc:
            self.noisy.warning(
                "%s: bad request %s: %s", session.describe(), show(fields[:3]), clip(str(exc))
            )
            session.send(
                out.error(req.req_id(), 320, f"Error reading request: {exc}", session.version)
            )
        except Exception:
            self.noisy.exception("%s: request %s failed", session.describe(), show(fields[:3]))
            session.send(
                out.error(
                    req.req_id(), 320, "Error reading request: internal error", session.version
                )
            )

    def _within_rate(self, session: ClientSession) -> bool:
        limit = self.config.max_msg_rate
        if not limit:
            return True
        now = time.monotonic()
        times = session.msg_times
        times.append(now)
        while times and now - times[0] > 1.0:
            times.popleft()
        return len(times) <= limit

    def rebuild_watchers(self) -> None:
        """Note that subscriptions changed; the index is rebuilt when next needed.

        Lazily, so that thousands of subscribe requests in a row cost one rebuild, not one
        each (each rebuild walks every subscription of every client).
        """
        self._watchers_stale = True

    def watchers(self) -> Watchers:
        """Streaming subscriptions by instrument, rebuilt if anything changed since."""
        if self._watchers_stale:
            fresh = Watchers()
            for s in self.sessions:
                for sub in s.subs.market.values():
                    fresh.market.setdefault(sub.inst.con_id, []).append((s, sub))
                for req_id, (inst, kind) in s.subs.tick_by_tick.items():
                    fresh.tick_by_tick.setdefault(inst.con_id, []).append((s, req_id, kind))
                fresh.keepers.extend((s, b) for b in s.subs.keep_up_to_date.values())
            self._watchers = fresh
            self._watchers_stale = False
        return self._watchers

    def market_lines_used(self) -> int:
        """Streaming market-data lines held by every client together."""
        return sum(len(s.subs.market) for s in self.sessions)

    def tick_by_tick_used(self) -> int:
        """Tick-by-tick subscriptions held by every client together."""
        return sum(len(s.subs.tick_by_tick) for s in self.sessions)

    def queued_bytes(self) -> int:
        """Bytes queued for every connected client together (see ClientSession)."""
        return sum(s.queued_bytes for s in self.sessions)

    def send_market_snapshot(self, session: ClientSession, sub: MarketSub) -> None:
        """Send a subscription's current values (on subscribe, and after conflation)."""
        streams.send_snapshot(self, session, sub)

    # ---- order events (EngineListener) ----------------------------------------------------------

    def audience(self, o: SimOrder) -> list[ClientSession]:
        """Who hears about an order: its client, the master client, client 0 for bound
        manual orders."""
        master = self.config.master_client_id
        out_: list[ClientSession] = []
        for cid, s in self.by_client.items():
            if (
                cid == master
                or (not o.manual and cid == o.client_id)
                or (o.manual and cid == 0 and o.order_id != 0)
            ):
                out_.append(s)
        return out_

    def order_changed(self, order: SimOrder) -> None:
        """openOrder + orderStatus to everyone who should hear."""
        for s in self.audience(order):
            s.send(encode_open_order(order, s.version, order.order_id))
            s.send(order_status_fields(order, order.order_id))

    def order_filled(self, order: SimOrder, execution: Execution) -> None:
        """execDetails, orderStatus, openOrder, commissionReport; then positions and account."""
        for s in self.audience(order):
            s.send(out.exec_details(-1, execution, order.order_id))
            s.send(order_status_fields(order, order.order_id))
            s.send(encode_open_order(order, s.version, order.order_id))
            s.send(out.commission_report(execution))
        feed.position_changed(self, order.account, order.inst.con_id)

    def order_error(self, client_id: int, order_id: int, code: int, message: str) -> None:
        """An error about an order goes to the client that placed it."""
        s = self.by_client.get(client_id)
        if s is not None and not (client_id == 0 and order_id == 0):
            s.send(out.error(order_id, code, message, s.version))

    def what_if(self, client_id: int, order: SimOrder, state: WhatIfState) -> None:
        """A what-if answer: one openOrder with the margin figures, no orderStatus."""
        s = self.by_client.get(client_id)
        if s is not None:
            s.send(encode_open_order(order, s.version, order.order_id, what_if=state))

    # ---- system errors ------------------------------------------------------------------------

    def broadcast_error(
        self, code: int, text: str, req_id: int = -1, client_id: int | None = None
    ) -> int:
        """Send an error to every started client (or one), as TWS does for system notices."""
        targets = [s for cid, s in self.by_client.items() if client_id in (None, cid)]
        for s in targets:
            s.send(out.error(req_id, code, text, s.version))
        return len(targets)
