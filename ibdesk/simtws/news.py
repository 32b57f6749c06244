"""A small seeded news archive: the free providers a paper account gets, and headlines with
articles for the stocks, fixed by the seed so tests and demos see the same news every run.

Each stock gets one headline per provider per trading day (at a time of day fixed by the
seed), over the last ``DAYS`` days; article ids are ``PROVIDER$hex``, as IB's are.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

from ibdesk.simtws.catalog import Instrument

#: The providers a paper account can read without a subscription.
PROVIDERS: tuple[tuple[str, str], ...] = (
    ("BRFG", "Briefing.com General Market Columns"),
    ("BRFUPDN", "Briefing.com Analyst Actions"),
    ("DJNL", "Dow Jones Newsletters"),
)
DAYS = 60
MAX_RESULTS = 300
_TEMPLATES = (
    "{name} shares active ahead of the open",
    "{symbol}: analyst reiterates rating, raises target",
    "{name} trades higher on sector strength",
    "{symbol} slips as investors take profits",
    "Options activity picks up in {symbol}",
    "{name} in focus after industry conference",
)


@dataclass(frozen=True, slots=True)
class Headline:
    """One archived story."""

    time: float
    provider: str
    article_id: str
    headline: str
    con_id: int


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def headlines(inst: Instrument, seed: int, now: float) -> list[Headline]:
    """The archive of one stock, newest first (other instruments have none)."""
    if inst.sec_type != "STK":
        return []
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    out: list[Headline] = []
    for back in range(DAYS):
        day = today - dt.timedelta(days=back)
        if day.weekday() > 4:
            continue
        for code, _ in PROVIDERS:
            h = _hash(seed, inst.con_id, day.isoformat(), code)
            # Between 11:00 and 21:00 UTC, the US day.
            when = dt.datetime(day.year, day.month, day.day, 11, tzinfo=dt.UTC)
            stamp = when.timestamp() + h % 36000
            if stamp > now:
                continue
            text = _TEMPLATES[h % len(_TEMPLATES)].format(
                name=inst.long_name.title(), symbol=inst.symbol
            )
            out.append(Headline(stamp, code, f"{code}${h:08x}", text, inst.con_id))
    out.sort(key=lambda item: item.time, reverse=True)
    return out


def news_time(epoch: float) -> str:
    """IB's news timestamp: ``YYYY-MM-DD HH:MM:SS.0`` (UTC)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.0")


def article_text(item: Headline, inst: Instrument) -> str:
    """The body of a story (plain text in a small HTML frame, as IB's providers send)."""
    return (
        f"<html><body><h1>{item.headline}</h1><p>{inst.long_name.title()} ({inst.symbol}), "
        f"{news_time(item.time)} UTC. This story is part of the simulated TWS's seeded news "
        "archive; it reports nothing that happened.</p></body></html>"
    )
