"""The strategy the chaos runner loads into the desk: seeded, small, and busy.

Every ``timer`` seconds it draws one move from its own random stream: a buy or a sell limit
near the touch (some cross the spread and fill), a bracket, a modify or a cancel of one of
its working orders, or nothing. It never looks at what happened to its orders beyond what
``orders()`` says: the point is traffic through the gate while the wire misbehaves, not a
profit.
"""

from __future__ import annotations

import random

from ibdesk.strategies import Side, Strategy


class ChaosTrader(Strategy):
    """Random orders on ES through the strategy API."""

    name = "chaos"
    instruments = ("ES",)
    params = {"seed": 1, "max_orders": 6}
    timer = 0.25  # under the runaway breaker's 5 orders a second

    def on_start(self) -> None:
        self.rng = random.Random(self.p["seed"])
        self.sent = 0

    def on_timer(self) -> None:
        quote = self.quote("ES")
        if quote is None or not quote.last > 0 or self.sent >= self.p["max_orders"]:
            return
        tick = self.instrument("ES").min_tick
        move = self.rng.choice(("buy", "sell", "bracket", "modify", "cancel", "wait"))
        offset = self.rng.randint(-2, 4) * tick  # negative: crosses the spread
        mine = [o for o in self.orders() if o.state.live]
        if move in ("buy", "sell"):
            side = 1 if move == "buy" else -1
            price = quote.last - side * offset
            order = self.buy if side > 0 else self.sell
            order("ES", self.rng.randint(1, 3), limit=price, why=f"chaos {move}")
            self.sent += 1
        elif move == "bracket":
            entry = quote.last - offset
            self.bracket(
                "ES", Side.BUY, 1, entry, entry + 8 * tick, entry - 8 * tick, why="chaos bracket"
            )
            self.sent += 1
        elif move == "modify" and mine:
            target = self.rng.choice(mine)
            if target.limit_price is not None and not target.parent_ref:
                self.modify(target.ref, limit=target.limit_price - tick)
        elif move == "cancel" and mine:
            self.cancel(self.rng.choice(mine).ref)
