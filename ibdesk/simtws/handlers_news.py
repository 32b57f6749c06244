"""Request handlers for news: providers, historical headlines, articles (news.py's archive)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibdesk.simtws import outbound as out
from ibdesk.simtws import outbound_reference as ref
from ibdesk.simtws.catalog import ContractQuery
from ibdesk.simtws.history_request import HistoryRequestError, parse_end
from ibdesk.simtws.news import MAX_RESULTS, PROVIDERS, article_text, headlines, news_time
from ibdesk.simtws.registry import handles, resolve
from ibdesk.simtws.request import Request, RequestError
from ibdesk.simtws.session import ClientSession
from ibdesk.simtws.throttle import show

if TYPE_CHECKING:
    from ibdesk.simtws.server import SimServer

NOT_ALLOWED = "News feed is not allowed."
NO_ARTICLE = "Failed to request news article: No data available"


def news_bound(text: str, default: float) -> float:
    """A start or end time of a news request: ``""`` (open), IB's ``YYYY-MM-DD
    HH:MM:SS.0`` or the ``YYYYMMDD HH:MM:SS [zone]`` the client libraries send."""
    text = text.strip()
    if not text:
        return default
    if len(text) >= 10 and text[4] == "-":
        text = text[:10].replace("-", "") + " " + (text[11:19] or "00:00:00") + " UTC"
    try:
        return parse_end(text, default)
    except HistoryRequestError as exc:
        raise RequestError(f"news time {show(text)}: {exc}") from exc


@handles(85)
def req_news_providers(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqNewsProviders: ``85``."""
    s.send(ref.news_providers(PROVIDERS))


@handles(86)
def req_historical_news(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqHistoricalNews: ``86, reqId, conId, providerCodes, start, end, totalResults, …``;
    newest first, at most totalResults (and 300), with hasMore when more match."""
    req_id = req.integer(1)
    codes = [c for c in req.text(3).split("+") if c]
    known = {code for code, _ in PROVIDERS}
    if not codes or any(code not in known for code in codes):
        s.send(out.error(req_id, 10276, NOT_ALLOWED, s.version))
        return
    inst = resolve(server, s, req_id, ContractQuery(con_id=req.integer(2)))
    if inst is None:
        return
    now = server.clock()
    start, end = news_bound(req.text(4), 0.0), news_bound(req.text(5), now)
    limit = max(1, min(req.integer(6, 10), MAX_RESULTS))
    found = [
        h
        for h in headlines(inst, server.config.seed, now)
        if h.provider in codes and start <= h.time <= end
    ]
    for item in found[:limit]:
        s.send(
            ref.historical_news(
                req_id, news_time(item.time), item.provider, item.article_id, item.headline
            )
        )
    s.send(ref.historical_news_end(req_id, len(found) > limit))


@handles(84)
def req_news_article(server: SimServer, s: ClientSession, req: Request) -> None:
    """reqNewsArticle: ``84, reqId, providerCode, articleId, options``."""
    req_id, provider, article = req.integer(1), req.text(2), req.text(3)
    now = server.clock()
    if article.startswith(f"{provider}$"):
        for inst in server.catalog.instruments.values():
            for item in headlines(inst, server.config.seed, now):
                if item.article_id == article:
                    s.send(ref.news_article(req_id, article_text(item, inst)))
                    return
    s.send(out.error(req_id, 10172, NO_ARTICLE, s.version))
