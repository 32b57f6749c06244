"""Closing orders of the kill's own connection (``ibdesk kill --flatten``, the kill window).

They take their ids as the desk's orders do: above the broker's nextValidId **and** above the
journal's floor for the kill's client id, so a gateway that rolled nextValidId back after a
restart never gets an id twice (it refuses the second as a duplicate, and the position stays
open). An absurd nextValidId is refused, not used (ibdesk.trading.ids). Each closing order is
journaled with its intent before it is sent, and its last state afterwards, under an orderRef
naming its source (``flatten:cli#102.7``). They do not pass the desk's gate: there is no desk
here, and a flatten's exits are exempt from its limits anyway.
"""

from __future__ import annotations

import time
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.translate import snapshot_of
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side, Source, order_ref
from ibdesk.domain.risk import PositionLine
from ibdesk.trading.ids import IdFloorStore, OrderIdError, OrderIds
from ibdesk.trading.journal import Journal


class _NoFloor:
    """No journal to keep a floor in: the broker's nextValidId alone (as IB's samples do)."""

    def id_floor(self, client_id: int) -> int:
        return 1

    def raise_id_floor(self, client_id: int, next_id: int) -> int:
        return next_id


class ClosingOrders:
    """Market orders that close positions, numbered and journaled like the desk's."""

    def __init__(self, ib: Any, who: str, journal: Journal | None) -> None:
        self.ib = ib
        self.source = Source("flatten", who.replace("#", ""))
        self.journal = journal
        floors: IdFloorStore = journal if journal is not None else _NoFloor()
        self.ids = OrderIds(shim.LibraryIdPort(ib), floors)
        self.sent: list[tuple[Any, Instrument, OrderSnapshot]] = []

    async def close(self, positions: list[PositionLine]) -> list[str]:
        """A market order against each position; what was sent (or why not), in words."""
        done = []
        for pos in positions:
            [contract] = await shim.qualify(self.ib, shim.Contract(conId=pos.con_id))
            if contract is None:
                done.append(f"{pos.symbol}: contract not found, NOT closed")
                continue
            try:
                [order_id] = self.ids.take(1)
            except OrderIdError as exc:
                done.append(f"{pos.symbol}: NOT closed: {exc}")
                continue
            side = Side.SELL if pos.qty > 0 else Side.BUY
            self._send(contract, pos, side, order_id)
            done.append(f"{side.value} {abs(pos.qty):g} {pos.symbol}")
        return done

    def _send(self, contract: Any, pos: PositionLine, side: Side, order_id: int) -> None:
        inst = translate.instrument(contract)
        client_id = self.ids.port.client_id
        ref = order_ref(self.source, client_id, order_id)
        qty = abs(pos.qty)
        now = time.time()
        snap = OrderSnapshot(
            ref, inst, side, qty, OrderType.MARKET, OrderState.QUEUED, pos.account,
            order_id=order_id, client_id=client_id, created=now, updated=now,
        )  # fmt: skip
        if self.journal is not None:
            details = {"symbol": inst.display, "con_id": inst.con_id, "side": side.value}
            details |= {"qty": qty, "type": "MKT", "order_id": order_id}
            self.journal.intent(ref, "order", str(self.source), pos.account, details)
            self.journal.order(snap)
        order = shim.MarketOrder(side.value, qty, account=pos.account, orderRef=ref)
        order.orderId = order_id
        trade = self.ib.placeOrder(contract, order)
        self.sent.append((trade, inst, snap))

    def record_outcomes(self) -> None:
        """Journal each closing order's last state as the broker reported it."""
        if self.journal is None:
            return
        for trade, inst, snap in self.sent:
            outcome = snapshot_of(trade, inst, snap, time.time())
            if outcome is not None:
                self.journal.order(outcome)
