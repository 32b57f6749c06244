"""The one module that imports the IB client library.

ibdesk runs on ib_async, the maintained continuation of ib_insync (same API, same wire
protocol), and still on ib_insync 0.9.86; CI proves both. Everything else in ibdesk gets the
library's names from here, and the three behaviour differences that matter are wrapped below
so that callers never branch on the library.
"""

from __future__ import annotations

try:  # pragma: no cover - which branch runs depends on the virtualenv
    import ib_async as lib

    LIBRARY = "ib_async"
except ImportError:  # pragma: no cover
    import ib_insync as lib  # type: ignore[no-redef]

    LIBRARY = "ib_insync"

VERSION: str = getattr(lib, "__version__", "?")
LOGGER_PREFIX = LIBRARY  # loggers are named "<library>.<module>", e.g. "ib_async.Decoder"

IB = lib.IB
Contract = lib.Contract
ContFuture = lib.ContFuture
Forex = lib.Forex
Future = lib.Future
Stock = lib.Stock
Order = lib.Order
LimitOrder = lib.LimitOrder
MarketOrder = lib.MarketOrder
StopOrder = lib.StopOrder
StopLimitOrder = lib.StopLimitOrder
Trade = lib.Trade
Ticker = lib.Ticker
Fill = lib.Fill
ContractDetails = lib.ContractDetails
PortfolioItem = lib.PortfolioItem
Position = lib.Position
PnL = lib.PnL
PnLSingle = lib.PnLSingle
AccountValue = lib.AccountValue
BarDataList = lib.BarDataList
OrderState = lib.OrderState
CommissionReport = lib.CommissionReport
ExecutionFilter = lib.ExecutionFilter
OrderStatus = lib.OrderStatus
RequestError = getattr(lib, "RequestError", Exception)
util = lib.util


class LibraryIdPort:
    """``trading.ids.IdPort`` on a library connection: the nextValidId it was told (raised
    by every request since) and its request-id counter, kept above the order ids taken."""

    def __init__(self, ib: IB) -> None:
        self.ib = ib

    @property
    def client_id(self) -> int:
        """The connection's API client id."""
        return int(self.ib.client.clientId)

    def next_valid_id(self) -> int:
        """The library's next request id."""
        return int(self.ib.client._reqIdSeq)

    def reserve_ids(self, above: int) -> None:
        """Keep the library's request ids above ``above``."""
        # Untyped in the library; it only raises the counter, never lowers it.
        self.ib.client.updateReqId(above)  # type: ignore[no-untyped-call]


def listing_orders(ib: IB) -> bool:
    """Whether a listing of open or completed orders is awaiting its answer. Both
    libraries keep one answer per kind of listing (keyed "openOrders" for reqOpenOrders and
    reqAllOpenOrders alike): a second listing asked meanwhile takes the first one's answer,
    and the first waits in vain."""
    pending = ib.wrapper._results
    return "openOrders" in pending or "completedOrders" in pending


async def qualify(ib: IB, *contracts: Contract) -> list[Contract | None]:
    """Qualify contracts; one result per input, None where the contract is unknown.

    ib_async already answers this way; ib_insync returns only the successes, which would
    silently misalign any code that zips inputs with results.
    """
    results = await ib.qualifyContractsAsync(*contracts)
    if LIBRARY == "ib_async":
        # An ambiguous contract comes back as the list of its candidates: not qualified.
        return [r if isinstance(r, Contract) and r.conId else None for r in results]
    # ib_insync qualifies in place and drops failures from the returned list.
    done = {id(c) for c in results}
    return [c if id(c) in done else None for c in contracts]
