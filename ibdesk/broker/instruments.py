"""Resolving what a trader types into qualified instruments, with a cache by conId."""

from __future__ import annotations

import datetime as dt

from ibdesk import clock as clocks
from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.clock import Clock
from ibdesk.domain.instruments import (
    Instrument,
    SymbolError,
    SymbolKind,
    SymbolQuery,
    parse_symbol,
)


class InstrumentResolver:
    """Turns symbols and contracts into Instruments (contract details carry the tick)."""

    def __init__(self, ib: shim.IB, clock: Clock = clocks.system) -> None:
        self.ib = ib
        self.clock = clock
        self.by_con_id: dict[int, Instrument] = {}
        """ conId -> Instrument """
        self.contracts: dict[int, shim.Contract] = {}
        """ conId -> qualified library Contract (for requests) """

    async def resolve(self, text: str, today: dt.date | None = None) -> Instrument:
        """``AAPL``, ``ES`` (the front month), ``ESZ6``, ``EUR.USD`` -> Instrument.

        Raises:
            SymbolError: unparsable text, or nothing by that name at the broker.
        """
        query = parse_symbol(text)
        details = _listed(await self.ib.reqContractDetailsAsync(self._contract_for(query)))
        if not details:
            raise SymbolError(f"{query.text}: no such {query.kind.value} at the broker.")
        if query.kind is SymbolKind.FUTURE_ROOT:
            today_text = f"{today or clocks.today(self.clock):%Y%m%d}"
            live = [
                d for d in details if _contract_of(d).lastTradeDateOrContractMonth[:8] >= today_text
            ]
            if not live:
                raise SymbolError(f"{query.text}: no unexpired contract.")
            details = [min(live, key=_expiry)]
        elif len(details) > 1:
            details = self._narrow(query, details)
        return self._remember(details[0])

    async def for_contract(self, contract: shim.Contract) -> Instrument:
        """The Instrument of a contract the broker reported (a position, an order)."""
        known = self.by_con_id.get(int(contract.conId))
        if known is not None:
            return known
        details = _listed(
            await self.ib.reqContractDetailsAsync(shim.Contract(conId=contract.conId))
        )
        if not details:
            return translate.instrument(contract)
        return self._remember(details[0])

    def contract(self, con_id: int) -> shim.Contract:
        """The library Contract for a known instrument."""
        return self.contracts[con_id]

    def _remember(self, details: shim.ContractDetails) -> Instrument:
        contract = _contract_of(details)
        inst = translate.instrument(contract, details)
        self.by_con_id[inst.con_id] = inst
        self.contracts[inst.con_id] = contract
        return inst

    @staticmethod
    def _contract_for(q: SymbolQuery) -> shim.Contract:
        if q.kind is SymbolKind.FOREX:
            return shim.Forex(pair=q.symbol + q.currency)
        if q.kind is SymbolKind.STOCK:
            return shim.Stock(q.symbol, q.exchange, q.currency)
        if q.kind is SymbolKind.FUTURE_LOCAL:
            return shim.Future(localSymbol=q.local_symbol, exchange=q.exchange, currency=q.currency)
        return shim.Future(q.symbol, exchange=q.exchange, currency=q.currency)

    @staticmethod
    def _narrow(q: SymbolQuery, details: list[shim.ContractDetails]) -> list[shim.ContractDetails]:
        """Several matches (a stock on several exchanges): prefer the SMART, USD listing."""
        preferred = [
            d
            for d in details
            if _contract_of(d).exchange == q.exchange and _contract_of(d).currency == q.currency
        ]
        if len(preferred) == 1:
            return preferred
        raise SymbolError(
            f"{q.text} is ambiguous ({len(details)} contracts); add the expiry or exchange."
        )


def _listed(details: list[shim.ContractDetails]) -> list[shim.ContractDetails]:
    """The details that name a contract (the library types the contract optional; a
    ContractDetails without one, or with no conId, describes nothing ibdesk can trade)."""
    return [d for d in details if d.contract is not None and int(d.contract.conId or 0) > 0]


def _contract_of(details: shim.ContractDetails) -> shim.Contract:
    """The contract of details that passed :func:`_listed`."""
    contract = details.contract
    if contract is None:  # pragma: no cover - _listed keeps these out
        raise SymbolError("the broker described a contract without naming it")
    return contract


def _expiry(details: shim.ContractDetails) -> str:
    return _contract_of(details).lastTradeDateOrContractMonth
