"""Requests a paper account cannot have, answered with IB's own refusal and the request's id
(never a silent drop, never "unknown message id"): market depth without a depth
subscription, fundamentals, Wall Street Horizon, financial-advisor data, option exercise and
calculations (the simulator lists no options), and the ISV verification handshake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.catalog import ContractQuery
from ibdesk.simtws.registry import handles, resolve
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

DEPTH_NOT_SUPPORTED = (
    "Deep market data is not supported for this combination of security type/exchange"
)
NOT_SUBSCRIBED = (
    "Requested market data is not subscribed. Check API status by selecting the Account menu "
    "then under Management choose Market Data Subscription Manager and/or availability of "
    "delayed data."
)
FUNDAMENTALS_NOT_ALLOWED = "Fundamentals data is not allowed."
NEWS_FEED_NOT_ALLOWED = "News feed is not allowed."
NOT_FA = "Error validating request.-'b9' : cause - FA data operations ignored for non FA customers."
NOT_OPTION = "Error validating request.-'bA' : cause - Only options can be exercised or valued"
NO_VERIFY = "Error validating request.-'bV' : cause - API verification is not required"


def refuse(s: ClientSession, req_id: int, code: int, text: str) -> None:
    """Send IB's refusal of one request."""
    s.send(out.error(req_id, code, text, s.version))


def _option_or_refusal(server: SimServer, s: ClientSession, req_id: int, q: ContractQuery) -> None:
    """A request about an option: 200 when there is no such contract (there never is), 321
    for a contract that is not an option."""
    if resolve(server, s, req_id, q) is not None:
        refuse(s, req_id, 321, NOT_OPTION)


@handles(10)
def req_mkt_depth(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMktDepth: ``10, 5, reqId, C(12), numRows, isSmartDepth, options``. SMART without
    smart depth is 10092, as at IB; anything else needs a depth subscription (354)."""
    req_id = req.integer(2)
    q = req.contract(3)
    if resolve(server, s, req_id, q) is None:
        return
    smart = q.exchange.upper() == "SMART"
    if smart and not req.flag(16):
        refuse(s, req_id, 10092, DEPTH_NOT_SUPPORTED)
    else:
        refuse(s, req_id, 354, NOT_SUBSCRIBED)


@handles(11)
def cancel_mkt_depth(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelMktDepth: no depth is ever subscribed, so there is nothing to end."""


@handles(52)
def req_fundamental_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqFundamentalData: ``52, 2, reqId, …``; not allowed, as for every account since IB
    dropped its fundamentals feed."""
    refuse(s, req.integer(2), 10358, FUNDAMENTALS_NOT_ALLOWED)


@handles(53)
def cancel_fundamental_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelFundamentalData."""


@handles(100)
def req_wsh_meta_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqWshMetaData: ``100, reqId``; a paper account has no Wall Street Horizon feed."""
    refuse(s, req.integer(1), 10276, NEWS_FEED_NOT_ALLOWED)


@handles(102)
def req_wsh_event_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqWshEventData: ``102, reqId, conId, …``."""
    refuse(s, req.integer(1), 10276, NEWS_FEED_NOT_ALLOWED)


@handles(101)
def cancel_wsh_meta_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelWshMetaData."""


@handles(103)
def cancel_wsh_event_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelWshEventData."""


@handles(18)
def request_fa(server: SimServer, s: ClientSession, req: Request) -> None:
    """requestFA: ``18, 1, faDataType``; the accounts are not an advisor's."""
    refuse(s, -1, 321, NOT_FA)


@handles(19)
def replace_fa(server: SimServer, s: ClientSession, req: Request) -> None:
    """replaceFA: ``19, 1, faDataType, xml, reqId``."""
    refuse(s, req.integer(4, -1), 321, NOT_FA)


@handles(21)
def exercise_options(server: SimServer, s: ClientSession, req: Request) -> None:
    """exerciseOptions: ``21, 2, reqId, C(11 fields, no primaryExchange), …``."""
    req_id = req.integer(2)
    req.need(14)
    f = req.fields[3:14]
    try:
        q = ContractQuery.from_fields([*f[:8], "", *f[8:]])
    except ValueError as exc:
        raise RequestError(f"bad contract in message 21: {exc}") from exc
    _option_or_refusal(server, s, req_id, q)


@handles(54)
def calculate_implied_volatility(server: SimServer, s: ClientSession, req: Request) -> None:
    """calculateImpliedVolatility: ``54, 3, reqId, C(12), optionPrice, underPrice, …``."""
    _option_or_refusal(server, s, req.integer(2), req.contract(3))


@handles(55)
def calculate_option_price(server: SimServer, s: ClientSession, req: Request) -> None:
    """calculateOptionPrice: ``55, 3, reqId, C(12), volatility, underPrice, …``."""
    _option_or_refusal(server, s, req.integer(2), req.contract(3))


@handles(56)
def cancel_calculate_implied_volatility(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelCalculateImpliedVolatility."""


@handles(57)
def cancel_calculate_option_price(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelCalculateOptionPrice."""


@handles(65)
def verify_request(server: SimServer, s: ClientSession, req: Request) -> None:
    """verifyRequest: only for vendors TWS asks to verify; this TWS asks no one."""
    refuse(s, -1, 321, NO_VERIFY)


@handles(66)
def verify_message(server: SimServer, s: ClientSession, req: Request) -> None:
    """verifyMessage."""
    refuse(s, -1, 321, NO_VERIFY)


@handles(72)
def verify_and_auth_request(server: SimServer, s: ClientSession, req: Request) -> None:
    """verifyAndAuthRequest."""
    refuse(s, -1, 321, NO_VERIFY)


@handles(73)
def verify_and_auth_message(server: SimServer, s: ClientSession, req: Request) -> None:
    """verifyAndAuthMessage."""
    refuse(s, -1, 321, NO_VERIFY)
