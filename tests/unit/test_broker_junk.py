"""What the broker layer refuses to store as fact (issue 12, findings 6 and 13).

Built on the client library's own objects (Execution, Fill, Trade, Ticker), exactly as the
library hands them to the translation, with the junk a hostile or broken stream carries.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import pytest

from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.translate import fill_of, ref_of, snapshot_of
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.market import Quote
from ibdesk.domain.orders import Side

lib: Any = shim.lib
ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
CL = Instrument(12, "CL", SecType.FUTURE, "NYMEX", "USD", "CLF7", 1000, 0.01, "20261218")
AAPL = Instrument(13, "AAPL", SecType.STOCK, "SMART", "USD", "AAPL", 1, 0.01)


# ---- fills --------------------------------------------------------------------------------


def a_fill(**execution: Any) -> Any:
    fields: dict[str, Any] = {
        "execId": "0001f4e8.6571.01.01",
        "time": dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC),
        "acctNumber": "DU1234567",
        "side": "BOT",
        "shares": 2.0,
        "price": 6800.25,
        "permId": 9001,
        "clientId": 1,
        "orderId": 7,
        "orderRef": "ticket#a1b2c3",
    }
    fields.update(execution)
    contract = lib.Future(conId=ES.con_id, symbol="ES", exchange="CME")
    return lib.Fill(contract, lib.Execution(**fields), lib.CommissionReport(), fields["time"])


def test_a_sane_fill_is_kept() -> None:
    snap = fill_of(a_fill(), ES, "ticket#a1b2c3")
    assert snap is not None
    assert (snap.side, snap.qty, snap.price) == (Side.BUY, 2.0, 6800.25)


@pytest.mark.parametrize(
    ("junk", "why"),
    [
        ({"shares": -5.0}, "quantity"),
        ({"shares": 0.0}, "quantity"),
        ({"shares": math.inf}, "quantity"),
        ({"price": math.nan}, "price"),
        ({"price": math.inf}, "price"),
        ({"price": 1e23}, "price"),
        ({"side": "XYZ"}, "side"),
        ({"side": ""}, "side"),
        ({"execId": ""}, "execution id"),
        ({"permId": 0, "orderId": 0, "orderRef": ""}, "order"),
    ],
)
def test_a_junk_fill_is_refused_and_said(
    junk: dict[str, Any], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert fill_of(a_fill(**junk), ES, "ticket#a1b2c3") is None
    assert any(why in r.getMessage() for r in caplog.records), caplog.text


def test_a_fill_for_no_contract_is_refused() -> None:
    fill = a_fill()
    fill.contract.conId = 0
    assert fill_of(fill, ES, "ticket#a1b2c3") is None


def test_a_negative_price_is_a_fill_only_for_a_future() -> None:
    assert fill_of(a_fill(price=-37.63), CL, "ext:1") is not None  # CL, 20 April 2020
    assert fill_of(a_fill(price=-1.0), AAPL, "ext:1") is None


# ---- orders -------------------------------------------------------------------------------


def a_trade(action: str = "SELL", **order: Any) -> Any:
    fields: dict[str, Any] = {
        "orderId": 7,
        "clientId": 1,
        "permId": 9001,
        "action": action,
        "totalQuantity": 100.0,
        "orderType": "LMT",
        "lmtPrice": 190.5,
        "tif": "DAY",
        "account": "DU1234567",
        "orderRef": "ext-ref",
    }
    fields.update(order)
    contract = lib.Stock(conId=AAPL.con_id, symbol="AAPL", exchange="SMART", currency="USD")
    status = lib.OrderStatus(orderId=7, status="Submitted")
    return lib.Trade(contract, lib.Order(**fields), status, [], [])


@pytest.mark.parametrize("action", ["SSHORT", "SSHORTX", "SLONG", "SELL"])
def test_short_sale_actions_are_sells(action: str) -> None:
    snap = snapshot_of(a_trade(action), AAPL, None, 0.0)
    assert snap is not None and snap.side is Side.SELL


def test_an_unknown_action_is_refused_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert snapshot_of(a_trade("XYZ"), AAPL, None, 0.0) is None
    assert "XYZ" in caplog.text


def test_a_junk_quantity_is_refused() -> None:
    assert snapshot_of(a_trade(totalQuantity=-5.0), AAPL, None, 0.0) is None
    assert snapshot_of(a_trade(totalQuantity=math.nan), AAPL, None, 0.0) is None


def test_a_megabyte_order_ref_and_reason_are_clamped() -> None:
    trade = a_trade(orderRef="r" * (1 << 20))
    said = "Error 202, reqId 7: " + "y" * (1 << 20)
    trade.log.append(lib.TradeLogEntry(dt.datetime.now(dt.UTC), "Cancelled", said, 202))
    trade.orderStatus.status = "Cancelled"
    snap = snapshot_of(trade, AAPL, None, 0.0)
    assert snap is not None
    assert len(snap.ref) <= 100
    assert len(snap.reason) <= 600
    assert ref_of(trade) == snap.ref
    assert ref_of(a_trade(orderRef="r" * 5000)) != ref_of(a_trade(orderRef="r" * 5001))


# ---- quotes -------------------------------------------------------------------------------


def a_ticker(**values: float) -> Any:
    ticker = lib.Ticker(contract=lib.Future(conId=ES.con_id))
    for name, value in {"bid": 6800.0, "ask": 6800.25, "last": 6800.0, **values}.items():
        setattr(ticker, name, value)
    return ticker


SANE = Quote(ES.con_id, 6800.0, 6800.25, 6800.0, 5, 7, 1, 1000, 6790.0, 6812.0, 6780.0, 1.0)


def test_a_high_of_1e23_is_refused_and_the_last_sane_one_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    quote = translate.quote(ES.con_id, a_ticker(high=1e23, low=6780.0), SANE, ES)
    assert quote.high == 6812.0
    assert quote.bid == 6800.0
    assert "high" in caplog.text


def test_the_first_quote_is_judged_against_its_own_median() -> None:
    quote = translate.quote(ES.con_id, a_ticker(high=1e23, close=6790.0), None, ES)
    assert math.isnan(quote.high)
    assert quote.last == 6800.0 and quote.close == 6790.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bid", math.inf),
        ("ask", -math.inf),
        ("last", 68_001.0),  # ten times away from 6800
        ("last", 679.0),
        ("low", -5.0),  # ES is nowhere near zero: a negative price is junk
        ("bid", 1e12),
    ],
)
def test_absurd_prices_are_refused(field: str, value: float) -> None:
    quote = translate.quote(ES.con_id, a_ticker(**{field: value}), SANE, ES)
    assert getattr(quote, field) == getattr(SANE, field)


def test_a_future_near_zero_may_go_negative() -> None:
    near_zero = Quote(CL.con_id, 1.0, 1.02, 1.01)
    ticker = a_ticker(bid=-37.7, ask=-37.6, last=-37.63)
    quote = translate.quote(CL.con_id, ticker, near_zero, CL)
    assert quote.last == -37.63


def test_a_stock_never_trades_at_or_below_zero() -> None:
    sane = Quote(AAPL.con_id, 190.0, 190.02, 190.01)
    quote = translate.quote(AAPL.con_id, a_ticker(bid=-2.0, ask=190.02, last=0.0), sane, AAPL)
    assert quote.bid == 190.0 and quote.last == 190.01


def test_minus_one_is_no_quote_not_junk() -> None:
    quote = translate.quote(ES.con_id, a_ticker(bid=-1.0), SANE, ES)
    assert math.isnan(quote.bid)


def test_negative_sizes_are_refused() -> None:
    quote = translate.quote(ES.con_id, a_ticker(bidSize=-5.0, volume=-1.0, askSize=3.0), SANE, ES)
    assert quote.bid_size == SANE.bid_size and quote.volume == SANE.volume
    assert quote.ask_size == 3.0


def test_a_moving_market_is_followed() -> None:
    quote = translate.quote(ES.con_id, a_ticker(bid=6850.0, ask=6850.25, last=6850.0), SANE, ES)
    assert (quote.bid, quote.ask, quote.last) == (6850.0, 6850.25, 6850.0)


# ---- strings ------------------------------------------------------------------------------


def test_broker_text_is_clamped() -> None:
    text = translate.text("e" * (1 << 20))
    assert len(text) <= translate.MAX_TEXT + 40
    assert "characters cut" in text
    assert translate.text("short") == "short"


def test_instrument_strings_are_clamped() -> None:
    contract = lib.Future(
        conId=5, symbol="S" * (1 << 20), exchange="E" * 5000, localSymbol="L" * 5000
    )
    inst = translate.instrument(contract)
    assert len(inst.symbol) <= 64 and len(inst.exchange) <= 64 and len(inst.local_symbol) <= 64


# ---- accounts -----------------------------------------------------------------------------


def test_a_megabyte_account_code_is_clamped_before_it_becomes_a_key() -> None:
    from ibdesk.broker.accounts import AccountFeed
    from ibdesk.broker.instruments import InstrumentResolver
    from ibdesk.broker.session import BrokerSession
    from ibdesk.config import ConnectionSettings
    from ibdesk.state.account import AccountStore, PositionStore
    from ibdesk.state.link import LinkStore

    session = BrokerSession(ConnectionSettings(), LinkStore())
    accounts = AccountStore()
    feed = AccountFeed(session, InstrumentResolver(session.ib), accounts, PositionStore())
    code = "DU" + "1" * (1 << 20)
    feed._on_account_value(lib.AccountValue(code, "NetLiquidation", "100", "USD", ""))
    feed._on_pnl(lib.PnL(code, "", 1.0, 2.0, 3.0))
    assert accounts.accounts and all(len(a) <= translate.MAX_NAME for a in accounts.accounts)
