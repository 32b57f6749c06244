"""What a strategy's actions return and its reads give: handles, bars as arrays, a closed bar.

Part of the public strategy API (``from ibdesk.strategies import Handle, Bars, BarEvent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ibdesk.domain.bars import Bar
from ibdesk.domain.instruments import Instrument
from ibdesk.domain.orders import GateDecision

F64 = npt.NDArray[np.float64]
InstrumentLike = Instrument | str
""" an Instrument, or a symbol as the strategy's ``instruments`` names it (``"ES"``) """


@dataclass(frozen=True, slots=True)
class Handle:
    """What an action returns: the gate's decision and the orders it made.

    ``accepted`` is the gate's word, not the broker's: the orders' states come later, to
    ``on_order``. A refused action has ``reason`` and no refs.
    """

    decision: GateDecision

    @property
    def accepted(self) -> bool:
        """Whether the gate let it through."""
        return self.decision.accepted

    @property
    def refs(self) -> tuple[str, ...]:
        """The orderRefs made (a bracket: entry, take-profit, stop-loss)."""
        return self.decision.refs

    @property
    def ref(self) -> str:
        """The (entry) order's ref; "" when refused."""
        return self.decision.refs[0] if self.decision.refs else ""

    @property
    def reason(self) -> str:
        """Why the gate refused it ("" when accepted)."""
        return self.decision.reason


class BarEvent(NamedTuple):
    """A closed bar of one of the strategy's instruments."""

    instrument: Instrument
    bar: Bar


class Bars(NamedTuple):
    """An instrument's bars, oldest first (the last may still be forming), as arrays."""

    time: F64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
