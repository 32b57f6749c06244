"""Request handlers for positions, account updates, the account summary and P&L."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import accounts_feed as feed
from ibdesk.simtws import outbound as out
from ibdesk.simtws.registry import handles
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession
from ibdesk.simtws.throttle import show

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer


def account_of(server: SimServer, s: ClientSession, code: str, req_id: int) -> str | None:
    """The account a request names (empty: the first), or error 321 for an unknown one."""
    code = code.strip() or server.config.accounts[0]
    if code in server.accounts:
        return code
    s.send(
        out.error(
            req_id,
            321,
            f"Error validating request: account {show(code)} is not managed by this TWS",
            s.version,
        )
    )
    return None


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


@handles(74)
def req_positions_multi(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqPositionsMulti: ``74, 1, reqId, account, modelCode``; changes follow."""
    req_id = req.integer(2)
    accounts = accounts_of(server, s, req.text(3), req.text(4), req_id)
    if accounts is None:
        return
    s.subs.positions_multi[req_id] = accounts
    feed.send_positions_multi(server, s, req_id, accounts)
    s.send(out.position_multi_end(req_id))


@handles(75)
def cancel_positions_multi(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelPositionsMulti."""
    s.subs.positions_multi.pop(req.integer(2), None)


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
    feed.send_account_updates(server, s, account)
    s.send(out.account_download_end(account))


def accounts_of(
    server: SimServer, s: ClientSession, code: str, model: str, req_id: int
) -> tuple[str, ...] | None:
    """The accounts a *Multi request is about: one, or all for ``""`` / ``"All"``; none for a
    model code (a paper account has no models); error 321 for an unknown account."""
    if model.strip():
        return ()
    found = feed.accounts_named(server, code)
    if found:
        return found
    account_of(server, s, code, req_id)  # sends the refusal
    return None


@handles(76)
def req_account_updates_multi(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqAccountUpdatesMulti: ``76, 1, reqId, account, modelCode, ledgerAndNLV``."""
    req_id = req.integer(2)
    accounts = accounts_of(server, s, req.text(3), req.text(4), req_id)
    if accounts is None:
        return
    s.subs.account_multi[req_id] = accounts
    feed.send_account_multi(server, s, req_id, accounts)
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
        for key, value, cur in feed.summary_rows(server, code, tags):
            s.send(out.account_summary(req_id, code, key, value, cur))


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
