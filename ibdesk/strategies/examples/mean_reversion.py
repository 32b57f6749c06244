"""Mean reversion: fade a stock's mid when it strays from its rolling mean, exit at the mean.

The rule, on AAPL quotes:

* sample the mid ((bid + ask) / 2) at most once every ``sample_secs``; keep the last
  ``window`` samples and their mean and standard deviation;
* z = (mid - mean) / stdev says how stretched the price is. At z <= -``entry_z`` buy ``qty``
  with a limit at the bid; at z >= ``entry_z`` sell short with a limit at the ask. Never
  more than ``max_position`` shares either way;
* an entry that has not filled is cancelled once the stretch is gone (|z| < entry_z / 2);
* once in, a limit exit waits back at the mean (the mean when the position last changed);
* if the price keeps running against the position to ``stop_z``, it closes at market and
  takes no new trade until the price is back inside ``entry_z``.

Why limits at the touch: a mean-reversion edge is small, often smaller than the spread, so
it joins the bid (or the ask) rather than crossing it. The price of that choice: a fast move
may run away unfilled, which is fine, as it is a move this strategy does not want.

Why sample on a clock rather than on every quote: quotes come in bursts (a size change is a
quote too), and a burst would crowd the window with one moment of the market.

Teaching code, not advice: a stock can stay stretched for a long time.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ibdesk.domain.market import Quote
from ibdesk.domain.orders import FillSnapshot, OrderSnapshot
from ibdesk.strategies import Handle, Strategy


class MeanReversion(Strategy):
    """Limit entries at a z-score threshold, a limit exit at the mean, a stop in z."""

    instruments = ("AAPL",)
    params = {
        "qty": 100,  # shares per entry
        "max_position": 100,  # shares, long or short; raise it to let entries add up
        "window": 120,  # samples in the mean and the standard deviation...
        "sample_secs": 0.5,  # ...one at most every this many seconds: 120 x 0.5 = 1 minute
        "entry_z": 2.0,  # stdevs from the mean to enter
        "stop_z": 4.0,  # stdevs against the position to give up
        "min_std_ticks": 1.0,  # a floor under the stdev, in ticks (see _z)
    }

    def on_start(self) -> None:
        self.inst = self.instrument(self.instruments[0])  # resolved: AAPL, or what a copy names
        self.mids: deque[float] = deque(maxlen=self.p["window"])
        self.mean = math.nan
        self.std = math.nan
        self.sampled_at = -math.inf
        self.entry: Handle | None = None  # the working entry order, if any
        self.exit: Handle | None = None  # the working exit order, if any
        self.target = math.nan  # the exit's price
        self.stopping = False  # a stop's closing order is on its way
        self.cooling = False  # stopped out: no entry until the stretch is gone

    def on_quote(self, quote: Quote) -> None:
        if not quote.bid > 0 or not quote.ask > 0:
            return  # no two-sided market (NaN before the first quote, -1 when IB has none)
        mid = quote.mid
        z = self._z(mid)  # against the samples so far, before this mid joins them
        sampled = self._sample(mid, quote.time)
        if math.isnan(z):
            return  # still filling the window
        position = self.position(self.inst)
        if position:
            self._stop_if_running(position, z)
        elif self.cooling and abs(z) < self.p["entry_z"]:
            self.cooling = False  # calm again after a stop: entries may resume
        if self.entry is not None and abs(z) < self.p["entry_z"] / 2:
            self.cancel(self.entry)  # the stretch is gone before we were filled
            self.entry = None
        # One entry decision per sample at most: a burst of quotes is one look at the market.
        if sampled and self.entry is None and not self.stopping and not self.cooling:
            self._enter(position, z, quote)

    def on_fill(self, fill: FillSnapshot) -> None:
        # Runs after the fill is booked: position() already includes it.
        position = self.position(self.inst)
        if position == 0:
            # Flat: the exit (or the stop's market order) has done its work.
            self.stopping = False
            self.exit, self.target = None, math.nan
            return
        if self.stopping:
            return  # the stop's market order is closing it: no new exit
        if self.exit is not None and fill.ref == self.exit.ref:
            return  # the exit filled in part: the rest of it is still working
        self._place_exit(position)  # an entry filled (in part): the exit covers it all

    def on_order(self, order: OrderSnapshot) -> None:
        # Forget orders that are done (filled, cancelled, rejected), whoever ended them.
        if not order.state.final:
            return
        if self.entry is not None and order.ref == self.entry.ref:
            self.entry = None
        if self.exit is not None and order.ref == self.exit.ref:
            self.exit = None

    # ---- the rules ---------------------------------------------------------------------------

    def _z(self, mid: float) -> float:
        """How many standard deviations the mid is from the mean (NaN until the window is
        full). The stdev has a floor: in a quiet market the samples can all be equal, and a
        one-tick move would then look infinitely stretched."""
        if len(self.mids) < self.p["window"]:
            return math.nan
        std = max(self.std, float(self.p["min_std_ticks"]) * self.inst.min_tick)
        return (mid - self.mean) / std

    def _sample(self, mid: float, now: float) -> bool:
        """Take the mid into the window if ``sample_secs`` have passed; True if it did."""
        if now - self.sampled_at < self.p["sample_secs"]:
            return False
        self.sampled_at = now
        self.mids.append(mid)
        # A window of a hundred-odd numbers: recomputing is clearer than a running sum and
        # costs microseconds, once per sample rather than once per quote.
        window = np.fromiter(self.mids, dtype=float)
        self.mean, self.std = float(window.mean()), float(window.std())
        return True

    def _enter(self, position: float, z: float, quote: Quote) -> None:
        entry_z, stop_z, qty = self.p["entry_z"], self.p["stop_z"], self.p["qty"]
        if abs(z) < entry_z or abs(z) >= stop_z:
            return  # not stretched, or stretched so far that the stop would take it at once
        why = f"z {z:+.2f}: mid {quote.mid:.3f}, mean {self.mean:.3f}, stdev {self.std:.3f}"
        # Only from flat or adding to the same side: a stretch the other way while holding
        # is the exit's business, not a reason to turn around.
        if z < 0 and position >= 0 and position + qty <= self.p["max_position"]:
            self.entry = self.buy(self.inst, qty, limit=quote.bid, why=why)
        elif z > 0 and position <= 0 and -position + qty <= self.p["max_position"]:
            self.entry = self.sell(self.inst, qty, limit=quote.ask, why=why)
        if self.entry is not None and not self.entry.accepted:
            # Refused at the gate: paused (exits only), a risk limit, trading halted. The
            # next sample is a new look; the gate's reason is in the log.
            self.log.info("entry not sent: %s", self.entry.reason)
            self.entry = None

    def _place_exit(self, position: float) -> None:
        """One exit for the whole position, a limit back at the mean (rounded to the tick
        on the profitable side). It is not moved as the mean drifts: following it would
        cost a modify per sample, and a trend that drags the mean is what the stop is for."""
        tick = self.inst.min_tick
        if position > 0:
            self.target = math.ceil(self.mean / tick - 1e-9) * tick
        else:
            self.target = math.floor(self.mean / tick + 1e-9) * tick
        self.target = self.inst.round_to_tick(self.target)
        qty = abs(position)
        if self.exit is not None:
            moved = self.modify(self.exit, qty=qty, limit=self.target)
            if not moved.accepted:
                self.log.warning("exit not changed: %s", moved.reason)
            return
        why = f"exit at the mean {self.mean:.3f}"
        if position > 0:
            self.exit = self.sell(self.inst, qty, limit=self.target, why=why)
        else:
            self.exit = self.buy(self.inst, qty, limit=self.target, why=why)
        if not self.exit.accepted:
            self.log.warning("exit not sent: %s", self.exit.reason)
            self.exit = None

    def _stop_if_running(self, position: float, z: float) -> None:
        """Close at market when the price runs ``stop_z`` against the position."""
        against = -z if position > 0 else z
        if self.stopping or against < self.p["stop_z"]:
            return
        self.stopping = self.cooling = True
        # flatten() cancels its working orders (the exit, an entry) and closes at market.
        self.flatten(why=f"stop: z {z:+.2f} against a position of {position:g}")
        self.entry = self.exit = None
