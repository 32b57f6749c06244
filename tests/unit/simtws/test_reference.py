"""The stocks' reference data: every CUSIP well-formed, every ISIN derived from it."""

from __future__ import annotations

import pytest

from ibdesk.simtws.catalog import STOCKS
from ibdesk.simtws.reference import STOCK_REFERENCE, cusip_check_ok, isin_from_cusip


@pytest.mark.parametrize("symbol", sorted(STOCK_REFERENCE))
def test_every_cusip_carries_its_check_digit(symbol: str) -> None:
    cusip, listed = STOCK_REFERENCE[symbol]
    assert cusip_check_ok(cusip), cusip
    assert "19800102" <= listed <= "20251231"


def test_isins_follow_iso_6166() -> None:
    # Apple's and NVIDIA's published ISINs (a letter in the CUSIP for NVIDIA).
    assert isin_from_cusip("037833100") == "US0378331005"
    assert isin_from_cusip("67066G104") == "US67066G1040"


def test_every_listed_stock_has_reference_data() -> None:
    assert {s.symbol for s in STOCKS} == set(STOCK_REFERENCE)
    assert all(s.isin and s.listed for s in STOCKS)
