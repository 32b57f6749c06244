"""Resolving what a trader types into qualified instruments, with a cache by conId."""

from __future__ import annotations

import datetime as dt
from typing import Any

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

    def __init__(self, ib: Any, clock: Clock = clocks.system) -> None:
        self.ib = ib
        self.clock = clock
        self.by_con_id: dict[int, Instrument] = {}
        """ conId -> Instrument """
        self.contracts: dict[int, Any] = {}
        """ conId -> qualified library Contract (for requests) """

    async def resolve(self, text: str, today: dt.date | None = None) -> Instrument:
        """``AAPL``, ``ES`` (the front month), ``ESZ6``, ``EUR.USD`` -> Instrument.

        Raises:
            SymbolError: unparsable text, or nothing by that name at the broker.
        """
        query = parse_symbol(text)
        details = await self.ib.reqContractDetailsAsync(self._contract_for(query))
        if not details:
            raise SymbolError(f"{query.text}: no such {query.kind.value} at the broker.")
        if query.kind is SymbolKind.FUTURE_ROOT:
            today_text = f"{today or clocks.today(self.clock):%Y%m%d}"
            live = [d for d in details if d.contract.lastTradeDateOrContractMonth[:8] >= today_text]
            if not live:
                raise SymbolError(f"{query.text}: no unexpired contract.")
            details = [min(live, key=lambda d: d.contract.lastTradeDateOrContractMonth)]
        elif len(details) > 1:
            details = self._narrow(query, details)
        return self._remember(details[0])

    async def for_contract(self, contract: Any) -> Instrument:
        """The Instrument of a contract the broker reported (a position, an order)."""
        known = self.by_con_id.get(int(contract.conId))
        if known is not None:
            return known
        details = await self.ib.reqContractDetailsAsync(shim.Contract(conId=contract.conId))
        if not details:
            return translate.instrument(contract)
        return self._remember(details[0])

    def contract(self, con_id: int) -> Any:
        """The library Contract for a known instrument."""
        return self.contracts[con_id]

    def _remember(self, details: Any) -> Instrument:
        inst = translate.instrument(details.contract, details)
        self.by_con_id[inst.con_id] = inst
        self.contracts[inst.con_id] = details.contract
        return inst

    @staticmethod
    def _contract_for(q: SymbolQuery) -> Any:
        if q.kind is SymbolKind.FOREX:
            return shim.Forex(pair=q.symbol + q.currency)
        if q.kind is SymbolKind.STOCK:
            return shim.Stock(q.symbol, q.exchange, q.currency)
        if q.kind is SymbolKind.FUTURE_LOCAL:
            return shim.Future(localSymbol=q.local_symbol, exchange=q.exchange, currency=q.currency)
        return shim.Future(q.symbol, exchange=q.exchange, currency=q.currency)

    @staticmethod
    def _narrow(q: SymbolQuery, details: list[Any]) -> list[Any]:
        """Several matches (a stock on several exchanges): prefer the SMART, USD listing."""
        preferred = [
            d
            for d in details
            if d.contract.exchange == q.exchange and d.contract.currency == q.currency
        ]
        if len(preferred) == 1:
            return preferred
        raise SymbolError(
            f"{q.text} is ambiguous ({len(details)} contracts); add the expiry or exchange."
        )
