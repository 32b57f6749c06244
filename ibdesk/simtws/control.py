"""The control interface: fault injection, market moves, manual orders, state read-back.

:class:`SimControl` is the Python API (call it on the simulator's loop, or through
``SimThread.control`` from any thread). :class:`ControlServer` exposes the same methods as a
JSON-lines TCP port on loopback: send ``{"op": "set_price", "args": {"symbol": "ES",
"price": 6810.25}, "id": 1}`` and read ``{"id": 1, "ok": true, "result": 6810.25}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
from typing import Any

from ibdesk.simtws import streams
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.orders import SimOrder
from ibdesk.simtws.server import SimServer

log = logging.getLogger("ibdesk.simtws.control")

ERROR_TEXTS = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2110: "Connectivity between Trader Workstation and server is broken. It will be restored "
    "automatically.",
    2157: "Sec-def data farm connection is broken:secdefnj",
    2158: "Sec-def data farm connection is OK:secdefnj",
    10197: "No market data during competing live session",
    354: "Requested market data is not subscribed.",
}
DATA_STOPS = {1100, 2103, 2110}
DATA_RESUMES = {1102, 2104}


def order_view(o: SimOrder) -> dict[str, Any]:
    """An order as plain data."""
    return {
        "perm_id": o.perm_id,
        "client_id": o.client_id,
        "order_id": o.order_id,
        "con_id": o.inst.con_id,
        "symbol": o.inst.symbol,
        "local_symbol": o.inst.local_symbol,
        "action": o.action,
        "total_qty": o.total_qty,
        "order_type": o.order_type,
        "lmt_price": o.lmt_price,
        "aux_price": o.aux_price,
        "tif": o.tif,
        "status": o.status.value,
        "filled": o.filled,
        "remaining": o.remaining,
        "avg_fill_price": o.avg_fill_price,
        "parent_perm_id": o.parent.perm_id if o.parent else 0,
        "parent_id": o.parent_id,
        "oca_group": o.oca_group,
        "oca_type": o.oca_type,
        "order_ref": o.order_ref,
        "transmit": o.transmit,
        "account": o.account,
        "manual": o.manual,
        "trail_stop_price": o.trail_stop_price,
        "outside_rth": o.outside_rth,
        "created": o.created,
    }


class SimControl:
    """Operations on a running :class:`SimServer` (call on its event loop)."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    # ---- lookup ---------------------------------------------------------------------------

    def instrument(self, symbol: str | int) -> Instrument:
        """An instrument by conId, local symbol (``ESZ6``), root (``ES``: the front month),
        stock symbol or ``EUR.USD``."""
        return self.server.catalog.find(symbol)

    def chain(self, root: str) -> list[str]:
        """Local symbols of every listed expiry of a futures root, nearest first."""
        return [
            i.local_symbol
            for i in sorted(self.server.catalog.instruments.values(), key=lambda i: i.expiry)
            if i.sec_type == "FUT" and i.symbol == root.upper()
        ]

    def stocks(self) -> list[str]:
        """Every stock symbol the simulator lists, and EUR.USD."""
        cat = self.server.catalog.instruments.values()
        return sorted(i.symbol for i in cat if i.sec_type == "STK") + [
            i.local_symbol for i in cat if i.sec_type == "CASH"
        ]

    # ---- faults ---------------------------------------------------------------------------

    def inject_error(
        self, code: int, text: str | None = None, req_id: int = -1, client_id: int | None = None
    ) -> int:
        """Send an error code with TWS's meaning attached: 1100/2103/2110 stop market data,
        1101 drops every market-data subscription (clients must resubscribe), 1102/2104
        resume it, 10197 reports a competing live session on every market-data request."""
        server = self.server
        message = text or ERROR_TEXTS.get(code, f"Simulated error {code}")
        if code == 10197:
            return self.competing_session(True)
        if code in DATA_STOPS:
            server.data_down = True
        if code == 1101:
            for s in server.sessions:
                s.subs.market.clear()
                s.subs.tick_by_tick.clear()
                s.subs.keep_up_to_date.clear()
                s.subs.realtime_bars.clear()
                s.subs.account_updates = None
            server.rebuild_watchers()
            server.data_down = False
        if code in DATA_RESUMES:
            server.data_down = False
        return server.broadcast_error(code, message, req_id, client_id)

    def competing_session(self, on: bool) -> int:
        """Start or end a competing live session (10197 on every market-data request)."""
        server = self.server
        server.competing = on
        if not on:
            return 0
        count = 0
        for s in server.sessions:
            for req_id in s.subs.market:
                server.broadcast_error(10197, ERROR_TEXTS[10197], req_id, s.client_id)
                count += 1
        return count

    def news_bulletin(self, text: str, kind: int = 1, exchange: str = "") -> int:
        """Send an IB news bulletin (kind 1 regular, 2 exchange unavailable, 3 available
        again) to every client subscribed with reqNewsBulletins; returns how many."""
        from ibdesk.simtws import outbound_reference as ref

        server = self.server
        msg_id = len(server.bulletins) + 1
        server.bulletins.append((msg_id, kind, text, exchange))
        targets = [s for s in server.by_client.values() if s.subs.bulletins]
        for s in targets:
            s.send(ref.news_bulletin(msg_id, kind, text, exchange))
        return len(targets)

    def drop_clients(self) -> int:
        """Close every client socket."""
        return self.server.drop_clients()

    def restart(
        self, down_seconds: float = 2.0, roll_back_ids: int = 0, keep_orders: bool = True
    ) -> None:
        """Drop everyone, refuse connections for ``down_seconds``, come back with state (or,
        with ``keep_orders=False``, with every working order cancelled while down)."""
        self.server.restart(down_seconds, roll_back_ids, keep_orders)

    def stall(self, ms: float) -> None:
        """Hold every outgoing byte for ``ms`` milliseconds."""
        self.server.faults.stall(ms)

    def slice_frames(self, size: int) -> None:
        """Send outgoing bytes in pieces of ``size`` (0 turns slicing off)."""
        if size < 0:
            raise ValueError("slice size must be >= 0")
        self.server.faults.slice_bytes = size

    def corrupt_frames(self, count: int = 1, mode: str = "field") -> None:
        """Corrupt the next ``count`` frames: ``field`` garbles the message id, ``length``
        breaks the framing of the stream."""
        if mode == "field":
            self.server.faults.corrupt_fields += count
        elif mode == "length":
            self.server.faults.corrupt_length += count
        else:
            raise ValueError(f"mode must be 'field' or 'length', not {mode!r}")

    def latency(self, ms: float, jitter_ms: float = 0.0, seed: int = 0) -> None:
        """Delay every outgoing frame by ``ms`` plus up to ``jitter_ms`` (seeded, uniform);
        the order of frames is kept. ``latency(0)`` turns it off."""
        if ms < 0 or jitter_ms < 0:
            raise ValueError("latency and jitter must be >= 0")
        faults = self.server.faults
        faults.latency_ms, faults.jitter_ms = ms, jitter_ms
        faults.rng.seed(seed)

    def duplicate_reports(self, count: int = 1) -> None:
        """Send each of the next ``count`` orderStatus/execDetails messages twice."""
        self.server.faults.duplicate_reports += max(0, count)

    def late_reports(self, count: int = 1, ms: float = 200.0) -> None:
        """Hold each of the next ``count`` orderStatus/execDetails messages ``ms`` while the
        messages after it go ahead (out of order, as IB's reports can arrive)."""
        faults = self.server.faults
        faults.late_reports += max(0, count)
        faults.late_ms = ms

    def partial_fills(self, on: bool = True) -> None:
        """Fill at most the size shown at the touch (orders fill in pieces)."""
        self.server.engine.config.partial_fills = on

    def reject_orders(self, count: int = 1) -> None:
        """Refuse the next ``count`` new orders (bracket groups count once) with error 201."""
        self.server.engine.rejects_pending += max(0, count)

    def clear_faults(self) -> None:
        """Stop stalls, slicing and corruption; market data flows again."""
        self.server.faults.clear()
        self.server.engine.rejects_pending = 0
        self.server.data_down = False
        self.server.competing = False

    # ---- market ---------------------------------------------------------------------------

    def set_price(self, symbol: str | int, price: float) -> float:
        """Move an instrument (and its family) so it trades at ``price``; returns the price
        actually set (on the tick grid)."""
        inst = self.instrument(symbol)
        now = self.server.clock()
        changes = self.server.market.set_price(inst, inst.round_to_tick(price), now)
        streams.publish(self.server, changes, now)
        return self.server.market.quote(inst.con_id).last

    def jump_price(self, symbol: str | int, ticks: int) -> float:
        """Move an instrument by a whole number of its ticks."""
        inst = self.instrument(symbol)
        current = self.server.market.quote(inst.con_id).last
        return self.set_price(inst.con_id, current + ticks * inst.min_tick)

    def quote(self, symbol: str | int) -> dict[str, float]:
        """The instrument's current quote."""
        q = self.server.market.quote(self.instrument(symbol).con_id)
        return {f.name: getattr(q, f.name) for f in dataclasses.fields(q)}

    def pause_market(self) -> None:
        """Stop the market clock (step() still moves it)."""
        self.server.market.paused = True

    def resume_market(self) -> None:
        """Restart the market clock."""
        self.server.market.paused = False

    def step(self, steps: int = 1) -> None:
        """Advance the market by hand."""
        streams.advance(self.server, steps, self.server.clock())

    def set_rate(self, tick_interval: float, steps_per_tick: int = 1) -> None:
        """Change the market update cadence (seconds between updates, steps per update)."""
        if tick_interval <= 0 or steps_per_tick < 1:
            raise ValueError("tick_interval must be > 0 and steps_per_tick >= 1")
        self.server.config.tick_interval = tick_interval
        self.server.config.steps_per_tick = steps_per_tick

    def new_day(self) -> None:
        """Start a new trading day: DAY orders expire, daily P&L starts from zero."""
        self.server.engine.expire_day_orders()
        marks = self.server.engine.marks()
        for acct in self.server.accounts.values():
            acct.new_day(marks)

    # ---- orders ---------------------------------------------------------------------------

    def enter_manual_order(
        self,
        symbol: str | int,
        action: str,
        qty: float,
        order_type: str = "LMT",
        price: float | None = None,
        stop: float | None = None,
        tif: str = "DAY",
        account: str | None = None,
    ) -> dict[str, Any]:
        """An order as if typed into the TWS screen (client 0; bound to client 0 when it is
        connected with reqAutoOpenOrders)."""
        server = self.server
        s0 = server.by_client.get(0)
        order = server.engine.enter_manual(
            account or server.config.accounts[0],
            self.instrument(symbol),
            action.upper(),
            qty,
            order_type.upper(),
            price,
            stop,
            tif.upper(),
            bind_to_client0=s0 is not None and s0.auto_open_orders,
        )
        return order_view(order)

    def fill_order(
        self, perm_id: int, qty: float | None = None, price: float | None = None
    ) -> dict[str, Any]:
        """Fill a working order now (all or ``qty``), at ``price`` or its limit/the touch."""
        order = self.server.engine.orders[perm_id]
        if order.status.done:
            raise ValueError(f"order {perm_id} is {order.status.value}")
        quote = self.server.market.quote(order.inst.con_id)
        at = price or order.lmt_price or (quote.ask if order.sign > 0 else quote.bid)
        self.server.engine.fill(order, qty or order.fillable, at)
        return order_view(order)

    def run_closing_auction(self, symbol: str | int | None = None) -> int:
        """Hold the closing auction now: every MOC/LOC order (of one instrument, or all)
        trades at the current price, or expires (a LOC out of its limit). Returns how many
        orders took part. Without this, they wait for the instrument's regular close."""
        con_id = self.instrument(symbol).con_id if symbol is not None else None
        return self.server.engine.run_closing_auction(con_id)

    # ---- state ----------------------------------------------------------------------------

    def orders(self, open_only: bool = False) -> list[dict[str, Any]]:
        """Every order (or every open one)."""
        engine = self.server.engine
        source = engine.open_orders() if open_only else list(engine.orders.values())
        return [order_view(o) for o in source]

    def positions(self) -> list[dict[str, Any]]:
        """Every non-zero position."""
        rows = []
        for code, acct in self.server.accounts.items():
            for pos in acct.positions.values():
                if pos.qty:
                    rows.append(
                        {
                            "account": code,
                            "con_id": pos.inst.con_id,
                            "symbol": pos.inst.symbol,
                            "local_symbol": pos.inst.local_symbol,
                            "qty": pos.qty,
                            "avg_cost": pos.avg_cost,
                            "realized": pos.realized,
                        }
                    )
        return rows

    def executions(self) -> list[dict[str, Any]]:
        """Every execution."""
        return [
            {
                "exec_id": e.exec_id,
                "time": e.time,
                "account": e.account,
                "con_id": e.inst.con_id,
                "symbol": e.inst.symbol,
                "side": e.side,
                "shares": e.shares,
                "price": e.price,
                "perm_id": e.perm_id,
                "client_id": e.client_id,
                "order_id": e.order_id,
                "order_ref": e.order_ref,
                "commission": e.commission,
                "realized_pnl": e.realized_pnl,
            }
            for e in self.server.engine.executions
        ]

    def account(self, code: str | None = None) -> dict[str, float]:
        """Account values (net liquidation, margins, P&L …)."""
        acct = self.server.accounts[code or self.server.config.accounts[0]]
        return acct.summary(self.server.engine.marks())

    def clients(self) -> list[dict[str, Any]]:
        """Connected clients, with what each holds: subscriptions, bytes queued for it (not
        yet taken by its socket), and requests received but not yet handled."""
        return [
            {
                "client_id": s.client_id,
                "peer": s.peer,
                "version": s.version,
                "market_lines": len(s.subs.market),
                "tick_by_tick": len(s.subs.tick_by_tick),
                "queued_bytes": s.queued_bytes,
                "pending_requests": len(s.inbox),
            }
            for s in self.server.sessions
        ]

    def received(
        self, since: float = 0.0, msg_id: int | None = None, client_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Messages clients sent (read at ``time.perf_counter()`` >= ``since``), oldest
        first. ``monotonic`` is that perf_counter reading: on Linux it is CLOCK_MONOTONIC,
        comparable across processes; elsewhere compare it with this process's clock only."""
        return [
            {
                "monotonic": r.monotonic,
                "wall": r.wall,
                "client_id": r.client_id,
                "msg_id": r.msg_id,
                "fields": list(r.fields),
            }
            for r in self.server.inbound
            if r.monotonic >= since
            and (msg_id is None or r.msg_id == msg_id)
            and (client_id is None or r.client_id == client_id)
        ]

    def status(self) -> dict[str, Any]:
        """Where the simulator listens and what state it is in."""
        server = self.server
        return {
            "port": server.port,
            "clients": len(server.by_client),
            "restarting": server.restarting,
            "data_down": server.data_down,
            "paused": server.market.paused,
            "steps": server.market.steps,
            "accounts": list(server.config.accounts),
            "queued_bytes": server.queued_bytes(),
            "market_lines": server.market_lines_used(),
            "tick_by_tick": server.tick_by_tick_used(),
            "inbound_log_bytes": server.inbound.bytes,
        }


def public_ops(control: SimControl) -> dict[str, Any]:
    """The operations the JSON-lines port offers: every public method of SimControl."""
    return {
        name: fn
        for name, fn in inspect.getmembers(control, inspect.ismethod)
        if not name.startswith("_")
    }


class ControlServer:
    """The control interface as JSON lines on 127.0.0.1 (never on other interfaces)."""

    def __init__(self, control: SimControl) -> None:
        self.ops = public_ops(control)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self, port: int) -> int:
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._session, "127.0.0.1", port, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and end every session cleanly (closed, not cancelled)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._sessions.values()):
            writer.close()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = writer
        try:
            while line := await reader.readline():
                writer.write((json.dumps(_handle(self.ops, line), default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _handle(ops: dict[str, Any], line: bytes) -> dict[str, Any]:
    ident = None
    try:
        msg = json.loads(line)
        if not isinstance(msg, dict):
            raise ValueError("a request is a JSON object")
        ident = msg.get("id")
        op = msg.get("op")
        if op not in ops:
            raise ValueError(f"unknown op {op!r}; known: {', '.join(sorted(ops))}")
        args = msg.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError("args must be an object")
        return {"id": ident, "ok": True, "result": ops[op](**args)}
    except Exception as exc:
        log.warning("control request failed: %s", exc)
        return {"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
