"""Request handlers for market scanners: parameters, subscriptions, cancels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import outbound_reference as ref
from ibdesk.simtws.registry import handles
from ibdesk.simtws.request import Request
from ibdesk.simtws.scanner import DEFAULT_ROWS, ScanError, ScanSpec, parameters_xml, scan
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

#: Seconds between refreshes of a running subscription (TWS refreshes scans periodically).
REFRESH_SECONDS = 30.0


def _tag_values(text: str) -> dict[str, str]:
    """``"priceAbove=10;volumeAbove=1000;"`` as a dict."""
    pairs = (item.partition("=") for item in text.split(";") if "=" in item)
    return {k.strip(): v.strip() for k, _, v in pairs}


def _number(text: str) -> float | None:
    """A filter value; empty, unparsable or IB's unset double means no filter."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if abs(value) < 1e300 else None


def spec_of(req: Request) -> ScanSpec:
    """The subscription in a reqScannerSubscription: ``22, reqId, numberOfRows, instrument,
    locationCode, scanCode, abovePrice, belowPrice, aboveVolume, …, filterOptions (23)``."""
    rows = req.integer(2, -1)
    options = _tag_values(req.text(23))
    above = _number(options.get("priceAbove", req.text(6)))
    below = _number(options.get("priceBelow", req.text(7)))
    volume = _number(options.get("volumeAbove", req.text(8)))
    return ScanSpec(
        rows=rows if 0 < rows <= DEFAULT_ROWS else DEFAULT_ROWS,
        instrument=req.text(3).upper(),
        location=req.text(4).upper(),
        scan_code=req.text(5).upper(),
        above_price=above,
        below_price=below,
        above_volume=volume,
    )


def send_scan(server: SimServer, s: ClientSession, req_id: int, spec: ScanSpec) -> bool:
    """One scannerData answer; False (and TWS's refusal) for a scan it does not know."""
    try:
        rows = scan(spec, server.catalog, server.market)
    except ScanError as exc:
        s.send(out.error(req_id, 321, f"Error validating request.-'bJ' : cause - {exc}", s.version))
        return False
    s.send(ref.scanner_data(req_id, rows))
    return True


@handles(24)
def req_scanner_parameters(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqScannerParameters: ``24, 1``."""
    s.send(ref.scanner_parameters(parameters_xml()))


@handles(22)
def req_scanner_subscription(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqScannerSubscription: results now, then a refresh every half minute."""
    req_id = req.integer(1)
    if req_id in s.subs.scanners:
        s.send(
            out.error(req_id, 385, "Duplicate ticker ID for API scanner subscription", s.version)
        )
        return
    spec = spec_of(req)
    if send_scan(server, s, req_id, spec):
        s.subs.scanners[req_id] = spec


@handles(23)
def cancel_scanner_subscription(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelScannerSubscription: ``23, 1, reqId``."""
    s.subs.scanners.pop(req.integer(2), None)


def refresh_scanners(server: SimServer) -> None:
    """Re-send every running scan (the market clock calls this every REFRESH_SECONDS)."""
    for s in list(server.by_client.values()):
        for req_id, spec in list(s.subs.scanners.items()):
            send_scan(server, s, req_id, spec)
