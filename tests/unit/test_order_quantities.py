"""Filled quantities the library cannot give (found by ``benchmarks.chaos``): built on the
library's own objects, exactly as its wrapper builds them."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.broker.translate import snapshot_of
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side

lib: Any = shim.lib
ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")


def working(ref: str = "ticket#1.15") -> OrderSnapshot:
    return OrderSnapshot(ref, ES, Side.BUY, 1, OrderType.LIMIT, OrderState.WORKING, "DU1", 6800.0)


def from_open_order(status: str, ref: str = "ticket#1.15") -> Any:
    """A trade as the library makes it from an openOrder of an order it held no trade for
    (its wrapper's ``openOrder``): the status has no quantities and the order no filled
    quantity (openOrder does not carry one)."""
    contract = lib.Future(conId=ES.con_id, symbol="ES", exchange="CME")
    order = lib.LimitOrder("BUY", 1, 6800.0, orderId=15, clientId=1, orderRef=ref)
    return lib.Trade(contract, order, lib.OrderStatus(orderId=15, status=status), [], [])


def test_an_order_the_broker_says_is_filled_has_filled_its_quantity() -> None:
    """Seed 270 (a drop right behind a bracket, 1-byte writes): the entry filled just after
    the reconnect, before the library held a trade for it; its orderStatus found no trade,
    and the openOrder that followed made one saying Filled, 0 filled. The desk showed the
    order Filled with nothing filled."""
    snap = snapshot_of(from_open_order("Filled"), ES, working(), 0.0)
    assert snap is not None
    assert (snap.state, snap.filled) == (OrderState.FILLED, 1)
    assert math.isnan(snap.avg_fill_price)  # not known from this message: not made up


def test_a_working_or_cancelled_order_without_quantities_keeps_what_was_known() -> None:
    known = dataclasses.replace(working(), filled=0.0)
    assert snapshot_of(from_open_order("Submitted"), ES, known, 0.0).filled == 0
    assert snapshot_of(from_open_order("Cancelled"), ES, known, 0.0).filled == 0
