"""The ticket's TRAIL end to end: a bracket whose stop-loss is a trailing stop, chosen and
typed in the real widgets, sent through the gate to the simulator, covering the position
once the entry fills, trailing the rise and filling on the reversal."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ibdesk.domain.orders import OrderState, OrderType
from ibdesk.simtws import SimConfig, SimThread
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk
from .test_ticket import at_sim, sim_order, ticket_for

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


def typed(edit: object, text: str) -> None:
    edit.clear()  # type: ignore[attr-defined]
    QTest.keyClicks(edit, text)  # type: ignore[arg-type]


async def test_a_trailing_stop_bracket_trails_the_rise_and_fills_on_the_reversal(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, panel, es = await ticket_for(make_desk, sim, "ES", 6800.0)
    assert not panel.trail.row.isVisibleTo(panel)  # STP by default: no trail row
    panel.trail.kind.setCurrentIndex(panel.trail.kind.findData(OrderType.TRAIL))
    assert panel.trail.row.isVisibleTo(panel)
    # The trail starts as the stop's own distance (the template's 6 ticks).
    assert (panel.trail.amount.text(), panel.trail.unit_value) == ("6", "ticks")
    typed(panel.trail.amount, "4")  # trail 4 ticks: 1.00 point
    typed(panel.take_profit, "40")  # room to run: the take-profit 10 points up
    assert panel.submit_button.isEnabled(), panel.result.errors
    # The what-if asks the TRAIL exit too (the simulator: $0.85 a side).
    await wait_until(
        lambda: "$0.85 exit at the stop = $1.70" in panel.preview.text(),
        timeout=10,
        what=f"the what-if of the trailing bracket ({panel.preview.text()!r})",
    )
    QTest.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    assert "SL 6798.50 trailing 1.00" in panel.outcome.text(), panel.outcome.text()
    parent_ref, take_ref, stop_ref = panel.sent_refs
    await wait_until(lambda: len(at_sim(sim)) == 3, what="the bracket at the simulator")
    parent, stop = sim_order(sim, parent_ref), sim_order(sim, stop_ref)
    assert (stop["action"], stop["order_type"], stop["aux_price"]) == ("SELL", "TRAIL", 1.0)
    assert stop["trail_stop_price"] == 6798.5  # starts at the stop-loss, 6 ticks under
    assert stop["parent_id"] == parent["order_id"] and stop["transmit"]

    sim.control.set_price(es.con_id, 6799.75)  # the ask reaches the 6800 limit
    await wait_until(lambda: sim_order(sim, parent_ref)["status"] == "Filled", what="entry")
    await wait_until(
        lambda: desk.orders.get(stop_ref).state is OrderState.WORKING, what="the TRAIL working"
    )
    key = (desk.session.account, es.con_id)
    await wait_until(lambda: key in desk.positions.positions, what="the long position")
    model = desk.window.positions_model
    await wait_until(lambda: not model.naked(key), what="the TRAIL counted as stop cover")

    sim.control.set_price(es.con_id, 6805.0)  # in favour: the stop follows, a point behind
    assert sim_order(sim, stop_ref)["trail_stop_price"] == 6804.0
    sim.control.set_price(es.con_id, 6804.5)  # a dip above it: the stop stays
    assert sim_order(sim, stop_ref)["trail_stop_price"] == 6804.0
    assert sim_order(sim, stop_ref)["status"] == "Submitted"
    sim.control.set_price(es.con_id, 6804.0)  # the reversal reaches it
    await wait_until(
        lambda: desk.orders.get(stop_ref).state is OrderState.FILLED, what="the TRAIL filled"
    )
    await wait_until(
        lambda: desk.orders.get(take_ref).state is OrderState.CANCELLED, what="TP cancelled"
    )
    fill = next(f for f in desk.orders.fills.values() if f.ref == stop_ref)
    assert fill.price >= 6803.75  # sold near the trailed stop, 5 points above the first one
    assert sim.control.positions() == []


async def test_a_bad_trail_disables_submit_with_its_message(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    panel.trail.kind.setCurrentIndex(panel.trail.kind.findData(OrderType.TRAIL))
    panel.trail.unit.setCurrentIndex(panel.trail.unit.findData("points"))
    typed(panel.trail.amount, "1.1")
    assert not panel.submit_button.isEnabled()
    assert "not on ESZ6's 0.25 tick" in panel.errors["trail"].text()
    assert panel.errors["trail"].isVisibleTo(panel)
    typed(panel.trail.amount, "1.25")
    assert panel.submit_button.isEnabled() and not panel.errors["trail"].isVisibleTo(panel)
    panel.bracket.setChecked(False)  # no bracket, no stop-loss: no trail either
    assert not panel.trail.row.isVisibleTo(panel) and not panel.trail.kind.isEnabled()
    assert at_sim(sim) == []
