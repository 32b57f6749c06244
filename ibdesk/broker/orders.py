"""Orders at the broker: placing through the pacer, and turning library events into honest
order states.

Two library behaviours are not trusted here. When the socket drops, queued messages vanish and
the library's trades stay "PendingSubmit": the pacer hands the queue back and those orders
become NOT_SENT, while orders already on the wire become UNKNOWN until reconciliation. And
after errors 10147, 10148 (and 202 in ib_async) the library marks an order "Cancelled" on its
own: such an order becomes UNKNOWN and ibdesk asks the broker again; only 200/201 rejects,
which the broker really means, become REJECTED.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.pacing import Pacer, order_id_of
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import (
    FillSnapshot,
    OrderIntent,
    OrderSnapshot,
    OrderState,
)
from ibdesk.domain.ticket import WhatIf
from ibdesk.state.orders import OrderStore
from ibdesk.tasks import TaskGroup
from ibdesk.trading.ports import JournalWriter

log = logging.getLogger("ibdesk.broker.orders")

SYNC_TIMEOUT = 10.0
""" seconds to wait for the broker's open and completed orders at a reconcile """
CANCELS_KEPT = 1024
""" cancels remembered before the old ones are forgotten """
CANCEL_ANSWER_WITHIN = 300.0
""" seconds after which a cancel's 202 is no longer expected """
_ACKED = (OrderState.WORKING, OrderState.PARTIAL)
""" states only the broker's acknowledgement puts an order in """


def _midnight(now: float) -> float:
    """Local midnight of the day ``now`` falls in (the journal's "today")."""
    day = dt.datetime.fromtimestamp(now).date()
    return dt.datetime.combine(day, dt.time()).timestamp()


class FillJournal(JournalWriter, Protocol):
    """The journal calls the router makes besides the gate's."""

    def fill(self, fill: FillSnapshot) -> bool:
        """Record an execution once."""

    def commission(self, exec_id: str, commission: float, realized_pnl: float) -> None:
        """Attach a commission report."""

    def error(self, ref: str | None, code: int, text: str) -> None:
        """Record an error about an order."""

    def connection(self, event: str, detail: str = "") -> None:
        """Record a connection event."""

    def orders_since(self, since: float) -> list[OrderSnapshot]:
        """Orders seen since ``since`` and every order still live."""

    def fills_since(self, since: float) -> list[FillSnapshot]:
        """Executions since ``since``."""


class OrderRouter:
    """Implements trading's OrderPort on the client library, and feeds the OrderStore."""

    def __init__(
        self,
        session: BrokerSession,
        resolver: InstrumentResolver,
        store: OrderStore,
        journal: FillJournal,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.ib = session.ib
        self.resolver = resolver
        self.store = store
        self.journal = journal
        self.clock = clock
        store.own_client = lambda: self.session.client_id
        self.pacer = Pacer.install(self.ib.client)
        self.pacer.on_sent.append(self._on_sent)
        self.on_reconciled: list[Callable[[dict[str, int]], None]] = []
        self._resync: asyncio.Task[None] | None = None
        self._resync_again = False
        self._completed: list[shim.Trade] = []
        """ the broker's completed orders as the last full sync returned them """
        self._acked_before: set[str] = set()
        """ restored orders the broker had acknowledged (journaled working) """
        self.tasks = TaskGroup("order router", log)
        self._cancelling: dict[str, float] = {}
        """ orderRef -> when ibdesk sent a cancel for it (its own, or a global cancel): the
        202 that follows is ordinary, not news """
        self.syncing = False
        """ a reconcile's listing of open and completed orders is under way: the library
        keeps one answer per kind of listing, so nobody else may ask for one meanwhile """
        self.others_followed = True
        """ whether TWS sends this client other API clients' order updates (False once the
        master client check found it does not: their orders, listed once by a
        reqAllOpenOrders, are then shown as not followed, never as working) """
        session.codes.cancel_asked = self._cancel_asked
        ib = self.ib
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_trade
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        session.error += self._on_error
        session.disconnected += self._on_disconnected
        session.connected += self._on_connected

    # ---- OrderPort -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether orders can be sent now."""
        return self.session.is_connected

    @property
    def client_id(self) -> int:
        """The API client id in use."""
        return self.session.client_id

    @property
    def account(self) -> str:
        """The connected login's default account (what TWS uses for an order naming none)."""
        return self.session.account

    def next_valid_id(self) -> int:
        """The library's next request id (nextValidId, raised by every request since)."""
        return shim.LibraryIdPort(self.ib).next_valid_id()

    def reserve_ids(self, above: int) -> None:
        """Keep the library's request ids above the order ids ibdesk has taken."""
        shim.LibraryIdPort(self.ib).reserve_ids(above)

    def place(
        self,
        intent: OrderIntent,
        ref: str,
        order_id: int,
        parent_id: int = 0,
        transmit: bool = True,
        oca_group: str = "",
        oca_type: int = 0,
    ) -> None:
        """Place one order; its message goes through the pacer."""
        contract = self.resolver.contract(intent.instrument.con_id)
        order = translate.order_of(intent, ref, order_id, parent_id, transmit)
        if oca_group:
            order.ocaGroup, order.ocaType = oca_group, oca_type
        self.ib.placeOrder(contract, order)

    async def what_if(self, intent: OrderIntent, timeout: float = 5.0) -> WhatIf:
        """IB's margin and commission for an order, placing nothing (TimeoutError, or
        LookupError with the broker's reason when it refuses to answer)."""
        contract = self.resolver.contract(intent.instrument.con_id)
        state = await asyncio.wait_for(
            self.ib.whatIfOrderAsync(contract, translate.order_of(intent, "", 0)), timeout
        )
        if state is None:
            raise LookupError("the broker gave no what-if answer")
        return WhatIf(
            translate.what_if_number(state.initMarginChange),
            translate.what_if_number(state.maintMarginChange),
            translate.what_if_number(state.commission),
            state.commissionCurrency or "",
            state.warningText or "",
        )

    def modify(
        self, snap: OrderSnapshot, qty: float, limit_price: float | None, stop_price: float | None
    ) -> None:
        """Re-place the order under its own id with new terms.

        Raises:
            LookupError: the library holds no such order, or holds it done: an order the
                broker reported completed carries no order id (0), and re-placing it would
                make the library take a fresh id, and the broker a new order.
        """
        trade = self._trade(snap)
        if trade is None:
            raise LookupError(f"the library has no order {snap.ref}")
        if trade.isDone() or int(trade.order.orderId) != snap.order_id:
            raise LookupError(
                f"The broker reports {snap.ref} done ({trade.orderStatus.status}): not modified."
            )
        order = trade.order
        order.totalQuantity = qty
        if limit_price is not None:
            order.lmtPrice = limit_price
        if stop_price is not None:
            order.auxPrice = stop_price
        self.ib.placeOrder(trade.contract, order)

    def cancel(self, snap: OrderSnapshot) -> None:
        """Cancel through the priority lane."""
        self._asking_to_cancel((snap.ref,))
        trade = self._trade(snap)
        if trade is not None and int(trade.order.orderId) == snap.order_id:
            self.ib.cancelOrder(trade.order)
        else:  # none, or a completed order's (no order id): cancel by the id we sent
            self.ib.client.cancelOrder(snap.order_id, "")  # type: ignore[no-untyped-call]

    def cancel_all(self) -> None:
        """reqGlobalCancel through the priority lane."""
        self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
        self.note_global_cancel()

    def note_global_cancel(self) -> None:
        """A global cancel is going out (here, or from the kill switch's hands): the 202s of
        every order live now are answers to ibdesk's own request."""
        self._asking_to_cancel(tuple(o.ref for o in self.store.live()))

    def _asking_to_cancel(self, refs: tuple[str, ...]) -> None:
        now = time.monotonic()
        if len(self._cancelling) > CANCELS_KEPT:
            # An order whose cancel crossed its fill never gets a 202: forget old asks.
            self._cancelling = {
                ref: at for ref, at in self._cancelling.items() if now - at < CANCEL_ANSWER_WITHIN
            }
        self._cancelling.update(dict.fromkeys(refs, now))

    def _cancel_asked(self, order_id: int) -> bool:
        """Whether ibdesk asked to cancel this order of its client: itself, or the entry of
        its bracket (TWS cancels the children with it)."""
        ref = self.store.by_order_id.get(order_id)
        snap = self.store.get(ref) if ref else None
        if snap is None:
            return False
        return snap.ref in self._cancelling or snap.parent_ref in self._cancelling

    def withdraw(self, order_ids: set[int] | None = None) -> set[int]:
        """Take queued placeOrder messages back; those orders never reach the wire."""
        return self.pacer.withdraw(order_ids)

    def _trade(self, snap: OrderSnapshot) -> shim.Trade | None:
        for trade in self.ib.trades():
            order = trade.order
            if (snap.perm_id and order.permId == snap.perm_id) or (
                order.orderRef == snap.ref and order.orderId == snap.order_id
            ):
                return trade
        return None

    # ---- library events -----------------------------------------------------------------------

    def _on_sent(self, msg: str, _when: float) -> None:
        order_id = order_id_of(msg)
        if not order_id:
            return
        ref = self.store.by_order_id.get(order_id)
        snap = self.store.get(ref) if ref else None
        if snap is not None and snap.state is OrderState.QUEUED:
            self._merge(snap.ref, state=OrderState.SENT, updated=self.clock())

    def _on_trade(self, trade: shim.Trade) -> None:
        inst = self.resolver.by_con_id.get(int(trade.contract.conId))
        if inst is None:
            self.tasks.spawn(self._resolve_then(trade), "reading an order of an unknown contract")
            return
        self._put_trade(trade, inst)

    async def _resolve_then(self, trade: shim.Trade) -> None:
        self._put_trade(trade, await self.resolver.for_contract(trade.contract))

    def _put_trade(self, trade: shim.Trade, inst: Instrument) -> None:
        known = self.store.get(translate.ref_of(trade))
        snap = translate.snapshot_of(trade, inst, known, self.clock())
        if snap is None:
            return  # junk, refused (and said) by the translation
        if snap.state is OrderState.UNKNOWN and (
            known is None or known.state is not OrderState.UNKNOWN
        ):
            self._schedule_resync()
        if self._unfollowed(snap):
            snap = dataclasses.replace(snap, state=OrderState.GONE, reason=_not_followed(snap))
        if snap.state is OrderState.SENT and known is not None:
            # PendingSubmit is the library's own word, set when the order was handed to it:
            # it says nothing the pacer has not said, and must never revive an order the
            # kill purged or the reconcile settled.
            return
        self._put(snap)

    def _unfollowed(self, snap: OrderSnapshot) -> bool:
        """Another API client's live order whose updates TWS does not send this client."""
        return (
            not self.others_followed
            and snap.client_id not in (0, self.client_id)
            and not snap.state.final
        )

    def settle_unfollowed(self) -> None:
        """Show other API clients' live orders as not followed (GONE, with why)."""
        now = self.clock()
        for snap in list(self.store.live()):
            if self._unfollowed(snap):
                self._put(
                    self.store.merge(
                        snap.ref, state=OrderState.GONE, reason=_not_followed(snap), updated=now
                    )
                )

    def follow_others(self) -> None:
        """TWS does send this client other API clients' updates (after it was found not to,
        the setting changed): their orders take the library's latest word again."""
        self.others_followed = True
        for trade in self.ib.trades():
            if int(trade.order.clientId) not in (0, self.client_id):
                self._on_trade(trade)

    def _put(self, snap: OrderSnapshot | None) -> None:
        if snap is not None and self.store.put(snap):
            self.journal.order(snap)

    def _merge(self, ref: str, **changes: Any) -> None:
        """Change some fields of a known order, in the store and the journal (the store's
        own ``merge`` stores at once: a ``_put`` after it would see no change to journal)."""
        before = self.store.get(ref)
        if before is not None:
            self._put(dataclasses.replace(before, **changes))

    def _on_exec(self, trade: shim.Trade, fill: shim.Fill) -> None:
        ordered, filled = int(trade.contract.conId or 0), int(fill.contract.conId or 0)
        snap = None
        if filled != ordered and trade.contract.secType != "BAG":  # a combo fills by leg
            translate.refused(
                "fill:contract",
                "a fill (exec %s) for conId %d on an order for conId %d",
                translate.name(fill.execution.execId),
                filled,
                ordered,
            )
        else:
            inst = self.resolver.by_con_id.get(ordered) or translate.instrument(trade.contract)
            snap = translate.fill_of(fill, inst, translate.ref_of(trade))
        if snap is None:
            self._forget_fill(trade, fill)
        elif self.store.add_fill(snap):
            self.journal.fill(snap)

    def _forget_fill(self, trade: shim.Trade, fill: shim.Fill) -> None:
        """Keep a refused fill out of the library's books too: its fills() (which
        reconciliation reads) and the trade's fills (which its filled() sums)."""
        self.ib.wrapper.fills.pop(fill.execution.execId, None)
        if fill in trade.fills:
            trade.fills.remove(fill)

    def _on_commission(
        self, trade: shim.Trade, fill: shim.Fill, report: shim.CommissionReport
    ) -> None:
        known = self.store.fills.get(fill.execution.execId)
        if known is None:
            return
        commission = translate.num(report.commission)
        realized = translate.num(report.realizedPNL)
        self.store.add_fill(
            dataclasses.replace(known, commission=commission, realized_pnl=realized)
        )
        self.journal.commission(known.exec_id, commission, realized)

    def _on_error(self, req_id: int, code: int, text: str) -> None:
        ref = self.store.by_order_id.get(req_id) if req_id > 0 else None
        if ref is None:
            return
        if not 0 <= code < 2**31:  # IB's codes are small; junk must not reach the journal
            translate.refused("error:code", "an error code %r about order %d", code, req_id)
            return
        self.journal.error(ref, code, text)
        reason = "Already filled." if code == 10148 else text
        self._merge(ref, reason=reason, updated=self.clock())

    # ---- disconnects and reconciliation --------------------------------------------------------

    def _on_disconnected(self) -> None:
        dropped = {order_id_of(m) for m in self.pacer.reset()} - {0}
        now = self.clock()
        for snap in list(self.store.live()):
            if snap.client_id != self.client_id:
                continue
            if snap.order_id in dropped or snap.state is OrderState.QUEUED:
                self._merge(
                    snap.ref,
                    state=OrderState.NOT_SENT,
                    updated=now,
                    reason="The connection dropped before it was sent; not replayed.",
                )
            elif snap.state is OrderState.SENT:
                self._merge(
                    snap.ref,
                    state=OrderState.UNKNOWN,
                    updated=now,
                    reason="The connection dropped before TWS answered; checking on reconnect.",
                )
        self.journal.connection("disconnected", f"{len(dropped)} queued orders not sent")

    def _on_connected(self) -> None:
        self.tasks.spawn(self.reconcile(), "reconcile")

    def restore(self, since: float, accounts: Collection[str]) -> int:
        """Today's orders and fills of the connected login's accounts, from the journal.

        Only what the store does not know yet comes back (the broker's own reports during
        the handshake are fresher), and an order still live in the journal comes back
        UNKNOWN until :meth:`reconcile` hears the broker confirm it. An order the broker
        already reported gets its bracket parent and creation time from the journal. Orders
        and fills of other accounts (a paper account's, yesterday's demo's) stay out.
        Returns the number of orders restored.
        """
        restored = 0
        for saved in self.journal.orders_since(since):
            if saved.account not in accounts:
                continue
            known = self.store.get(saved.ref)
            if known is not None:
                if saved.parent_ref and not known.parent_ref:
                    self.store.merge(saved.ref, parent_ref=saved.parent_ref, created=saved.created)
                continue
            if saved.state.live:
                if saved.state in _ACKED:
                    self._acked_before.add(saved.ref)
                saved = dataclasses.replace(  # noqa: PLW2901 - the restored form of it
                    saved,
                    state=OrderState.UNKNOWN,
                    reason="From the journal: waiting for the broker to confirm it.",
                )
            self.store.put(saved)
            restored += 1
        for fill in self.journal.fills_since(since):
            if fill.account in accounts:
                self.store.add_fill(fill)
        return restored

    async def reconcile(self) -> dict[str, int]:
        """Compare what ibdesk believes with what the broker says (after every connect).

        Asks the broker afresh for its open and completed orders, then: every order it
        reports takes the broker's word; an order of ours it never acknowledged is NOT_SENT;
        any other order it no longer reports (a different TWS or simulator, another
        client's order this client is not told about) is GONE, never left "working".
        Without a full answer nothing is marked gone, and the report says so.

        Returns counts: fills recovered, orders changed while away, orders not found, orders
        gone, and ``unconfirmed`` 1 when the broker did not answer in time.
        """
        accounts = set(self.session.link.status.accounts) or {self.session.account}
        self.restore(_midnight(self.clock()), accounts)
        counts = {"fills": 0, "changed": 0, "not_found": 0, "gone": 0, "unconfirmed": 0}
        before = {ref: s.state for ref, s in self.store.orders.items()}
        full = await self._full_sync()
        counts["unconfirmed"] = int(not full)
        seen: set[str] = set()
        for trade in self.ib.trades():
            inst = await self.resolver.for_contract(trade.contract)
            self._put_trade(trade, inst)
            seen.add(translate.ref_of(trade))
        for trade in self._completed if full else []:
            # The library keeps its own trade of an order it already knew, local Cancelled
            # and all: an order left UNKNOWN by that word takes the broker's answer here.
            known = self.store.get(translate.ref_of(trade))
            if known is not None and known.state is OrderState.UNKNOWN:
                self._put_trade(trade, await self.resolver.for_contract(trade.contract))
        for trade_fill in self.ib.fills():
            inst = await self.resolver.for_contract(trade_fill.contract)
            e = trade_fill.execution
            ref = e.orderRef or self.store.ref_for(e.orderId, e.permId) or f"ext:{e.permId}"
            fill = translate.fill_of(trade_fill, inst, ref)
            if fill is not None and self.store.add_fill(fill):
                self.journal.fill(fill)
                counts["fills"] += 1
        if full:
            self._settle_unreported(seen, counts)
        for ref, state in before.items():
            after = self.store.orders[ref].state
            if after is not state and after.final and ref in seen:
                counts["changed"] += 1
        self.journal.connection("reconciled", summary(counts))
        for hook in self.on_reconciled:
            hook(counts)
        return counts

    async def _full_sync(self) -> bool:
        """The broker's open and completed orders asked afresh; False without an answer."""
        if not self.session.is_connected:
            return False

        async def both() -> None:
            # One after the other, not gathered: a gather whose request the library cancels
            # on a disconnect leaves an exception nobody retrieves.
            await self.ib.reqOpenOrdersAsync()
            self._completed = await self.ib.reqCompletedOrdersAsync(False)

        self.syncing = True
        try:
            await asyncio.wait_for(both(), SYNC_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return False
        finally:
            self.syncing = False
        return True

    def _settle_unreported(self, seen: set[str], counts: dict[str, int]) -> None:
        now = self.clock()
        for snap in list(self.store.live()):
            if snap.ref in seen:
                continue
            ours = snap.client_id == self.client_id
            acked = snap.state in _ACKED or snap.ref in self._acked_before
            if ours and not acked:
                counts["not_found"] += 1
                state, reason = OrderState.NOT_SENT, "Not found at the broker after reconnect."
            else:
                counts["gone"] += 1
                state, reason = (
                    OrderState.GONE,
                    (
                        "Not reported by the broker after a full sync"
                        + (
                            "."
                            if ours
                            else f" (placed by client {snap.client_id}: TWS reports "
                            "other clients' orders only to the Master API client)."
                        )
                    ),
                )
            self._acked_before.discard(snap.ref)
            self._merge(snap.ref, state=state, updated=now, reason=reason)

    def _schedule_resync(self) -> None:
        # One at a time; an order made Unknown while one runs needs one more after it (the
        # running one may already have read the broker's answer about it).
        self._resync_again = True
        if self._resync is None or self._resync.done():
            self._resync = self.tasks.spawn(self._resync_now(), "resync")

    async def _resync_now(self) -> None:
        """Ask the broker again after the library cancelled an order on its own."""
        while self._resync_again and self.session.is_connected:
            self._resync_again = False
            await self.reconcile()


def _not_followed(snap: OrderSnapshot) -> str:
    return (
        f"Placed by API client {snap.client_id}, and TWS does not send this desk that "
        "client's updates (it is not the Master API client): not followed here."
    )


def summary(counts: dict[str, int]) -> str:
    """'2 fills, 1 order cancelled or filled outside ibdesk' style text."""
    parts = []
    if counts["fills"]:
        parts.append(f"{counts['fills']} fill{'s' * (counts['fills'] != 1)} recovered")
    if counts["changed"]:
        parts.append(
            f"{counts['changed']} order{'s' * (counts['changed'] != 1)} filled or "
            "cancelled while away"
        )
    if counts["not_found"]:
        parts.append(
            f"{counts['not_found']} order{'s' * (counts['not_found'] != 1)} never "
            "reached the broker"
        )
    if counts.get("gone"):
        parts.append(
            f"{counts['gone']} order{'s' * (counts['gone'] != 1)} no longer reported by the "
            "broker (shown as Gone)"
        )
    if counts.get("unconfirmed"):
        parts.append("the broker did not list its orders in time, so nothing was ruled out")
    return ", ".join(parts) or "nothing changed while away"
