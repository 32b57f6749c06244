"""Whether TWS treats the desk as its Master API client, and what to do when it does not.

TWS sends an API client's orders, their status and their fills to that client, to client 0
for orders typed into TWS, and to every other client only when that client is the "Master API
client" (Global Configuration > API > Settings > "Master API client ID"). The API has no call
that says which client is the master, but the difference shows in two answers any client may
ask for: ``reqOpenOrders`` lists the master every API client's open orders and anyone else
only its own, while ``reqAllOpenOrders`` lists everyone every open order of the account. So:

* another API client's order in the ``reqOpenOrders`` answer: the desk is the master;
* another API client's order only in the ``reqAllOpenOrders`` answer (asked first), and
  not done since (``reqCompletedOrders``): it is not;
* no other client has an order open: nothing tells, and the desk asks again later (and as
  soon as such an order turns up) until something does.

When it is not the master, the desk says once, in the log and as a notice, how to make it
so; the other clients' orders the listing brought in are shown as not followed (GONE, with
why), never as working orders whose updates will never come.

Events:
    changed(status): what is known about it changed (a MasterClient).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ibdesk import events
from ibdesk.broker import ib as shim
from ibdesk.broker.orders import OrderRouter
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.connection import MasterClient, Notice, Severity
from ibdesk.state.link import LinkStore
from ibdesk.tasks import TaskGroup

log = logging.getLogger("ibdesk.broker.master")

NOTICE_KEY = "master-client"
ASK_TIMEOUT = 10.0
""" seconds to wait for each of the two listings """
ASK_AGAIN = 60.0
""" seconds between two looks while nothing tells (two messages a minute) """


def how_to_become_master(client_id: int) -> str:
    """The advice, in plain words, for a desk TWS does not treat as its master client."""
    return (
        "TWS does not send this desk the orders and fills of its other API clients (such as "
        "'ibdesk run' on a server), because the desk is not its Master API client. To watch "
        "them here: in TWS or IB Gateway open Global Configuration > API > Settings, set "
        f'"Master API client ID" to {client_id} (this desk\'s client id), apply, and '
        "reconnect."
    )


class MasterClientCheck:
    """Finds out, after every reconcile, whether the desk is TWS's Master API client.

    Args:
        session: the connection (the client id in use).
        router: the order router (reconciles, and is told when other clients' orders are
            not followed).
        link: where the notice goes.
        clock: seconds since the epoch, for the notice's time.
        ask_again: seconds between looks while nothing tells.
    """

    def __init__(
        self,
        session: BrokerSession,
        router: OrderRouter,
        link: LinkStore,
        clock: Callable[[], float],
        ask_again: float = ASK_AGAIN,
    ) -> None:
        self.session = session
        self.ib = session.ib
        self.router = router
        self.link = link
        self.clock = clock
        self.ask_again = ask_again
        self.status = MasterClient.UNKNOWN
        self.changed = events.new("masterClientChanged")
        self.tasks = TaskGroup("master client check", log)
        self._told = False
        """ the advice was given (once per desk: a reconnect does not repeat it) """
        self._checking: asyncio.Task[MasterClient] | None = None
        self._later: asyncio.Task[None] | None = None
        self._reconciled = False
        """ this connection's first reconcile is done """
        router.on_reconciled.append(self._on_reconciled)
        router.store.added += self._on_order_added
        session.disconnected += self._on_disconnected

    def close(self) -> None:
        """Stop listening (the desk closes; its task group is closed by the owner)."""
        self.router.store.added -= self._on_order_added
        self.session.disconnected -= self._on_disconnected
        if self._on_reconciled in self.router.on_reconciled:
            self.router.on_reconciled.remove(self._on_reconciled)

    # ---- when to look ---------------------------------------------------------------------

    def _on_reconciled(self, _counts: dict[str, int]) -> None:
        # A connection's first reconcile only: later ones (a resync after a cancel, the
        # kill's) change nothing TWS's setting decides, and the kill verifies meanwhile.
        if not self._reconciled:
            self._reconciled = True
            self.look()

    def _on_order_added(self, ref: str) -> None:
        # Another client's order turning up while nothing told: look now (the master hears
        # of it live). Not before this connection's first reconcile has listed the orders:
        # the orders it restores from the journal turn up then too.
        if self.status is not MasterClient.UNKNOWN or self._busy() or not self._reconciled:
            return
        snap = self.router.store.get(ref)
        if snap is not None and self._other_api_client(snap.client_id):
            self.look()

    def _on_disconnected(self) -> None:
        self._reconciled = False
        if self._later is not None:
            self._later.cancel()
            self._later = None

    def look(self) -> asyncio.Task[MasterClient] | None:
        """Look now (unless a look is under way); the task answers what it found."""
        if self._busy() or not self.session.is_connected or self.tasks.closed:
            return self._checking
        if self._later is not None:
            self._later.cancel()
            self._later = None
        self._checking = self.tasks.spawn(self._look(), "asking TWS who is its master client")
        return self._checking

    def _busy(self) -> bool:
        return self._checking is not None and not self._checking.done()

    # ---- looking --------------------------------------------------------------------------

    async def _look(self) -> MasterClient:
        try:
            status = await self._ask()
        except (TimeoutError, ConnectionError) as exc:
            log.info("could not tell whether this desk is the Master API client: %r", exc)
            status = self.status
        self._settle(status)
        if (
            status is MasterClient.UNKNOWN
            and self.session.is_connected
            and not self.tasks.closed  # the desk is closing: no more looks
        ):
            self._later = self.tasks.spawn(self._look_later(), "asking again later")
        return status

    async def _look_later(self) -> None:
        await asyncio.sleep(self.ask_again)
        self._later = None
        self.look()

    async def _ask(self) -> MasterClient:
        everyone = await self._listing(self.ib.reqAllOpenOrdersAsync)
        if everyone is None:
            return self.status
        theirs = {_order(o).permId for o in everyone if self._other_api_client(_order(o).clientId)}
        # Asked second, so that an order placed between the two answers is in this one if
        # the desk is the master (and in neither if not).
        ours = await self._listing(self.ib.reqOpenOrdersAsync)
        if ours is None:
            return self.status
        if any(self._other_api_client(_order(o).clientId) for o in ours):
            return MasterClient.MASTER
        if not theirs:
            return MasterClient.UNKNOWN
        # Their orders may have filled or been cancelled between the two answers (then no
        # one lists them as open): only one still not done says the desk is not told.
        done = await self._listing(lambda: self.ib.reqCompletedOrdersAsync(False))
        if done is None:
            return self.status
        if theirs - {_order(o).permId for o in done}:
            return MasterClient.NOT_MASTER
        return MasterClient.UNKNOWN

    async def _listing(self, ask: Callable[[], Awaitable[list[Any]]]) -> list[Any] | None:
        """One listing's answer; None when the reconcile is listing (the library keeps one
        answer per kind of listing at a time: asking now would leave the reconcile without
        its answer; the reconcile's end starts a look anyway)."""
        if self.router.syncing or shim.listing_orders(self.ib):
            return None  # the reconcile's or the kill switch's listing: theirs comes first
        return await asyncio.wait_for(ask(), ASK_TIMEOUT)

    def _other_api_client(self, client_id: int) -> bool:
        """Another API client's (client 0 is TWS's own screen: its orders go to client 0)."""
        return client_id not in (0, self.session.client_id)

    def _settle(self, status: MasterClient) -> None:
        if status is MasterClient.NOT_MASTER:
            self.router.others_followed = False
            self.router.settle_unfollowed()
        elif not self.router.others_followed:
            self.router.follow_others()
        if status is self.status:
            return
        self.status = status
        client_id = self.session.client_id
        if status is MasterClient.NOT_MASTER and not self._told:
            self._told = True
            advice = how_to_become_master(client_id)
            log.warning("%s", advice)
            self.link.post(Notice(NOTICE_KEY, Severity.WARNING, advice, 0, self.clock()))
        elif status is MasterClient.MASTER:
            log.info(
                "this desk (client %d) is TWS's Master API client: other clients' orders "
                "and fills are shown",
                client_id,
            )
            self.link.clear(NOTICE_KEY)
        self.changed.emit(status)


def _order(answer: Any) -> Any:
    """The order of an open-orders answer (ib_async answers trades, ib_insync orders)."""
    return getattr(answer, "order", answer)
