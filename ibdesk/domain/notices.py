"""IB's error and notice codes in plain words (TWS_PROTOCOL.md §11).

Pure data and one function, so the wording is tested without a connection.
"""

from __future__ import annotations

import time

from ibdesk.domain.connection import Farm, Notice, Severity

API_SETTINGS_HINT = (
    "In TWS: Edit > Global Configuration > API > Settings, tick 'Enable "
    "ActiveX and Socket Clients' and check the socket port. In IB Gateway: "
    "Configure > Settings > API > Settings."
)

FARM_CODES: dict[int, tuple[Farm, bool | None]] = {
    2103: (Farm.MARKET_DATA, False),
    2104: (Farm.MARKET_DATA, True),
    2108: (Farm.MARKET_DATA, None),
    2105: (Farm.HISTORICAL, False),
    2106: (Farm.HISTORICAL, True),
    2107: (Farm.HISTORICAL, None),
    2157: (Farm.SECURITY_DEFINITIONS, False),
    2158: (Farm.SECURITY_DEFINITIONS, True),
}

_CONNECTIVITY = "ib-connectivity"

CANCELLED = 202
""" "Order Canceled": after ibdesk's own cancel, or someone else's (TWS screen, another
client's global cancel, the broker) """
INFO_CODES = frozenset({1102, 2100, 2104, 2106, 2107, 2108, 2119, 2158})
""" codes that say all is well: data kept after a blip, a farm OK or idle but available on
demand, account updates handed to another client """
WARNING_CODES = frozenset(
    {1101, 1300, 162, 165, 300, 326, 354, 366, 399, 404, 10089, 10090, 10147, 10148, 10167}
    | {10168, 10182}
)
""" codes worth a look but not a failure: data lost and resubscribed, the socket port reset,
pacing, a subscription missing, a cancel too late (the order was already gone or filled) """


def code_severity(code: int, cancel_asked: bool = False) -> Severity:
    """How loudly an IB code deserves to be logged.

    The client libraries log every non-"warning" code at ERROR: an ordinary cancel (202) is an
    ERROR in ib_async, and the log filled with red for what the trader asked for. Here a 202
    is INFO when ``cancel_asked`` (ibdesk sent that cancel) and a WARNING otherwise; the
    all-is-well notices are INFO, the 21xx range and :data:`WARNING_CODES` WARNING, and
    anything else (a rejected order, a lost connection, an unknown code) stays an ERROR.
    """
    if code == CANCELLED:
        return Severity.INFO if cancel_asked else Severity.WARNING
    if code in INFO_CODES:
        return Severity.INFO
    if code in WARNING_CODES or 2100 <= code < 2200:
        return Severity.WARNING
    return Severity.ERROR


def notice_for(code: int, text: str, now: float) -> Notice | None:
    """The banner a system notice deserves, or None for codes that need no banner."""
    if code == 1100:
        return Notice(
            _CONNECTIVITY,
            Severity.ERROR,
            "TWS has lost its connection to IB's servers (1100). Quotes are frozen "
            "and orders cannot reach the exchange until it is restored.",
            code,
            now,
        )
    if code == 1101:
        return Notice(
            _CONNECTIVITY,
            Severity.WARNING,
            "Connection to IB's servers restored, but market data was lost (1101): "
            "ibdesk is resubscribing everything.",
            code,
            now,
        )
    if code == 1102:
        return Notice(
            _CONNECTIVITY,
            Severity.INFO,
            "Connection to IB's servers restored; data was kept (1102).",
            code,
            now,
        )
    if code == 2110:
        return Notice(
            _CONNECTIVITY,
            Severity.WARNING,
            "TWS has lost its connection to IB's servers; it will restore it by itself (2110).",
            code,
            now,
        )
    if code == 10197:
        return Notice(
            "competing-session",
            Severity.ERROR,
            "No market data: another session is logged in to this account with live "
            "data (10197), e.g. TWS on another computer or IBKR Mobile. Log that "
            "session out, or subscribe to data for more than one session.",
            code,
            now,
        )
    if code == 326:
        return Notice(
            "client-id",
            Severity.WARNING,
            f"The client id is already in use by another API connection (326). {text}",
            code,
            now,
        )
    return None


def refused_notice(host: str, port: int, now: float) -> Notice:
    """Connection refused: TWS is not running, or its API is not enabled on that port.

    The setup advice, for a connection that has not worked yet in this session; a dropped
    one gets :func:`reconnecting` instead."""
    return Notice(
        "connection",
        Severity.ERROR,
        f"Could not connect to {host}:{port}: nothing accepts API connections there. "
        f"Is TWS or IB Gateway running? {API_SETTINGS_HINT}",
        502,
        now,
    )


def connection_lost(host: str, port: int, lost_at: float, now: float) -> Notice:
    """A connection that worked has dropped; the reconnect loop is on its first attempt.

    Never the setup advice of :func:`refused_notice`: the settings were right seconds ago,
    and the likely cause is TWS or IB Gateway restarting (they do daily).
    """
    return Notice(
        "connection",
        Severity.WARNING,
        f"The connection to TWS at {host}:{port} dropped at {_clock(lost_at)}; reconnecting.",
        0,
        now,
    )


def reconnecting(
    host: str, port: int, attempt: int, next_in: float, lost_at: float, now: float
) -> Notice:
    """Reconnect ``attempt`` (counted from 1 since the drop) failed; the next one is in
    ``next_in`` seconds (the reconnect loop's own delay)."""
    return Notice(
        "connection",
        Severity.WARNING,
        f"Reconnecting to TWS (attempt {attempt}, next in {next_in:g} s): {host}:{port} "
        f"worked until {_clock(lost_at)}. TWS or IB Gateway may be restarting; ibdesk "
        "keeps trying.",
        0,
        now,
    )


def _clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


def client_id_fallback(client_id: int, now: float) -> Notice:
    """TWS refused a client id (326); ibdesk tries the next one."""
    return Notice(
        "client-id",
        Severity.WARNING,
        f"Client id {client_id} is already in use by another API connection (326); "
        f"trying {client_id + 1}.",
        326,
        now,
    )


def client_ids_exhausted(first: int, last: int, now: float) -> Notice:
    """Every client id tried was refused."""
    return Notice(
        "client-id",
        Severity.ERROR,
        f"Client ids {first}..{last} are all in use. Close other API connections or "
        "choose another client id.",
        326,
        now,
    )


def handshake_timeout(host: str, port: int, now: float) -> Notice:
    """Something accepted the TCP connection but never spoke the API."""
    return Notice(
        "connection",
        Severity.ERROR,
        f"{host}:{port} accepted the connection but did not complete the API "
        "handshake in time. Is it TWS or IB Gateway, and is the API enabled?",
        0,
        now,
    )


def account_not_managed(wanted: str, managed: tuple[str, ...], now: float) -> Notice:
    """The configured account is not one this login manages."""
    return Notice(
        "account",
        Severity.ERROR,
        f"Account {wanted} is not managed by this login ({', '.join(managed)}); "
        f"showing {managed[0]} instead.",
        0,
        now,
    )


DATA_SILENCE = "data-silence"


def data_silence(seconds: float, answer_within: float, now: float) -> Notice:
    """Nothing has come from TWS for a while, and it did not answer a time request."""
    return Notice(
        DATA_SILENCE,
        Severity.ERROR,
        f"No data from TWS for {seconds:.0f} s, and no answer to a time request within "
        f"{answer_within:g} s: quotes and order states are frozen. ibdesk is dropping the "
        "connection and reconnecting.",
        0,
        now,
    )


def garbled_stream(length: int, now: float) -> Notice:
    """The stream from TWS announced a message no TWS sends: nothing after it can be read."""
    return Notice(
        DATA_SILENCE,
        Severity.ERROR,
        f"No data from TWS can be read: the stream is garbled (a message claimed "
        f"{length:,} bytes). Quotes and order states are frozen. ibdesk is dropping the "
        "connection and reconnecting.",
        0,
        now,
    )


def data_restored(garbled: bool, dropped_at: float, now: float) -> Notice:
    """Back after a drop for silence or a garbled stream: say so, no longer in red."""
    when = _clock(dropped_at)
    what = "was garbled" if garbled else "fell silent"
    return Notice(
        DATA_SILENCE,
        Severity.WARNING,
        f"The data stream from TWS {what} at {when}; ibdesk dropped the connection, "
        "reconnected and resynchronised.",
        0,
        now,
    )
