"""Request handlers for the smaller requests every client library offers: user info, soft
dollar tiers, family codes, SMART components, depth exchanges, option chains, display groups,
news bulletins, the server log level and the time in milliseconds.

Each gets the answer a paper account at TWS gets: often an empty list, never silence where
TWS answers, and never a refusal where TWS has data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import outbound_reference as ref
from ibdesk.simtws.registry import handles
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

#: The exchanges behind the BBO exchange code tickReqParams gives US stocks (bit, name,
#: letter), as reqSmartComponents maps them.
US_STOCK_COMPONENTS = (
    (0, "NYSE", "N"),
    (1, "ARCA", "P"),
    (2, "NASDAQ", "T"),
    (3, "AMEX", "A"),
    (4, "CHX", "M"),
    (5, "ISE", "I"),
    (6, "IEX", "V"),
)
#: TWS's display groups (the colour links of its windows).
DISPLAY_GROUPS = "1|2|3|4|5|6|7"


@handles(104)
def req_user_info(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqUserInfo: ``104, reqId``; no white branding at IB itself."""
    s.send(ref.user_info(req.integer(1)))


@handles(105)
def req_current_time_in_millis(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqCurrentTimeInMillis (clients send it from server version 197; answered anyway)."""
    s.send(ref.current_time_millis(int(server.clock() * 1000)))


@handles(79)
def req_soft_dollar_tiers(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqSoftDollarTiers: ``79, reqId``; an individual account has none."""
    s.send(ref.soft_dollar_tiers(req.integer(1), []))


@handles(80)
def req_family_codes(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqFamilyCodes: ``80``; individual accounts belong to no family."""
    s.send(ref.family_codes([]))


@handles(83)
def req_smart_components(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqSmartComponents: ``83, reqId, bboExchange``; the stocks' code has components."""
    req_id, code = req.integer(1), req.text(2)
    s.send(ref.smart_components(req_id, US_STOCK_COMPONENTS if code == "9c0001" else []))


@handles(82)
def req_mkt_depth_exchanges(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMktDepthExchanges: ``82``; no deep book is offered, so none."""
    s.send(ref.mkt_depth_exchanges([]))


@handles(78)
def req_sec_def_opt_params(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqSecDefOptParams: ``78, reqId, symbol, futFopExchange, secType, conId``; the
    simulator lists no options, so the answer is its end alone."""
    s.send(ref.sec_def_opt_params_end(req.integer(1)))


@handles(67)
def query_display_groups(server: SimServer, s: ClientSession, req: Request) -> None:
    """queryDisplayGroups: ``67, 1, reqId``."""
    s.send(ref.display_group_list(req.integer(2), DISPLAY_GROUPS))


@handles(68)
def subscribe_to_group_events(server: SimServer, s: ClientSession, req: Request) -> None:
    """subscribeToGroupEvents: ``68, 1, reqId, groupId``; the group's contract follows."""
    req_id, group = req.integer(2), req.integer(3)
    s.subs.display_groups[req_id] = group
    s.send(ref.display_group_updated(req_id, server.display_groups.get(group, "")))


@handles(69)
def update_display_group(server: SimServer, s: ClientSession, req: Request) -> None:
    """updateDisplayGroup: ``69, 1, reqId, contractInfo``; every subscriber of the group
    the request's subscription names hears of it."""
    req_id, info = req.integer(2), req.text(3)
    group = s.subs.display_groups.get(req_id)
    if group is None:
        s.send(ref.display_group_updated(req_id, info))
        return
    server.display_groups[group] = info
    for other in list(server.by_client.values()):
        for rid, g in other.subs.display_groups.items():
            if g == group:
                other.send(ref.display_group_updated(rid, info))


@handles(70)
def unsubscribe_from_group_events(server: SimServer, s: ClientSession, req: Request) -> None:
    """unsubscribeFromGroupEvents."""
    s.subs.display_groups.pop(req.integer(2), None)


@handles(12)
def req_news_bulletins(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqNewsBulletins: ``12, 1, allMessages``; bulletins come when IB (the control port's
    ``news_bulletin``) sends one, the earlier ones too when all are asked for."""
    s.subs.bulletins = True
    if req.flag(2):
        for msg_id, kind, text, exchange in server.bulletins:
            s.send(ref.news_bulletin(msg_id, kind, text, exchange))


@handles(13)
def cancel_news_bulletins(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelNewsBulletins."""
    s.subs.bulletins = False


@handles(14)
def set_server_log_level(server: SimServer, s: ClientSession, req: Request) -> None:
    """setServerLogLevel: ``14, 1, level`` (1..5); TWS answers nothing unless it is bad."""
    level = req.integer(2)
    if not 1 <= level <= 5:
        s.send(out.error(-1, 319, "Invalid log level", s.version))


@handles(106)
def cancel_contract_data(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelContractData: contract details are answered at once, nothing is pending."""


@handles(107)
def cancel_historical_ticks(server: SimServer, s: ClientSession, req: Request) -> None:
    """cancelHistoricalTicks: historical ticks are answered at once, nothing is pending."""
