"""Server-to-client messages beyond the everyday ones (outbound.py): reference data, display
groups, bulletins, scanners, news, histograms and historical ticks.

As in outbound.py each function returns the message's fields; layouts are those both client
libraries and IB's own client decode at server version 176 (most of these have no version
field; those that do say so).
"""

from __future__ import annotations

from collections.abc import Sequence

from ibdesk.simtws.catalog import Instrument
from ibdesk.simtws.wire import fmt_float, fmt_int

# ---- the session and reference data ------------------------------------------------------------


def user_info(req_id: int, white_branding_id: str = "") -> list[str]:
    """userInfo: the white-branding id ("" for an account at IB itself)."""
    return ["107", fmt_int(req_id), white_branding_id]


def current_time_millis(millis: int) -> list[str]:
    """currentTimeInMillis."""
    return ["109", fmt_int(millis)]


def soft_dollar_tiers(req_id: int, tiers: Sequence[tuple[str, str, str]]) -> list[str]:
    """softDollarTiers: (name, value, display name) triples."""
    fields = ["77", fmt_int(req_id), str(len(tiers))]
    for tier in tiers:
        fields += list(tier)
    return fields


def family_codes(codes: Sequence[tuple[str, str]]) -> list[str]:
    """familyCodes: (account, family code) pairs."""
    fields = ["78", str(len(codes))]
    for account, code in codes:
        fields += [account, code]
    return fields


def smart_components(req_id: int, components: Sequence[tuple[int, str, str]]) -> list[str]:
    """smartComponents: (bit number, exchange, exchange letter) triples."""
    fields = ["82", fmt_int(req_id), str(len(components))]
    for bit, exchange, letter in components:
        fields += [fmt_int(bit), exchange, letter]
    return fields


def mkt_depth_exchanges(rows: Sequence[tuple[str, str, str, str, int]]) -> list[str]:
    """mktDepthExchanges: (exchange, secType, listing exchange, service type, agg group)."""
    fields = ["80", str(len(rows))]
    for exchange, sec_type, listing, service, group in rows:
        fields += [exchange, sec_type, listing, service, fmt_int(group)]
    return fields


def sec_def_opt_params_end(req_id: int) -> list[str]:
    """securityDefinitionOptionParameterEnd: no version field."""
    return ["76", fmt_int(req_id)]


def display_group_list(req_id: int, groups: str) -> list[str]:
    """displayGroupList: the group ids, ``|``-separated."""
    return ["67", "1", fmt_int(req_id), groups]


def display_group_updated(req_id: int, contract_info: str) -> list[str]:
    """displayGroupUpdated: the group's contract, ``conId@exchange`` ("" for none)."""
    return ["68", "1", fmt_int(req_id), contract_info]


def news_bulletin(msg_id: int, kind: int, text: str, exchange: str) -> list[str]:
    """updateNewsBulletin (kind 1: regular, 2: exchange unavailable, 3: available again)."""
    return ["14", "1", fmt_int(msg_id), fmt_int(kind), text, exchange]


# ---- scanners ---------------------------------------------------------------------------------


def scanner_parameters(xml: str) -> list[str]:
    """scannerParameters: the XML document of what scans exist."""
    return ["19", "1", xml]


def scanner_data(req_id: int, rows: Sequence[Instrument]) -> list[str]:
    """scannerData (version 3): ranked instruments, 16 fields each; it ends the answer."""
    fields = ["20", "3", fmt_int(req_id), str(len(rows))]
    for rank, inst in enumerate(rows):
        fields += [
            fmt_int(rank),
            fmt_int(inst.con_id),
            inst.symbol,
            inst.sec_type,
            inst.expiry,
            "0",
            "",
            inst.exchange,
            inst.currency,
            inst.local_symbol,
            inst.trading_class,  # marketName
            inst.trading_class,
            "",
            "",
            "",
            "",
        ]
    return fields


# ---- news -------------------------------------------------------------------------------------


def news_providers(providers: Sequence[tuple[str, str]]) -> list[str]:
    """newsProviders: (code, name) pairs; no version, no request id."""
    fields = ["85", str(len(providers))]
    for code, name in providers:
        fields += [code, name]
    return fields


def historical_news(
    req_id: int, time: str, provider: str, article: str, headline: str
) -> list[str]:
    """historicalNews: one headline (time as ``YYYY-MM-DD HH:MM:SS.0``)."""
    return ["86", fmt_int(req_id), time, provider, article, headline]


def historical_news_end(req_id: int, has_more: bool) -> list[str]:
    """historicalNewsEnd."""
    return ["87", fmt_int(req_id), "1" if has_more else "0"]


def news_article(req_id: int, text: str, binary: bool = False) -> list[str]:
    """newsArticle: type 0 is text, 1 a base64 PDF."""
    return ["83", fmt_int(req_id), "1" if binary else "0", text]


# ---- histograms and historical ticks ----------------------------------------------------------


def histogram_data(req_id: int, rows: Sequence[tuple[float, float]]) -> list[str]:
    """histogramData: (price, size) rows; sizes whole (ib_async reads them as ints)."""
    fields = ["89", fmt_int(req_id), str(len(rows))]
    for price, size in rows:
        fields += [fmt_float(price), fmt_int(round(size))]
    return fields


def historical_ticks_mid(
    req_id: int, ticks: Sequence[tuple[int, float]], done: bool = True
) -> list[str]:
    """historicalTicks (MIDPOINT): time, an unused field, price, size 0."""
    fields = ["96", fmt_int(req_id), str(len(ticks))]
    for when, price in ticks:
        fields += [fmt_int(when), "", fmt_float(price), "0"]
    return [*fields, "1" if done else "0"]


def historical_ticks_bid_ask(
    req_id: int, ticks: Sequence[tuple[int, float, float, float, float]], done: bool = True
) -> list[str]:
    """historicalTicksBidAsk: time, attribute mask, bid, ask, bid size, ask size."""
    fields = ["97", fmt_int(req_id), str(len(ticks))]
    for when, bid, ask, bid_size, ask_size in ticks:
        fields += [
            fmt_int(when),
            "0",
            fmt_float(bid),
            fmt_float(ask),
            fmt_float(bid_size),
            fmt_float(ask_size),
        ]
    return [*fields, "1" if done else "0"]


def historical_ticks_last(
    req_id: int, ticks: Sequence[tuple[int, float, float, str]], done: bool = True
) -> list[str]:
    """historicalTicksLast: time, attribute mask, price, size, exchange, conditions."""
    fields = ["98", fmt_int(req_id), str(len(ticks))]
    for when, price, size, exchange in ticks:
        fields += [fmt_int(when), "0", fmt_float(price), fmt_float(size), exchange, ""]
    return [*fields, "1" if done else "0"]
