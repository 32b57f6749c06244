"""A chart's line book, kept one order change at a time, equals one built from scratch.

:class:`LineBook` updates only the lines an order change touches (the order's, its parent's,
its children's) and their per-price sums; after any sequence of changes and position moves
it must equal ``order_lines`` (a fresh book fed every order). Hypothesis drives the
sequences (states back and forth, brackets whose entry comes and goes, orders moving
between instruments).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.order_lines import LineBook, LineRole, OrderLine, order_lines
from ibdesk.domain.orders import OrderSnapshot, OrderState, OrderType, Side
from ibdesk.state.orders import OrderStore

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


POSITIONS = st.tuples(st.sampled_from([-2.0, 0.0, 3.0]), st.sampled_from([math.nan, 6798.0]))
STEPS = st.lists(st.one_of(snapshots(), POSITIONS), min_size=1, max_size=40)


def levels_of(lines: dict[str, OrderLine]) -> dict[float, tuple[int, float, float, Any]]:
    out: dict[float, list[Any]] = {}
    for line in lines.values():
        entry = out.setdefault(line.price, [0, 0.0, 0.0, Counter()])
        entry[0] += 1
        entry[1 if line.order.side is Side.BUY else 2] += line.order.remaining
        entry[3][line.role] += 1
    return {
        p: (n, buy, sell, next(iter(roles)) if len(roles) == 1 else None)
        for p, (n, buy, sell, roles) in out.items()
    }


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_a_line_book_kept_change_by_change_equals_one_built_from_scratch(steps: list[Any]) -> None:
    store = OrderStore()
    book = LineBook(ES.con_id)
    qty, avg = 0.0, math.nan
    for step in steps:
        if isinstance(step, OrderSnapshot):
            store.put(step)
            changed = book.apply([(step.ref, step)])
        else:
            qty, avg = step
            changed = book.set_position(qty, avg)
        fresh = {ln.ref: ln for ln in order_lines(store.orders.values(), ES.con_id, qty, avg)}
        assert book.lines == fresh
        assert changed <= set(REFS)
        levels = book.levels
        assert levels.prices == sorted(fresh_price for fresh_price in levels_of(fresh))
        for price, (n, buy, sell, role) in levels_of(fresh).items():
            level = levels.level(price)
            assert (level.orders, level.role) == (n, role)
            assert math.isclose(level.buy, buy) and math.isclose(level.sell, sell)


def test_a_book_takes_orders_of_its_instrument_only_and_says_which_lines_changed() -> None:
    book = LineBook(ES.con_id)
    entry = OrderSnapshot("e", ES, Side.BUY, 2, OrderType.LIMIT, OrderState.WORKING, "", 6790.0)
    stop = OrderSnapshot(
        "s", ES, Side.SELL, 2, OrderType.STOP, OrderState.WORKING, "", None, 6785.0, parent_ref="e"
    )
    other = OrderSnapshot("n", NQ, Side.BUY, 1, OrderType.LIMIT, OrderState.WORKING, "", 2.0e4)
    assert book.apply([("n", other)]) == set()
    assert book.apply([("e", entry)]) == {"e"}
    assert book.lines["e"].label == "BUY 2 LMT · no stop"
    assert book.apply([("s", stop)]) == {"e", "s"}  # the entry's risk is now known
    assert book.lines["e"].label == "BUY 2 LMT · risk $500.00"
    assert book.set_position(0.0, math.nan) == set()
    gone = OrderSnapshot("s", ES, Side.SELL, 2, OrderType.STOP, OrderState.CANCELLED, "")
    assert book.apply([("s", gone)]) == {"e", "s"}
    assert set(book.lines) == {"e"} and book.lines["e"].role is LineRole.ENTRY
    assert book.levels.prices == [6790.0] and book.levels.level(6790.0).label == "Σ 1 order · BUY 2"
