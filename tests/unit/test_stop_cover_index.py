"""The positions' stop cover, kept on every order change, says exactly what a walk over
every live order says (``stop_cover``, the definition), after any sequence of changes:
states back and forth, brackets whose entry comes and goes, orders moving between
instruments, sides and accounts. Hypothesis drives the sequences.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.domain.account import PositionSnapshot
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.orders import OrderStore
from ibdesk.trading.protection import StopCoverIndex, is_naked, stop_cover

ES = Instrument(1, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")
NQ = Instrument(2, "NQ", SecType.FUTURE, "CME", "USD", "NQZ6", 20, 0.25, "20261218")
REFS = [f"r{i}" for i in range(8)]


@st.composite
def snapshots(draw: st.DrawFn) -> OrderSnapshot:
    ref = draw(st.sampled_from(REFS))
    kind = draw(st.sampled_from(list(OrderType)))
    qty = draw(st.integers(1, 5))
    price = draw(st.sampled_from([6790.0, 6795.0, 6800.0, 6805.0, math.nan]))
    return OrderSnapshot(
        ref,
        draw(st.sampled_from([ES, ES, NQ])),
        draw(st.sampled_from(list(Side))),
        float(qty),
        kind,
        draw(st.sampled_from(list(OrderState))),
        draw(st.sampled_from(["", "A", "B"])),
        price if kind.needs_limit or kind is OrderType.LIMIT else None,
        price if kind.needs_stop or kind is OrderType.TRAIL else None,
        parent_ref=draw(st.sampled_from(["", "", *[r for r in REFS if r != ref]])),
        filled=float(draw(st.integers(0, qty))),
    )


STEPS = st.lists(snapshots(), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_the_stop_cover_index_equals_a_walk_over_every_live_order(
    steps: list[OrderSnapshot],
) -> None:
    store = OrderStore()
    index = StopCoverIndex(store)
    changed: list[int] = []
    index.changed += changed.append
    for step in steps:
        before = {
            (inst.con_id, acct, q): index.cover(PositionSnapshot(acct, inst, q, 0.0))
            for inst in (ES, NQ)
            for acct in ("", "A", "B")
            for q in (3.0, -3.0)
        }
        changed.clear()
        store.put(step)
        for inst in (ES, NQ):
            for acct in ("", "A", "B"):
                for q in (3.0, -3.0, 1.0):
                    pos = PositionSnapshot(acct, inst, q, 0.0)
                    assert index.cover(pos) == stop_cover(pos, store.live())
                    assert index.naked(pos) is is_naked(pos, store.live())
                    key = (inst.con_id, acct, q)
                    if key in before and index.cover(pos) != before[key]:
                        assert inst.con_id in changed, "a change of cover is announced"
    index.close()
    late = StopCoverIndex(store)  # built on a store that already holds orders
    for inst in (ES, NQ):
        for acct in ("", "A", "B"):
            pos = PositionSnapshot(acct, inst, 3.0, 0.0)
            assert late.cover(pos) == stop_cover(pos, store.live())
