"""Breakout: buy when a bar closes above the highest high of the bars before it.

The rule, on ES 5-second bars:

* a bar closes above the highest high of the ``lookback`` bars before it: buy ``qty`` at
  market, with a take-profit ``take_profit_ticks`` above that close and a stop-loss
  ``stop_loss_ticks`` below it, sent as one native bracket;
* with ``shorts`` on, the mirror image: a close below the lowest low sells, bracketed;
* one position at a time: no new signal is taken while it holds a position or any of its
  orders is still working.

Why a native bracket: IB holds the take-profit and the stop as one-cancels-other orders at
the broker, so the position stays protected if ibdesk (or this machine) goes away; nothing
here has to watch the price to get out.

Why 5-second bars: they are the shortest IB builds (``"5 secs"``), so in the demo a bar closes
every five seconds and a 20-bar range is 100 seconds of market: signals come within minutes.
On a live account a breakout of 5-second bars is mostly noise; try ``bar_size = "1 min"``
or ``"5 mins"`` (edit the class below) with a larger ``lookback``.

Teaching code, not advice: it has no view of trends, news or costs.
"""

from __future__ import annotations

import numpy as np

from ibdesk.strategies import BarEvent, Side, Strategy


class Breakout(Strategy):
    """A close beyond the recent range enters, bracketed at the broker."""

    instruments = ("ES",)  # the front month; its local symbol (ESZ6) works in the calls too
    bar_size = "5 secs"
    params = {
        "lookback": 20,  # bars before the signal bar whose range it must break
        "qty": 1,  # contracts per trade
        "take_profit_ticks": 8,  # ES: 8 ticks = 2 points = $100 a contract
        "stop_loss_ticks": 6,  # 6 ticks = 1.5 points = $75 a contract
        "shorts": True,  # also sell a close below the range
    }

    def on_bar(self, event: BarEvent) -> None:
        inst, bar = event.instrument, event.bar
        # One position at a time. Its own position and its own orders only: the trader's
        # manual ES trades, or another strategy's, are not this strategy's business.
        if self.position(inst) or self.orders():
            return
        # The bars as arrays, oldest first; the last one is still forming. Find the bar that
        # just closed by its time: after a reconnect several bars may close at once, and
        # each is judged against the bars before it, not against the newest ones.
        bars = self.bars(inst)
        lookback = self.p["lookback"]
        i = int(np.searchsorted(bars.time, bar.time))
        if i >= len(bars.time) or bars.time[i] != bar.time or i < lookback:
            return  # not in the series, or not enough history yet to have a range
        high = float(bars.high[i - lookback : i].max())
        low = float(bars.low[i - lookback : i].min())
        tick = inst.min_tick
        # Strictly beyond: a close that only touches the old high has not broken it.
        if bar.close > high:
            side, level, word = Side.BUY, high, "high"
            take = bar.close + self.p["take_profit_ticks"] * tick
            stop = bar.close - self.p["stop_loss_ticks"] * tick
            sign = ">"
        elif self.p["shorts"] and bar.close < low:
            side, level, word = Side.SELL, low, "low"
            take = bar.close - self.p["take_profit_ticks"] * tick
            stop = bar.close + self.p["stop_loss_ticks"] * tick
            sign = "<"
        else:
            return
        # The why travels with the order: the blotter, the chart and the journal show it.
        why = f"close {bar.close:.2f} {sign} {lookback}-bar {word} {level:.2f}"
        # Entry at market (entry=None): a breakout that waits for a better price is often
        # a breakout missed. The exits are priced from the signal's close, so a fill a tick
        # or two away moves the real risk and reward by as much.
        handle = self.bracket(
            inst,
            side,
            self.p["qty"],
            entry=None,
            take_profit=inst.round_to_tick(take),
            stop_loss=inst.round_to_tick(stop),
            why=why,
        )
        if not handle.accepted:
            # Refused at the gate (paused, a risk limit, trading halted...): say so once per
            # signal; the next bar is a new chance.
            self.log.info("%s: not sent: %s", why, handle.reason)
