"""Kills that do not depend on the desktop: ``ibdesk kill`` and the kill window.

Each uses a connection of its own with its own client id, so it works whether the desktop is
running, frozen or gone. A kill is two messages, sent back to back: ``reqAllOpenOrders`` (TWS
handles requests in order, so the answer is the book as it stood before the cancel: what the
kill is about to cancel, from every client) and ``reqGlobalCancel``. Then the broker is asked
again until no order is working, positions are closed if asked, and the report says exactly
what was verified. The halt is also latched in the journal, where a running desk picks it up
within a second (ibdesk.desk.safety).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.broker.closing import ClosingOrders
from ibdesk.broker.kill import open_order_line, position_line
from ibdesk.domain.risk import KillReport, OpenOrderLine, PositionLine, TradingState
from ibdesk.trading import latch
from ibdesk.trading.journal import Journal, JournalError
from ibdesk.trading.verify import SETTLE, WORKING_STATUSES, QuietBook

log = logging.getLogger("ibdesk.broker.emergency")

#: Ids tried after the requested one when TWS says it is in use (error 326): far from the
#: desk's own id and its watchdog's, so a kill never fails for want of a free id.
SPARE_ID_STEP = 1000
ID_ATTEMPTS = 3
POLL = 0.25


def record_halt(
    journal_path: Path | None,
    who: str,
    why: str,
    accounts: Iterable[str] = (),
    state: TradingState = TradingState.HALTED,
) -> str | None:
    """Latch HALTED (or REDUCING) in the journal for ``accounts`` (none: the account the
    desk traded last); a running desk adopts it within a second.

    Returns why it could not, or None. Never raises: the broker-side kill matters more.
    """
    if journal_path is None:
        return None
    try:
        journal = Journal(journal_path)
    except (JournalError, OSError) as exc:
        return f"the {state.value} latch was not written to the journal ({exc})"
    try:
        record = {"state": state.value, "who": who, "why": why}
        latch.write(journal, accounts, {**record, "time": time.time(), "locked_until": None})
        journal.action(who, "kill" if state is TradingState.HALTED else "reduce", why)
    finally:
        journal.close()
    return None


def latch_reducing(
    journal_path: Path, who: str, why: str, account: str = ""
) -> tuple[list[str], str | None]:
    """Latch REDUCING for ``account`` (else the account the desk traded last); returns the
    accounts latched and why it could not, or None."""
    accounts = [account] if account else []
    if not accounts:
        try:
            with Journal(journal_path) as journal:
                accounts = [a for a in [latch.last_account(journal)] if a]
        except (JournalError, OSError) as exc:
            return [], f"the journal cannot be read ({exc})"
    problem = record_halt(journal_path, who, why, accounts, TradingState.REDUCING)
    return accounts, problem


class BookSnapshot:
    """The open orders reported after a kill's ``reqAllOpenOrders``, first report of each
    (the book before the cancel, since TWS answers in order).

    It listens on the library's wrapper, not on ``openOrderEvent``: the library emits that
    event only while none of its own open-order requests is pending, and during the
    handshake one always is, so a kill sent from inside the handshake would see nothing.
    Both libraries' decoders look ``wrapper.openOrder`` up on every message.
    """

    def __init__(self, ib: Any) -> None:
        self.lines: dict[tuple[int, int, int], OpenOrderLine] = {}
        self.recording = True
        wrapper = ib.wrapper
        library_open_order = wrapper.openOrder

        def open_order(order_id: int, contract: Any, order: Any, state: Any) -> None:
            if self.recording and not order.whatIf:
                line = OpenOrderLine(
                    perm_id=int(order.permId or 0),
                    client_id=int(order.clientId),
                    order_id=int(order.orderId),
                    symbol=contract.localSymbol or contract.symbol,
                    side=order.action,
                    qty=float(order.totalQuantity),
                    order_type=order.orderType,
                    status=state.status,
                )
                self.lines.setdefault((line.perm_id, line.client_id, line.order_id), line)
            library_open_order(order_id, contract, order, state)

        wrapper.openOrder = open_order

    def restart(self) -> None:
        """Forget earlier reports and record again (a standing connection's next kill)."""
        self.lines.clear()
        self.recording = True

    def working(self) -> list[OpenOrderLine]:
        """The orders that were working when the kill was sent."""
        return [o for o in self.lines.values() if o.status in WORKING_STATUSES]


def send_kill(ib: Any) -> None:
    """The kill's two messages, back to back: list every open order, cancel them all."""
    ib.client.reqAllOpenOrders()
    ib.client.reqGlobalCancel()


async def _await_quiet(ib: Any, book: QuietBook, timeout: float) -> bool:
    """Ask the broker until nothing is working and nothing new has turned up for the settle
    window (or the time is up), cancelling again whenever new orders appear; whether it
    became quiet. ``book.working`` holds what is still working."""
    deadline = time.monotonic() + timeout
    while True:
        trades = await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), timeout)
        now = time.monotonic()
        book.observe([open_order_line(t) for t in trades], now)
        if book.take_cancel_request():
            ib.client.reqGlobalCancel()
        if book.quiet(now):
            return True
        if now > deadline:
            return False
        await asyncio.sleep(POLL)


async def _positions(ib: Any, account: str) -> list[PositionLine]:
    return [
        position_line(p)
        for p in await ib.reqPositionsAsync()
        if p.position and (not account or p.account == account)
    ]


async def _flatten(
    ib: Any, account: str, who: str, journal_path: Path | None, timeout: float
) -> list[str]:
    """Close every position of the account and wait (bounded) until it is flat; the closing
    orders in words."""
    try:
        journal = Journal(journal_path) if journal_path is not None else None
    except (JournalError, OSError) as exc:
        return [f"every position NOT closed: the journal for the order ids failed ({exc})"]
    try:
        closer = ClosingOrders(ib, who, journal)
        said = await closer.close(await _positions(ib, account))
        if closer.sent:
            await _await_flat(ib, account, timeout)
        closer.record_outcomes()
        return said
    finally:
        if journal is not None:
            journal.close()


async def _await_flat(ib: Any, account: str, timeout: float) -> list[PositionLine]:
    deadline = time.monotonic() + timeout
    while True:
        left = await _positions(ib, account)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(POLL)


async def finish_kill(
    ib: Any,
    snapshot: BookSnapshot,
    *,
    started: float,
    flatten: bool,
    account: str,
    timeout: float,
    who: str,
    problems: tuple[str, ...] = (),
    journal_path: Path | None = None,
) -> KillReport:
    """After the kill's messages: verify, close positions if asked (with ids above the
    journal's floor, journaled), verify flat; the report."""
    account = account or (ib.managedAccounts() or [""])[0]
    problems_found = list(problems)
    left: list[PositionLine] = []
    closing: list[str] = []
    # TWS answers in order, so the snapshot's answer (asked just before the cancel) is in
    # once the first verification answer is: every order it lacks came after the cancel.
    book = QuietBook((), time.monotonic())
    try:
        first = await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), timeout)
        snapshot.recording = False
        # The settle window counts from this first answer: one empty answer is not enough.
        book = QuietBook(snapshot.lines.values(), time.monotonic())
        book.observe([open_order_line(t) for t in first], time.monotonic())
        quiet = await _await_quiet(ib, book, timeout)
        if flatten and not book.working:
            closing = await _flatten(ib, account, who, journal_path, timeout)
            left = await _positions(ib, account)
            quiet = await _await_quiet(ib, book, timeout)
        elif flatten:
            problems_found.append("orders still working, so no position was closed")
            left = await _positions(ib, account)
        if not quiet and not book.working:
            problems_found.append(f"orders kept coming: never quiet for {SETTLE:g} s")
    except (TimeoutError, ConnectionError) as exc:
        left = []
        book.working = []
        problems_found.append(f"the broker stopped answering ({exc or type(exc).__name__})")
    working = book.working
    problems_found += [c for c in closing if "NOT closed" in c]
    verified = not working and not left and not problems_found
    return KillReport(
        account,
        started,
        time.time(),
        verified,
        tuple(working),
        tuple(left),
        flatten,
        tuple(closing),
        tuple(problems_found),
        cancelled=tuple(snapshot.working()),
        client_id=int(ib.client.clientId),
        notes=book.notes(),
    )


async def _connect_for_kill(
    host: str, port: int, client_id: int, timeout: float
) -> tuple[Any, BookSnapshot]:
    """A connection whose first requests are the kill's, sent from inside the handshake the
    moment the API is up (before the library's own start-up requests); tries spare client
    ids when TWS says one is in use."""
    problem: Exception | None = None
    for attempt in range(ID_ATTEMPTS):
        ib = shim.IB()
        snapshot = BookSnapshot(ib)
        ib.client.apiStart += lambda ib=ib: send_kill(ib)
        try:
            await ib.connectAsync(
                host, port, clientId=client_id + attempt * SPARE_ID_STEP, timeout=timeout
            )
            return ib, snapshot
        except ConnectionRefusedError as exc:
            raise ConnectionError(f"could not connect to {host}:{port}: {exc}") from exc
        except (OSError, TimeoutError) as exc:  # a 326 closes the socket: ConnectionError
            problem = exc
            ib.disconnect()
    raise ConnectionError(
        f"could not connect to {host}:{port} as client {client_id} or its spares: {problem}"
    )


async def emergency_kill(
    host: str,
    port: int,
    client_id: int,
    *,
    flatten: bool = False,
    account: str = "",
    timeout: float = 10.0,
    journal_path: Path | None = None,
    who: str = "cli",
) -> KillReport:
    """Latch the halt, connect, kill, (flatten,) verify, disconnect. Never raises for a broker
    that does not answer: the report says NOT verified and why."""
    started = time.time()
    why = "emergency kill" + (" and flatten" if flatten else "")
    journal_problem = record_halt(journal_path, f"ibdesk kill ({who})", why)
    problems = (journal_problem,) if journal_problem else ()
    try:
        ib, snapshot = await _connect_for_kill(host, port, client_id, timeout)
    except ConnectionError as exc:
        return KillReport(
            account, started, time.time(), False, flatten=flatten, problems=(str(exc), *problems)
        )
    # The global cancel reached every account of the login: each is latched, not only the
    # one the desk traded last (latched above, before the connection could fail).
    record_halt(journal_path, f"ibdesk kill ({who})", why, ib.managedAccounts())
    try:
        return await finish_kill(
            ib,
            snapshot,
            started=started,
            flatten=flatten,
            account=account,
            timeout=timeout,
            who=who,
            problems=problems,
            journal_path=journal_path,
        )
    finally:
        ib.disconnect()


class StandbyKill:
    """A connection kept open for the kill window: a click sends the kill at once, with no
    handshake to wait for; while it is down, a click connects afresh (emergency_kill)."""

    def __init__(
        self, host: str, port: int, client_id: int, journal_path: Path | None = None
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.journal_path = journal_path
        self.ib: Any = shim.IB()
        self.snapshot = BookSnapshot(self.ib)
        self._stopping = False
        self._reported_down = False

    @property
    def connected(self) -> bool:
        """Whether a click goes out on the standing connection."""
        return bool(self.ib.isConnected())

    async def keep_connected(self) -> None:
        """Reconnect whenever the connection is down (run as a task)."""
        while not self._stopping:
            if not self.ib.isConnected():
                try:
                    await self.ib.connectAsync(
                        self.host, self.port, clientId=self.client_id, timeout=5
                    )
                    self._reported_down = False
                except (OSError, TimeoutError) as exc:
                    if not self._reported_down:
                        self._reported_down = True
                        log.warning("kill window: cannot connect yet (%s); retrying", exc)
            await asyncio.sleep(1.0)

    async def kill(self, flatten: bool, timeout: float = 10.0) -> KillReport:
        """Kill (and flatten) now; the verified report."""
        if not self.connected:
            return await emergency_kill(
                self.host,
                self.port,
                self.client_id + 1,
                flatten=flatten,
                timeout=timeout,
                journal_path=self.journal_path,
                who="kill window",
            )
        started = time.time()
        self.snapshot.restart()
        send_kill(self.ib)
        why = "kill window" + (" and flatten" if flatten else "")
        journal_problem = record_halt(
            self.journal_path, "ibdesk kill (kill window)", why, self.ib.managedAccounts()
        )
        return await finish_kill(
            self.ib,
            self.snapshot,
            started=started,
            flatten=flatten,
            account="",
            timeout=timeout,
            who="kill window",
            problems=(journal_problem,) if journal_problem else (),
            journal_path=self.journal_path,
        )

    def reduce(self) -> str:
        """Latch REDUCING (exits only) for a running desk to adopt; what happened, in words."""
        if self.journal_path is None:
            return "REDUCING NOT latched: this window was started without a journal."
        accounts, problem = latch_reducing(
            self.journal_path, "ibdesk kill (kill window)", "exits only"
        )
        if problem:
            return f"REDUCING NOT latched: {problem}"
        return (
            f"REDUCING latched for {', '.join(accounts) or 'the desk'}: a running ibdesk "
            "cancels its own entries and keeps its exits."
        )

    def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        self._stopping = True
        self.ib.disconnect()
