"""Account values, portfolio and P&L from the broker into the stores.

Account values and the portfolio come from reqAccountUpdates (TWS refreshes them every few
minutes and on fills); the live P&L comes from reqPnL and one reqPnLSingle per position,
which stream about once a second.
"""

from __future__ import annotations

import dataclasses
import logging

from ibdesk.broker import ib as shim
from ibdesk.broker import translate
from ibdesk.broker.instruments import InstrumentResolver
from ibdesk.broker.session import BrokerSession
from ibdesk.domain.instruments import Instrument
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.tasks import TaskGroup

log = logging.getLogger("ibdesk.broker.accounts")


class AccountFeed:
    """Feeds AccountStore and PositionStore for the session's account."""

    def __init__(
        self,
        session: BrokerSession,
        resolver: InstrumentResolver,
        accounts: AccountStore,
        positions: PositionStore,
    ) -> None:
        self.session = session
        self.ib = session.ib
        self.resolver = resolver
        self.accounts = accounts
        self.positions = positions
        self._pnl_single: dict[int, shim.PnLSingle] = {}
        """ conId -> PnLSingle subscription object """
        self.tasks = TaskGroup("account feed", log)
        self.ib.accountValueEvent += self._on_account_value
        self.ib.updatePortfolioEvent += self._on_portfolio
        self.ib.pnlEvent += self._on_pnl
        self.ib.pnlSingleEvent += self._on_pnl_single
        session.connected += self._on_connected
        session.disconnected += self._pnl_single.clear

    def _on_connected(self) -> None:
        account = self.session.account
        for value in self.ib.accountValues(account):
            self._on_account_value(value)
        for item in self.ib.portfolio():
            if item.account == account:
                self._on_portfolio(item)
        if not self.ib.pnl(account):  # the library keeps live subscriptions across syncs
            self.ib.reqPnL(account)
        self.tasks.spawn(self._subscribe_account(account), f"subscribing {account}")

    async def _subscribe_account(self, account: str) -> None:
        # connectAsync subscribes only when the login manages one account; make sure.
        await self.ib.reqAccountUpdatesAsync(account)

    def _on_account_value(self, value: shim.AccountValue) -> None:
        field = translate.ACCOUNT_TAGS.get(value.tag)
        if field is None or value.currency not in ("USD", "BASE") or value.modelCode:
            return
        self.accounts.merge(translate.name(value.account), **{field: translate.num(value.value)})

    def _on_pnl(self, entry: shim.PnL) -> None:
        self.accounts.merge(
            translate.name(entry.account),
            daily_pnl=translate.num(entry.dailyPnL),
            unrealized_pnl=translate.num(entry.unrealizedPnL),
            realized_pnl=translate.num(entry.realizedPnL),
        )

    def _on_portfolio(self, item: shim.PortfolioItem) -> None:
        con_id = int(item.contract.conId or 0)
        if con_id <= 0:
            translate.refused("position:contract", "a position for no contract (conId %r)", con_id)
            return
        inst = self.resolver.by_con_id.get(con_id)
        if inst is None:
            self.tasks.spawn(self._resolve_then_put(item), "reading a position's contract")
            return
        self._put(item, inst)

    async def _resolve_then_put(self, item: shim.PortfolioItem) -> None:
        inst = await self.resolver.for_contract(item.contract)
        self._put(item, inst)

    def _put(self, item: shim.PortfolioItem, inst: Instrument) -> None:
        snap = translate.position(item, inst)
        if snap is None:
            return  # junk, refused (and said) by the translation
        known = self.positions.positions.get(snap.key)
        if known is not None:
            # Keep the live daily P&L between the (slower) portfolio updates.
            snap = dataclasses.replace(snap, daily_pnl=known.daily_pnl)
        self.positions.put(snap)
        if snap.qty and inst.con_id not in self._pnl_single and self.ib.isConnected():
            live = self.ib.pnlSingle(snap.account, "", inst.con_id)
            self._pnl_single[inst.con_id] = (
                live[0] if live else self.ib.reqPnLSingle(snap.account, "", inst.con_id)
            )
        elif not snap.qty and inst.con_id in self._pnl_single:
            self._pnl_single.pop(inst.con_id)
            self.ib.cancelPnLSingle(snap.account, "", inst.con_id)

    def _on_pnl_single(self, entry: shim.PnLSingle) -> None:
        key = (translate.name(entry.account), int(entry.conId))
        pos = self.positions.positions.get(key)
        if pos is None:
            return
        value = translate.num(entry.value)
        qty_mult = pos.qty * pos.instrument.multiplier
        self.positions.merge(
            key,
            daily_pnl=translate.num(entry.dailyPnL),
            unrealized_pnl=translate.num(entry.unrealizedPnL),
            realized_pnl=translate.num(entry.realizedPnL),
            market_value=value,
            market_price=value / qty_mult if qty_mult else pos.market_price,
        )
