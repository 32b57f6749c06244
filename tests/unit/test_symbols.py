"""What a trader may type for a symbol, and what it means."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibdesk.domain.instruments import Instrument, SecType, SymbolError, SymbolKind, parse_symbol


@pytest.mark.parametrize(
    ("text", "kind", "symbol", "exchange"),
    [
        ("AAPL", SymbolKind.STOCK, "AAPL", "SMART"),
        (" aapl ", SymbolKind.STOCK, "AAPL", "SMART"),
        ("BRK.B", SymbolKind.STOCK, "BRK.B", "SMART"),
        ("ES", SymbolKind.FUTURE_ROOT, "ES", "CME"),
        ("mes", SymbolKind.FUTURE_ROOT, "MES", "CME"),
        ("CL", SymbolKind.FUTURE_ROOT, "CL", "NYMEX"),
        ("GC", SymbolKind.FUTURE_ROOT, "GC", "COMEX"),
        ("ESZ6", SymbolKind.FUTURE_LOCAL, "ES", "CME"),
        ("MNQH27", SymbolKind.FUTURE_LOCAL, "MNQ", "CME"),
        ("EUR.USD", SymbolKind.FOREX, "EUR", "IDEALPRO"),
        ("eur/usd", SymbolKind.FOREX, "EUR", "IDEALPRO"),
    ],
)
def test_parses(text: str, kind: SymbolKind, symbol: str, exchange: str) -> None:
    q = parse_symbol(text)
    assert (q.kind, q.symbol, q.exchange) == (kind, symbol, exchange)


@pytest.mark.parametrize("text", ["", "   ", "!!", "EUR.EUR", "12345", "A B C D E F G H I J K"])
def test_refusals_say_why(text: str) -> None:
    with pytest.raises(SymbolError) as caught:
        parse_symbol(text)
    assert str(caught.value)


@given(st.text(max_size=20))
def test_any_text_parses_or_is_refused_with_a_message(text: str) -> None:
    try:
        q = parse_symbol(text)
    except SymbolError as exc:
        assert str(exc)
    else:
        assert q.symbol and q.exchange


def test_instrument_ticks_and_expiry() -> None:
    es = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
    assert es.tick_value == 12.5
    assert es.round_to_tick(6800.13) == 6800.25
    assert es.on_tick(6800.75) and not es.on_tick(6800.1)
    assert es.days_to_expiry(dt.date(2026, 12, 8)) == 10
