"""Connection state and the notices a trader must see, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class LinkState(StrEnum):
    """Where the connection to TWS / IB Gateway stands."""

    DISCONNECTED = "Disconnected"
    CONNECTING = "Connecting"
    SYNCING = "Syncing"
    CONNECTED = "Connected"
    RECONNECTING = "Reconnecting"


class Severity(Enum):
    """How loudly to show a notice."""

    INFO = 1
    WARNING = 2
    ERROR = 3


class MasterClient(StrEnum):
    """Whether TWS sends this desk the orders and fills of its other API clients, which it
    does only to its Master API client (a TWS setting)."""

    UNKNOWN = "unknown"
    """ no other client has an order open to tell by """
    MASTER = "master"
    NOT_MASTER = "not master"


class Farm(StrEnum):
    """IB's data farms, as the 21xx notices name them."""

    MARKET_DATA = "market data"
    HISTORICAL = "historical data"
    SECURITY_DEFINITIONS = "security definitions"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something that happened to the connection, for the banner and the log.

    ``key`` groups notices that replace each other (a 1102 replaces the 1100 banner).
    """

    key: str
    severity: Severity
    text: str
    code: int = 0
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """Everything the status bar shows about the connection."""

    state: LinkState = LinkState.DISCONNECTED
    host: str = ""
    port: int = 0
    client_id: int = 0
    server_version: int = 0
    accounts: tuple[str, ...] = ()
    account: str = ""
    retry_in: float = 0.0
    detail: str = ""
