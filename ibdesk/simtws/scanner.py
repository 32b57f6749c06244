"""Market scanners over the simulator's stocks: the parameters document and the scans.

The parameters are a subset of TWS's XML (instruments, locations, scan types, filters), with
the scans the simulator can answer from its own market: most active by volume, top gainers
and losers against the previous close, and hot by volume (today's volume against a typical
day's). Rows are IB's: rank, contract, market name; distance, benchmark, projection empty.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from ibdesk.simtws.catalog import Catalog, Instrument
from ibdesk.simtws.history_volume import daily_volume
from ibdesk.simtws.market import Market, Quote

SCAN_TYPES: dict[str, str] = {
    "MOST_ACTIVE": "Most Active",
    "TOP_PERC_GAIN": "Top % Gainers",
    "TOP_PERC_LOSE": "Top % Losers",
    "HOT_BY_VOLUME": "Hot by Volume",
}
#: location code -> primary exchanges it covers (None: every US stock).
LOCATIONS: dict[str, tuple[str, ...] | None] = {
    "STK.US": None,
    "STK.US.MAJOR": None,
    "STK.NASDAQ": ("NASDAQ",),
    "STK.NYSE": ("NYSE",),
    "STK.ARCA": ("ARCA",),
}
FILTERS = ("priceAbove", "priceBelow", "volumeAbove")
DEFAULT_ROWS = 50


class ScanError(ValueError):
    """A subscription TWS refuses (unknown instrument, location or scan code)."""


@dataclass(frozen=True, slots=True)
class ScanSpec:
    """What a reqScannerSubscription asks for."""

    rows: int
    instrument: str
    location: str
    scan_code: str
    above_price: float | None = None
    below_price: float | None = None
    above_volume: float | None = None


def parameters_xml() -> str:
    """The scanner parameters document (a subset of TWS's, same element names)."""
    root = ET.Element("ScanParameterResponse")
    instruments = ET.SubElement(root, "InstrumentList", varName="instrumentList")
    inst = ET.SubElement(instruments, "Instrument")
    ET.SubElement(inst, "name").text = "US Stocks"
    ET.SubElement(inst, "type").text = "STK"
    ET.SubElement(inst, "filters").text = ",".join(FILTERS)
    tree = ET.SubElement(root, "LocationTree", varName="locationTree")
    top = ET.SubElement(tree, "Location")
    ET.SubElement(top, "displayName").text = "US Stocks"
    ET.SubElement(top, "locationCode").text = "STK.US"
    ET.SubElement(top, "instruments").text = "STK"
    inner = ET.SubElement(top, "LocationTree")
    for code in LOCATIONS:
        if code == "STK.US":
            continue
        loc = ET.SubElement(inner, "Location")
        ET.SubElement(loc, "displayName").text = code.split(".", 1)[1].replace(".", " ")
        ET.SubElement(loc, "locationCode").text = code
        ET.SubElement(loc, "instruments").text = "STK"
    scans = ET.SubElement(root, "ScanTypeList", varName="scanTypeList")
    for code, name in SCAN_TYPES.items():
        scan = ET.SubElement(scans, "ScanType")
        ET.SubElement(scan, "displayName").text = name
        ET.SubElement(scan, "scanCode").text = code
        ET.SubElement(scan, "instruments").text = "STK"
    filters = ET.SubElement(root, "FilterList", varName="filterList")
    for name in FILTERS:
        f = ET.SubElement(filters, "SimpleFilter")
        ET.SubElement(f, "id").text = name
        ET.SubElement(f, "category").text = "Price" if "price" in name else "Volume"
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _change(q: Quote) -> float:
    return (q.last - q.close) / q.close if q.close > 0 and q.last > 0 else 0.0


def scan(spec: ScanSpec, catalog: Catalog, market: Market) -> list[Instrument]:
    """The instruments a scan returns, best first.

    Raises:
        ScanError: an instrument, location or scan code the scanner does not know.
    """
    if spec.instrument != "STK":
        raise ScanError(f"Invalid instrument type {spec.instrument!r}")
    if spec.location not in LOCATIONS:
        raise ScanError(f"Invalid location code {spec.location!r}")
    if spec.scan_code not in SCAN_TYPES:
        raise ScanError(f"Invalid scan code {spec.scan_code!r}")
    exchanges = LOCATIONS[spec.location]
    found: list[tuple[Instrument, Quote]] = []
    for inst in catalog.instruments.values():
        if inst.sec_type != "STK" or (exchanges and inst.primary_exchange not in exchanges):
            continue
        q = market.quote(inst.con_id)
        if spec.above_price is not None and not q.last > spec.above_price:
            continue
        if spec.below_price is not None and not q.last < spec.below_price:
            continue
        if spec.above_volume is not None and not q.volume > spec.above_volume:
            continue
        found.append((inst, q))
    keys: dict[str, Callable[[tuple[Instrument, Quote]], float]] = {
        "MOST_ACTIVE": lambda row: -row[1].volume,
        "TOP_PERC_GAIN": lambda row: -_change(row[1]),
        "TOP_PERC_LOSE": lambda row: _change(row[1]),
        "HOT_BY_VOLUME": lambda row: -row[1].volume / daily_volume(row[0]),
    }
    found.sort(key=keys[spec.scan_code])
    if spec.scan_code == "TOP_PERC_GAIN":
        found = [row for row in found if _change(row[1]) > 0]
    elif spec.scan_code == "TOP_PERC_LOSE":
        found = [row for row in found if _change(row[1]) < 0]
    return [inst for inst, _ in found[: spec.rows]]
