"""Request handlers for orders, open and completed orders, and executions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.history_request import HistoryRequestError, parse_end
from ibdesk.simtws.order_codec import (
    OrderParseError,
    encode_completed_order,
    encode_open_order,
    order_status_fields,
    parse_place_order,
)
from ibdesk.simtws.orders import SimOrder, Status
from ibdesk.simtws.registry import handles
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import ClientSession
from ibdesk.simtws.throttle import show

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

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
    """reqExecutions with IB's filter (clientId 0 means every client). Every client may list
    every execution; the commission reports of other clients' executions go only to the
    Master API client (IB: "to receive commissions reports for all clients it is necessary to
    connect as the Master Client ID")."""
    master = server.config.master_client_id
    req_id = req.integer(2)
    client, account, since = req.integer(3), req.text(4), req.text(5)
    symbol, sec_type, exchange, side = (req.text(i).upper() for i in (6, 7, 8, 9))
    try:
        after = parse_end(since, 0.0) if since.strip() else 0.0
    except HistoryRequestError as exc:
        raise RequestError(f"execution filter time {show(since)}: {exc}") from exc
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
        if s.client_id in (e.client_id, master):
            s.send(out.commission_report(e))
    s.send(out.exec_details_end(req_id))
