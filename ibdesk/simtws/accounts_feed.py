"""Account, portfolio, position and P&L messages: what reqAccountUpdates, reqAccountSummary,
the *Multi requests, reqPositions and reqPnL* send, at subscribe time and on every change.

Every account value has one spelling here, shared by the summary and the updates, so a
client that reads either sees the same keys: all of IB's ``AccountSummaryTags.AllTags``,
with Regulation T under both names IB uses (``RegTEquity`` in account updates and in the
libraries' own summary request, ``ReqTEquity`` in the AllTags constant).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer
    from ibdesk.simtws.session import ClientSession

#: Money values, in USD, in the order IB lists them.
MONEY_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "UnrealizedPnL",
    "RealizedPnL",
)
#: The AllTags constant's spelling -> IB's spelling in account updates.
TAG_ALIASES = {"ReqTEquity": "RegTEquity", "ReqTMargin": "RegTMargin"}
ALL_ACCOUNTS = ("", "All")


def accounts_named(server: SimServer, code: str) -> tuple[str, ...]:
    """The accounts a *Multi request names: one, or every one for ``""`` / ``"All"``."""
    code = code.strip()
    if code in ALL_ACCOUNTS:
        return tuple(server.accounts)
    return (code,) if code in server.accounts else ()


def account_values(server: SimServer, account: str) -> list[tuple[str, str, str]]:
    """(key, value, currency) rows of one account, for every account message."""
    acct = server.accounts[account]
    values = acct.summary(server.engine.marks())
    now = server.clock()
    # Margin requirements change at the next trading day; IB gives the time as epoch s.
    next_day = math.floor(now / 86400) * 86400 + 86400
    rows = [("AccountType", "INDIVIDUAL", "")]
    rows += [(tag, f"{values[tag]:.2f}", "USD") for tag in MONEY_TAGS]
    rows += [(alias, f"{values[tag]:.2f}", "USD") for alias, tag in TAG_ALIASES.items()]
    rows += [
        ("Cushion", f"{values['Cushion']:.6f}", ""),
        ("Leverage", f"{values['Leverage']:.4f}", ""),
        ("DayTradesRemaining", "-1", ""),
        ("LookAheadNextChange", str(int(next_day)), ""),
        ("HighestSeverity", "0", ""),
        ("AccountCode", account, ""),
        ("Currency", "USD", "USD"),
        ("CashBalance", f"{acct.cash:.2f}", "BASE"),
        ("CashBalance", f"{acct.cash:.2f}", "USD"),
        ("NetLiquidationByCurrency", f"{values['NetLiquidation']:.2f}", "BASE"),
        ("TotalCashBalance", f"{acct.cash:.2f}", "BASE"),
    ]
    return rows


def summary_rows(
    server: SimServer, account: str, tags: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    """accountSummary rows for the requested tags, each under the name it was asked by."""
    rows = account_values(server, account)
    if "$LEDGER" in tags:
        return [(k, v, c or "USD") for k, v, c in rows]
    by_key: dict[str, tuple[str, str]] = {}
    for key, value, cur in rows:
        by_key.setdefault(key, (value, cur))
    out_rows = []
    for tag in tags:
        found = by_key.get(TAG_ALIASES.get(tag, tag))
        if found is not None:
            out_rows.append((tag, found[0], found[1]))
    return out_rows


def send_portfolio(
    server: SimServer, s: ClientSession, account: str, con_ids: list[int] | None = None
) -> None:
    """updatePortfolio for the account's positions (all, or the ones given)."""
    acct = server.accounts[account]
    for con_id, pos in list(acct.positions.items()):
        if con_ids is not None and con_id not in con_ids:
            continue
        price = server.engine.mark(pos.inst)
        s.send(
            out.update_portfolio(
                account, pos, price, acct.market_value(pos, price), acct.unrealized(pos, price)
            )
        )


def send_account_updates(
    server: SimServer, s: ClientSession, account: str, con_ids: list[int] | None = None
) -> None:
    """Account values, portfolio and the account time, as reqAccountUpdates streams them."""
    for key, value, cur in account_values(server, account):
        s.send(out.update_account_value(key, value, cur, account))
    send_portfolio(server, s, account, con_ids)
    s.send(out.update_account_time(server.clock()))


def send_account_multi(
    server: SimServer, s: ClientSession, req_id: int, accounts: tuple[str, ...]
) -> None:
    """accountUpdateMulti rows of one subscription (no model has values of its own)."""
    for account in accounts:
        for key, value, cur in account_values(server, account):
            s.send(out.account_update_multi(req_id, account, key, value, cur))


def send_positions_multi(
    server: SimServer,
    s: ClientSession,
    req_id: int,
    accounts: tuple[str, ...],
    con_id: int | None = None,
) -> None:
    """positionMulti rows of one subscription (all positions, or one that changed)."""
    for account in accounts:
        for pos in list(server.accounts[account].positions.values()):
            if con_id is None and not pos.qty:
                continue
            if con_id is not None and pos.inst.con_id != con_id:
                continue
            s.send(out.position_multi(req_id, account, pos))


def position_changed(server: SimServer, account: str, con_id: int) -> None:
    """A fill moved a position: push it to every subscriber of positions and accounts."""
    acct = server.accounts[account]
    pos = acct.position(con_id)
    for s in list(server.by_client.values()):
        if pos is not None and s.subs.positions:
            s.send(out.position(account, pos))
        if s.subs.account_updates == account:
            send_account_updates(server, s, account, [con_id])
        for req_id, accounts in s.subs.account_multi.items():
            if account in accounts:
                send_account_multi(server, s, req_id, (account,))
        for req_id, accounts in s.subs.positions_multi.items():
            if account in accounts:
                send_positions_multi(server, s, req_id, (account,), con_id)


def send_pnl(server: SimServer) -> None:
    """reqPnL and reqPnLSingle streams."""
    marks = server.engine.marks()
    cache: dict[str, dict[str, float]] = {}
    for s in list(server.by_client.values()):
        for req_id, account in s.subs.pnl.items():
            summary = cache.get(account)
            if summary is None:
                summary = cache[account] = server.accounts[account].summary(marks)
            s.send(
                out.pnl(
                    req_id, summary["DailyPnL"], summary["UnrealizedPnL"], summary["RealizedPnL"]
                )
            )
        for req_id, (account, con_id) in s.subs.pnl_single.items():
            acct = server.accounts[account]
            pos = acct.position(con_id)
            if pos is None:
                s.send(out.pnl_single(req_id, 0, 0, 0, 0, 0))
                continue
            price = marks.get(con_id) or server.engine.mark(pos.inst)
            s.send(
                out.pnl_single(
                    req_id,
                    pos.qty,
                    pos.daily_pnl(price),
                    acct.unrealized(pos, price),
                    pos.realized,
                    acct.market_value(pos, price),
                )
            )
