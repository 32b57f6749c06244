"""The matching engine: order life cycles against the simulated market.

Fill rules (deterministic, so tests can drive them with the control port):

* MKT fills at the touch (ask for a buy, bid for a sell).
* LMT fills on arrival at the touch when marketable; resting, it fills at its limit when the
  market touches it (ask <= limit for a buy) or trades at or through it (last <= limit).
* STP, STP LMT and TRAIL trigger on the last price, then behave as MKT or LMT; MIT and LIT
  the same in the other direction; REL works as a limit pegged to its side of the book;
  MOC and LOC wait for the closing auction (order_rules.py has the rules of each type).
* Bracket children wait (PreSubmitted) until the parent fills, and never fill more than the
  parent has; a fill of one child reduces its siblings (IB's attached-order OCA). Explicit OCA
  groups follow ``ocaType``: 1 cancels the others, 2 and 3 reduce them.
* With ``partial_fills`` a fill takes at most the size shown at the touch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ibdesk.simtws import order_rules as rules
from ibdesk.simtws.account import Account, commission, margin
from ibdesk.simtws.catalog import Catalog, Instrument
from ibdesk.simtws.market import Market
from ibdesk.simtws.order_codec import PlacedOrder, WhatIfState
from ibdesk.simtws.orders import Execution, SimOrder, Status


class EngineListener(Protocol):
    """Where the engine reports what happened; the server turns it into messages."""

    def order_changed(self, order: SimOrder) -> None:
        """An order's status or terms changed (openOrder + orderStatus)."""

    def order_filled(self, order: SimOrder, execution: Execution) -> None:
        """An order (partly) filled."""

    def order_error(self, client_id: int, order_id: int, code: int, message: str) -> None:
        """An error about one client's order id."""

    def what_if(self, client_id: int, order: SimOrder, state: WhatIfState) -> None:
        """The answer to a what-if order."""


@dataclass(slots=True)
class EngineConfig:
    """Broker-side limits and behaviour switches of the simulated TWS."""

    partial_fills: bool = False
    follow_trading_hours: bool = False
    max_order_size_futures: float = 500
    max_order_size_stocks: float = 100_000
    max_order_size_fx: float = 50_000_000
    price_band_pct: float = 20.0
    check_margin: bool = True


@dataclass(slots=True)
class Engine:
    """Every order and execution of the simulated TWS, across all clients and accounts."""

    catalog: Catalog
    market: Market
    accounts: dict[str, Account]
    listener: EngineListener
    clock: Callable[[], float]
    config: EngineConfig = field(default_factory=EngineConfig)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    live: dict[int, SimOrder] = field(default_factory=dict)
    by_key: dict[tuple[int, int], SimOrder] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    max_used_id: dict[int, int] = field(default_factory=dict)
    #: orders still to be refused on arrival (the reject fault of the control interface)
    rejects_pending: int = 0
    _perm_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))
    _manual_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(-1, -1))
    _exec_seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- queries --------------------------------------------------------------------------

    def open_orders(self) -> list[SimOrder]:
        """Every order not yet done, held ones included, in placement order."""
        return list(self.live.values())

    def completed_orders(self) -> list[SimOrder]:
        """Every done order."""
        return [o for o in self.orders.values() if o.status.done]

    def next_valid_id(self, client_id: int) -> int:
        """The lowest order id this client may use next."""
        return self.max_used_id.get(client_id, 0) + 1

    # ---- placing ----------------------------------------------------------------------------

    def place(self, client_id: int, p: PlacedOrder, default_account: str) -> None:
        """Handle a placeOrder: a new order, a modify, or a what-if."""
        if not p.contract.exchange.strip():
            # TWS refuses this before it looks at anything else, the contract included.
            self._error(client_id, p.order_id, 321, rules.MISSING_EXCHANGE)
            return
        existing = self.by_key.get((client_id, p.order_id))
        if existing is not None and not p.flag("whatIf"):
            self._modify(existing, p)
            return
        if p.order_id <= self.max_used_id.get(client_id, 0) or existing is not None:
            self._error(client_id, p.order_id, 103, f"Duplicate order id {p.order_id}")
            return
        self.max_used_id[client_id] = p.order_id
        found = self.catalog.lookup(p.contract)
        if len(found) != 1:
            text = (
                "No security definition has been found for the request"
                if not found
                else "The contract description specified is ambiguous"
            )
            self._error(client_id, p.order_id, 200, text)
            return
        order = self._new_order(client_id, p, found[0], default_account)
        problem = self._validate(order)
        if problem is not None:
            code, text = problem
            self._error(client_id, p.order_id, code, text)
            if code == 110:
                # TWS does not accept the order; say so with a status, not only a warning code.
                order.status = Status.CANCELLED
                self.listener.order_changed(order)
            return
        if order.what_if:
            self.listener.what_if(client_id, order, self.what_if_state(order))
            return
        if order.parent_id:
            parent = self.by_key.get((client_id, order.parent_id))
            if parent is None or parent.status.done:
                self._error(
                    client_id,
                    p.order_id,
                    201,
                    "Order rejected - reason:The parent order is not working",
                )
                return
            order.parent = parent
            parent.children.append(order)
        self._store(order)
        if order.transmit:
            self._transmit_group(order.parent or order)

    def enter_manual(
        self,
        account: str,
        inst: Instrument,
        action: str,
        qty: float,
        order_type: str,
        lmt: float | None,
        aux: float | None,
        tif: str = "DAY",
        bind_to_client0: bool = False,
    ) -> SimOrder:
        """An order typed into the TWS screen: client 0, order id 0 (negative once bound)."""
        order = SimOrder(
            perm_id=next(self._perm_ids),
            client_id=0,
            order_id=0,
            inst=inst,
            action=action,
            total_qty=qty,
            order_type=order_type,
            lmt_price=lmt,
            aux_price=aux,
            tif=tif,
            account=account,
            raw={},
            manual=True,
            created=self.clock(),
            order_ref="",
        )
        rules.normalize_prices(order)
        if order.order_type in rules.AUCTION_TYPES:
            order.auction_at = rules.closing_auction(order, order.created)
        problem = self._validate(order)
        if problem is not None:
            raise ValueError(problem[1])
        if bind_to_client0:
            self.bind_manual(order)
        self._store(order)
        self._transmit_group(order)
        return order

    def bind_manual(self, order: SimOrder) -> None:
        """Give a manual order a negative id so client 0 can track and cancel it."""
        if order.manual and order.order_id == 0:
            order.order_id = next(self._manual_ids)
            self.by_key[(0, order.order_id)] = order

    def _new_order(
        self, client_id: int, p: PlacedOrder, inst: Instrument, default_account: str
    ) -> SimOrder:
        order = SimOrder(
            perm_id=next(self._perm_ids),
            client_id=client_id,
            order_id=p.order_id,
            inst=inst,
            action=p.text("action").upper(),
            total_qty=p.number("totalQuantity") or 0.0,
            order_type=p.text("orderType").upper(),
            lmt_price=p.number("lmtPrice"),
            aux_price=p.number("auxPrice"),
            tif=(p.text("tif") or "DAY").upper(),
            account=p.text("account") or default_account,
            raw=p.raw,
            oca_group=p.text("ocaGroup"),
            oca_type=int(p.number("ocaType") or 0),
            order_ref=p.text("orderRef"),
            transmit=p.flag("transmit"),
            parent_id=int(p.number("parentId") or 0),
            outside_rth=p.flag("outsideRth"),
            trail_stop_price=p.number("trailStopPrice"),
            trailing_percent=p.number("trailingPercent"),
            what_if=p.flag("whatIf"),
            created=self.clock(),
        )
        rules.normalize_prices(order)
        if order.order_type in rules.AUCTION_TYPES:
            order.auction_at = rules.closing_auction(order, order.created)
        return order

    def _validate(self, o: SimOrder) -> tuple[int, str] | None:
        """Why TWS would refuse this order, or None (error code, message)."""
        if o.account not in self.accounts:
            return 201, f"{rules.REJECT}The account code {o.account!r} is invalid"
        return rules.validate(o, self.config, self.market)

    def what_if_state(self, o: SimOrder) -> WhatIfState:
        """Margin and commission before and after ``o`` fills at the current market."""
        acct = self.accounts[o.account]
        prices = self.marks()
        before = acct.summary(prices)
        pos = acct.position(o.inst.con_id)
        held = pos.qty if pos else 0.0
        price = o.lmt_price or prices.get(o.inst.con_id) or self.market.reference_price(o.inst)
        mark = prices.get(o.inst.con_id, price)
        init_delta = margin(o.inst, held + o.sign * o.total_qty, mark) - margin(o.inst, held, mark)
        maint_delta = margin(o.inst, held + o.sign * o.total_qty, mark, maintenance=True) - margin(
            o.inst, held, mark, maintenance=True
        )
        fee = commission(o.inst, o.total_qty, price)
        return WhatIfState(
            before["InitMarginReq"],
            before["MaintMarginReq"],
            before["EquityWithLoanValue"],
            before["InitMarginReq"] + init_delta,
            before["MaintMarginReq"] + maint_delta,
            before["EquityWithLoanValue"] - fee,
            fee,
        )

    def marks(self) -> dict[int, float]:
        """Current mark price of every instrument anyone holds."""
        out: dict[int, float] = {}
        for acct in self.accounts.values():
            for con_id, pos in acct.positions.items():
                out[con_id] = self.mark(pos.inst)
        return out

    def mark(self, inst: Instrument) -> float:
        """The price positions are valued at: last trade, else the reference price."""
        q = self.market.quotes.get(inst.con_id)
        if q is not None and q.last > 0:
            return q.last
        return self.market.reference_price(inst)

    def _margin_problem(self, o: SimOrder) -> str | None:
        if not self.config.check_margin or o.parent is not None:
            return None
        acct = self.accounts[o.account]
        pos = acct.position(o.inst.con_id)
        held = pos.qty if pos else 0.0
        if abs(held + o.sign * o.total_qty) <= abs(held):
            return None
        state = self.what_if_state(o)
        if state.init_after > state.equity_before:
            return (
                "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
                f"DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{state.equity_before:.2f} USD]"
                f" MUST EXCEED THE INITIAL MARGIN [{state.init_after:.2f} USD]"
            )
        return None

    def _injected_reject(self) -> str | None:
        """A refusal the control interface asked for, as IB words a risk-desk reject."""
        if self.rejects_pending <= 0:
            return None
        self.rejects_pending -= 1
        return f"{rules.REJECT}Simulated reject (fault injection)"

    def _store(self, order: SimOrder) -> None:
        self.orders[order.perm_id] = order
        self.live[order.perm_id] = order
        if not order.manual or order.order_id:
            self.by_key[(order.client_id, order.order_id)] = order
        self.market.quote(order.inst.con_id)

    def _transmit_group(self, root: SimOrder) -> None:
        arriving = root.status is Status.HELD
        problem = (self._margin_problem(root) or self._injected_reject()) if arriving else None
        if problem is not None:
            for o in [root, *root.children]:
                self._finish(o, Status.CANCELLED, "Cancelled", notify=False)
            self._error(root.client_id, root.order_id, 201, problem)
            for o in [root, *root.children]:
                self.listener.order_changed(o)
            return
        for o in [root, *root.children]:
            if o.status is Status.HELD:
                waiting = o.parent is not None and o.parent.filled <= 0
                o.status = Status.PRE_SUBMITTED if waiting else Status.SUBMITTED
                self.listener.order_changed(o)
        self._evaluate(root, arriving=arriving)

    # ---- modify and cancel ------------------------------------------------------------------

    def _modify(self, o: SimOrder, p: PlacedOrder) -> None:
        if o.status.done:
            code = 104 if o.status is Status.FILLED else 103
            state = "a filled" if code == 104 else "a cancelled"
            self._error(o.client_id, o.order_id, code, f"Can't modify {state} order")
            return
        if p.text("action").upper() != o.action or (
            p.contract.con_id and p.contract.con_id != o.inst.con_id
        ):
            self._error(
                o.client_id, o.order_id, 105, "Order being modified does not match original order"
            )
            return
        trial = self._new_order(o.client_id, p, o.inst, o.account)
        problem = self._validate(trial)
        if problem is None and trial.total_qty < o.filled:
            problem = (201, "Order rejected - reason:Quantity is below the filled quantity")
        if problem is not None:
            # The original order keeps working: a refused modify changes nothing.
            self._error(o.client_id, o.order_id, *problem)
            return
        for name in (
            "total_qty",
            "order_type",
            "lmt_price",
            "aux_price",
            "tif",
            "outside_rth",
            "trail_stop_price",
            "trailing_percent",
            "order_ref",
            "raw",
            "auction_at",
        ):
            setattr(o, name, getattr(trial, name))
        o.triggered = o.triggered and o.order_type in rules.TRIGGERED
        if o.status is Status.HELD and trial.transmit:
            o.transmit = True
            self._transmit_group(o.parent or o)
            return
        if o.status is not Status.HELD:
            self.listener.order_changed(o)
            self._evaluate(o, arriving=True)

    def cancel(self, client_id: int, order_id: int) -> None:
        """cancelOrder from a client: only the placing client may cancel (as at IB)."""
        o = self.by_key.get((client_id, order_id))
        if o is None:
            self._error(
                client_id,
                order_id,
                10147,
                f"OrderId {order_id} that needs to be cancelled is not found.",
            )
            return
        if o.status.done:
            self._error(
                client_id,
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {o.status.value}.",
            )
            return
        self._cancel_tree(o)

    def cancel_all(self) -> int:
        """reqGlobalCancel: every open order of every client and of the TWS screen."""
        roots = [o for o in self.open_orders() if o.parent is None or o.parent.status.done]
        count = 0
        for o in roots:
            count += self._cancel_tree(o)
        return count

    def _cancel_tree(self, o: SimOrder) -> int:
        count = 0
        for node in [o, *o.children]:
            if not node.status.done:
                self._finish(node, Status.CANCELLED, "Cancelled")
                self._error(node.client_id, node.order_id, 202, "Order Canceled - reason:")
                count += 1
        return count

    def expire_day_orders(self) -> None:
        """End of day: DAY orders die, as at the session close."""
        for o in self.open_orders():
            if o.tif == "DAY":
                self._finish(o, Status.CANCELLED, "Cancelled")

    def _finish(self, o: SimOrder, status: Status, why: str, notify: bool = True) -> None:
        self.live.pop(o.perm_id, None)
        o.status = status
        o.completed_time = self.clock()
        o.completed_status = why
        if notify:
            self.listener.order_changed(o)

    def _error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        self.listener.order_error(client_id, order_id, code, text)

    # ---- matching ---------------------------------------------------------------------------

    def on_quotes(self, con_ids: set[int]) -> None:
        """Re-evaluate working orders on instruments whose quotes just changed."""
        for o in list(self.live.values()):
            if o.inst.con_id in con_ids and o.active:
                self._evaluate(o, arriving=False)

    def _evaluate(self, o: SimOrder, arriving: bool) -> None:
        if o.active and self._tradable(o):
            self._match(o, arriving)
        if o.tif == "IOC" and arriving and o.active and o.remaining > 0:
            self._finish(o, Status.CANCELLED, "Cancelled")

    def _tradable(self, o: SimOrder) -> bool:
        if not self.config.follow_trading_hours:
            return True
        import datetime as dt

        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        liquid = o.inst.sec_type == "STK" and not o.outside_rth
        return o.inst.session.is_open(now, liquid=liquid)

    def _match(self, o: SimOrder, arriving: bool) -> None:
        q = self.market.quote(o.inst.con_id)
        kind = o.order_type
        if kind in rules.AUCTION_TYPES:
            self._auction(o, q.last)
            return
        if kind in rules.TRIGGERED and not o.triggered:
            if kind == "TRAIL":
                self._trail(o, q.last)
            if not rules.triggered_by(o, q.last):
                return
            # Triggering sends a new market or limit order: it meets the book as it is.
            o.triggered = True
            arriving = True
        touch, shown = (q.ask, q.ask_size) if o.sign > 0 else (q.bid, q.bid_size)
        if touch <= 0:
            return
        lmt = rules.working_limit(o, q)
        if lmt is not None:
            touched = touch <= lmt if o.sign > 0 else touch >= lmt
            traded = q.last > 0 and (q.last <= lmt if o.sign > 0 else q.last >= lmt)
            # A trade printed before the order arrived is history, not a fill for it.
            if not (touched or (traded and not arriving)):
                return
            price = touch if arriving and touched else lmt
        else:
            price = touch
        qty = o.fillable
        if self.config.partial_fills:
            qty = min(qty, max(shown, 1.0))
        if qty > 0:
            self.fill(o, qty, price)

    def _auction(self, o: SimOrder, last: float, force: bool = False) -> None:
        """An MOC/LOC order at its closing auction: all at the closing price, or (LOC out of
        its limit) nothing, and the order expires."""
        if (not force and self.clock() < o.auction_at) or last <= 0:
            return
        limit = o.lmt_price
        if limit is None or (last <= limit if o.sign > 0 else last >= limit):
            self.fill(o, o.fillable, last)
        else:
            self._finish(o, Status.CANCELLED, "Cancelled")

    def run_closing_auction(self, con_id: int | None = None) -> int:
        """Hold the closing auction now for every MOC/LOC order (of one instrument, or all);
        returns how many took part. The market clock holds it by itself at each close."""
        count = 0
        for o in self.open_orders():
            if (
                o.order_type in rules.AUCTION_TYPES
                and o.active
                and (con_id is None or o.inst.con_id == con_id)
            ):
                self._auction(o, self.mark(o.inst), force=True)
                count += 1
        return count

    def _trail(self, o: SimOrder, last: float) -> None:
        if last <= 0:
            return
        offset = o.aux_price if o.aux_price is not None else last * (o.trailing_percent or 0) / 100
        candidate = o.inst.round_to_tick(last + o.sign * offset)
        if (
            o.trail_stop_price is None
            or (o.sign < 0 and candidate > o.trail_stop_price)
            or (o.sign > 0 and candidate < o.trail_stop_price)
        ):
            o.trail_stop_price = candidate

    def fill(self, o: SimOrder, qty: float, price: float) -> None:
        """Book a fill of ``qty`` at ``price`` and run what follows from it."""
        acct = self.accounts[o.account]
        outcome = acct.apply_fill(o.inst, o.sign * qty, price)
        o.avg_fill_price = (o.avg_fill_price * o.filled + price * qty) / (o.filled + qty)
        o.filled += qty
        o.last_fill_price = price
        seq = next(self._exec_seq)
        execution = Execution(
            exec_id=f"0000{o.perm_id:08x}.{seq:08x}.01.01",
            time=self.clock(),
            account=o.account,
            inst=o.inst,
            side="BOT" if o.sign > 0 else "SLD",
            shares=qty,
            price=price,
            perm_id=o.perm_id,
            client_id=o.client_id,
            order_id=o.order_id,
            cum_qty=o.filled,
            avg_price=o.avg_fill_price,
            order_ref=o.order_ref,
            commission=outcome.commission,
            realized_pnl=outcome.realized,
            liquidity=2,
        )
        self.executions.append(execution)
        if o.remaining <= 1e-9:
            o.status = Status.FILLED
            self.live.pop(o.perm_id, None)
            o.completed_time = execution.time
            o.completed_status = "Filled"
        self.listener.order_filled(o, execution)
        for child in o.children:
            if child.status is Status.PRE_SUBMITTED:
                child.status = Status.SUBMITTED
                self.listener.order_changed(child)
        self._reduce_oca(o, qty)
        for child in o.children:
            if child.active:
                self._evaluate(child, arriving=False)

    def _reduce_oca(self, o: SimOrder, qty: float) -> None:
        if o.parent is not None:
            for sib in o.parent.children:
                if sib is not o and not sib.status.done:
                    self._shrink(sib, qty)
        if o.oca_group:
            for other in self.open_orders():
                if other is o or other.oca_group != o.oca_group or other.account != o.account:
                    continue
                if o.oca_type == 1:
                    self._finish(other, Status.CANCELLED, "Cancelled")
                elif other.parent is not o.parent or o.parent is None:
                    self._shrink(other, qty)

    def _shrink(self, o: SimOrder, qty: float) -> None:
        if o.total_qty - qty <= o.filled + 1e-9:
            # Nothing left to work: cancelled as it stands, its size still the one placed
            # (a bracket's stop after the target filled is a 1-lot cancelled, not a 0-lot).
            self._finish(o, Status.CANCELLED, "Cancelled")
        else:
            o.total_qty -= qty
            self.listener.order_changed(o)
