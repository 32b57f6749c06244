"""Request handlers for contract lookup: details and matching symbols."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.registry import NO_DEFINITION, handles
from ibdesk.simtws.request import Request
from ibdesk.simtws.session import ClientSession
from ibdesk.simtws.wire import fmt_int

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer


@handles(9)
def req_contract_details(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqContractDetails: every match, then contractDetailsEnd; none is error 200."""
    req_id = req.integer(2)
    q = req.contract(3)
    found = server.catalog.lookup(q)
    if not found:
        s.send(out.error(req_id, 200, NO_DEFINITION, s.version))
        return
    sec_type = "CONTFUT" if q.sec_type.upper() == "CONTFUT" else ""
    for inst in found:
        shown = server.catalog.answer_contract(inst, q)
        s.send(out.contract_details(req_id, shown, s.version, server.catalog.today, sec_type))
    s.send(out.contract_details_end(req_id))


@handles(81)
def req_matching_symbols(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMatchingSymbols: instruments whose symbol or name starts with the pattern."""
    req_id = req.integer(1)
    pattern = req.text(2).upper()
    seen: dict[str, Instrument] = {}
    for inst in server.catalog.instruments.values():
        if inst.symbol.startswith(pattern) or inst.long_name.upper().startswith(pattern):
            key = inst.symbol if inst.sec_type == "FUT" else f"{inst.symbol}.{inst.sec_type}"
            seen.setdefault(key, inst)
    rows: list[str] = ["79", fmt_int(req_id), str(len(seen))]
    for inst in seen.values():
        sec_type = "IND" if inst.sec_type == "FUT" else inst.sec_type
        derivs = ["FUT"] if inst.sec_type == "FUT" else []
        rows += [
            fmt_int(inst.under_con_id or inst.con_id),
            inst.symbol,
            sec_type,
            inst.primary_exchange or inst.exchange,
            inst.currency,
            str(len(derivs)),
            *derivs,
        ]
        if s.version >= 176:
            rows += [inst.long_name, ""]
    s.send(rows)


@handles(91)
def req_market_rule(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqMarketRule: ``91, marketRuleId``; the increments of every rule contract details
    advertise (an unknown id has none: the answer still ends the client's wait)."""
    rule_id = req.integer(1)
    s.send(out.market_rule(rule_id, server.catalog.market_rules().get(rule_id, [])))
