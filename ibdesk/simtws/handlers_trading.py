"""Request handlers for orders, executions, positions, accounts and P&L."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import streams
from ibdesk.simtws.history import HistoryRequestError, parse_end
from ibdesk.simtws.order_codec import (
    OrderParseError,
    encode_completed_order,
    encode_open_order,
    order_status_fields,
    parse_place_order,
)
from ibdesk.simtws.orders import SimOrder, Status
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

Handler = Callable[["SimServer", ClientSession, Request], None]
TRADING_HANDLERS: dict[int, Handler] = {}


def handles(msg_id: int) -> Callable[[Handler], Handler]:
    """Register a handler for one request message id."""

    def register(fn: Handler) -> Handler:
        TRADING_HANDLERS[msg_id] = fn
        return fn

    return register


def account_of(server: SimServer, s: ClientSession, code: str, req_id: int) -> str | None:
    """The account a request names (empty: the first), or error 321 for an unknown one."""
    code = code.strip() or server.config.accounts[0]
    if code in server.accounts:
        return code
    s.send(
        out.error(
            req_id,
            321,
            f"Error validating request: account {code!r} is not managed by this TWS",
            s.version,
        )
    )
    return None


# ---- orders ---------------------------------------------------------------------------------


@handles(3)
def place_order(server: SimServer, s: ClientSession, req: Request) -> None:
    """placeOrder: new order, modify, or what-if."""
    assert s.client_id is not None
    try:
        placed = parse_place_order(req.fields, s.version)
    except OrderParseError as exc:
        s.send(
            out.error(
                req.integer(1, -1), 320, f"Error reading request: placeOrder: {exc}", s.version
            )
        )
        return
    server.engine.place(s.client_id, placed, server.config.accounts[0])


@handles(4)
def cancel_order(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelOrder: ``4, 1, orderId[, manualCancelOrderTime]``."""
    assert s.client_id is not None
    server.engine.cancel(s.client_id, req.integer(2))


@handles(58)
def req_global_cancel(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqGlobalCancel: every open order of every client and of the TWS screen."""
    server.engine.cancel_all()


def _send_open(s: ClientSession, orders: list[SimOrder]) -> None:
    for o in orders:
        if o.status is Status.HELD:
            continue
        s.send(encode_open_order(o, s.version, o.order_id))
        s.send(order_status_fields(o, o.order_id))
    s.send(out.open_order_end())


@handles(5)
def req_open_orders(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqOpenOrders: this client's orders; client 0 also binds and gets TWS-screen orders;
    the master client gets everyone's."""
    cid = s.client_id
    master = server.config.master_client_id
    if cid == 0:
        for o in server.engine.open_orders():
            server.engine.bind_manual(o)
    mine = [
        o
        for o in server.engine.open_orders()
        if cid == master or (not o.manual and o.client_id == cid) or (o.manual and cid == 0)
    ]
    _send_open(s, mine)


@handles(16)
def req_all_open_orders(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAllOpenOrders: every open order in the account, whoever placed it."""
    _send_open(s, server.engine.open_orders())


@handles(15)
def req_auto_open_orders(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAutoOpenOrders: only client 0 may bind orders typed into TWS."""
    if s.client_id != 0:
        s.send(
            out.error(
                -1,
                321,
                "Error validating request: reqAutoOpenOrders is only valid for client id 0",
                s.version,
            )
        )
        return
    s.auto_open_orders = req.flag(2)


@handles(99)
def req_completed_orders(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqCompletedOrders: every done order today (API orders only if asked)."""
    api_only = req.flag(1)
    for o in server.engine.completed_orders():
        if api_only and o.manual:
            continue
        stamp = out.ib_time(o.completed_time or o.created)
        s.send(encode_completed_order(o, s.version, stamp))
    s.send(out.completed_orders_end())


@handles(7)
def req_executions(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqExecutions with IB's filter (clientId 0 means every client)."""
    req_id = req.integer(2)
    client, account, since = req.integer(3), req.text(4), req.text(5)
    symbol, sec_type, exchange, side = (req.text(i).upper() for i in (6, 7, 8, 9))
    try:
        after = parse_end(since, 0.0) if since.strip() else 0.0
    except HistoryRequestError as exc:
        raise RequestError(f"execution filter time {since!r}: {exc}") from exc
    for e in server.engine.executions:
        if (
            (client and e.client_id != client)
            or (account and e.account != account)
            or (symbol and e.inst.symbol != symbol)
            or (sec_type and e.inst.sec_type != sec_type)
            or (exchange and exchange not in (e.inst.exchange, e.inst.primary_exchange))
            or (side and side[0] != e.side[0])
            or e.time < after
        ):
            continue
        s.send(out.exec_details(req_id, e, e.order_id))
        s.send(out.commission_report(e))
    s.send(out.exec_details_end(req_id))


# ---- positions and accounts -------------------------------------------------------------------


@handles(61)
def req_positions(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqPositions: every position of every account, then positionEnd; changes follow."""
    s.subs.positions = True
    for code, acct in server.accounts.items():
        for pos in acct.positions.values():
            if pos.qty:
                s.send(out.position(code, pos))
    s.send(out.position_end())


@handles(64)
def cancel_positions(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelPositions."""
    s.subs.positions = False


@handles(6)
def req_account_updates(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAccountUpdates: values, portfolio, time, accountDownloadEnd; then updates."""
    subscribe = req.flag(2)
    account = account_of(server, s, req.text(3), -1)
    if account is None:
        return
    if not subscribe:
        s.subs.account_updates = None
        return
    s.subs.account_updates = account
    streams.send_account_updates(server, s, account)
    s.send(out.account_download_end(account))


@handles(76)
def req_account_updates_multi(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAccountUpdatesMulti: ``76, 1, reqId, account, modelCode, ledgerAndNLV``."""
    req_id = req.integer(2)
    account = account_of(server, s, req.text(3), req_id)
    if account is None:
        return
    s.subs.account_multi[req_id] = account
    streams.send_account_multi(server, s, req_id, account)
    s.send(out.account_update_multi_end(req_id))


@handles(77)
def cancel_account_updates_multi(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelAccountUpdatesMulti."""
    s.subs.account_multi.pop(req.integer(2), None)


@handles(62)
def req_account_summary(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAccountSummary: ``62, 1, reqId, group, tags``."""
    req_id = req.integer(2)
    tags = tuple(t.strip() for t in req.text(4).split(",") if t.strip())
    s.subs.account_summary[req_id] = tags
    send_account_summary(server, s, req_id, tags)
    s.send(out.account_summary_end(req_id))


def send_account_summary(
    server: SimServer, s: ClientSession, req_id: int, tags: tuple[str, ...]
) -> None:
    """accountSummary rows for the requested tags of every account."""
    for code in server.accounts:
        rows = streams.account_values(server, code)
        for key, value, cur in rows:
            if key in tags or "$LEDGER" in tags:
                s.send(out.account_summary(req_id, code, key, value, cur or "USD"))


@handles(63)
def cancel_account_summary(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelAccountSummary."""
    s.subs.account_summary.pop(req.integer(2), None)


@handles(92)
def req_pnl(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqPnL: ``92, reqId, account, modelCode``; streams about once a second."""
    req_id = req.integer(1)
    account = account_of(server, s, req.text(2), req_id)
    if account is not None:
        s.subs.pnl[req_id] = account


@handles(93)
def cancel_pnl(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelPnL."""
    s.subs.pnl.pop(req.integer(1), None)


@handles(94)
def req_pnl_single(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqPnLSingle: ``94, reqId, account, modelCode, conId``."""
    req_id = req.integer(1)
    account = account_of(server, s, req.text(2), req_id)
    if account is not None:
        s.subs.pnl_single[req_id] = (account, req.integer(4))


@handles(95)
def cancel_pnl_single(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelPnLSingle."""
    s.subs.pnl_single.pop(req.integer(1), None)
