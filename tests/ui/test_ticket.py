"""The order ticket, driven through its widgets against the simulator: native brackets for ES,
CL and AAPL, the fills that activate and cancel the children, the what-if preview, the LIVE
confirmation, the hotkeys, messages beside bad fields, the naked-position flag, and a
hypothesis fuzz of typed input where nothing invalid reaches the simulator."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ibdesk.config import RiskSettings
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderType, Side
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.ui.panels.ticket import TicketPanel
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


async def ticket_for(
    make_desk: MakeDesk, sim: SimThread, symbol: str, price: float, **kw: Any
) -> tuple[Any, TicketPanel, Any]:
    """A connected desk whose ticket has ``symbol`` loaded at ``price`` with quotes in."""
    desk = await make_desk(**kw)
    await wait_until(lambda: desk.link.status.state is LinkState.CONNECTED, what="connected")
    panel: TicketPanel = desk.window.ticket_panel
    inst = await desk.resolver.resolve(symbol)
    sim.control.set_price(inst.con_id, price)
    panel.symbol.setText(symbol)
    QTest.keyClick(panel.symbol, Qt.Key.Key_Return)
    await wait_until(lambda: panel.instrument is not None, what=f"{symbol} in the ticket")
    await wait_until(
        lambda: math.isfinite(panel.market().bid) and panel.entry.text(),
        what=f"the entry to follow the bid ({panel.market()}, {panel.entry.text()!r}, "
        f"{panel._entry_follows_market}, {panel.result})",
    )
    return desk, panel, inst


def at_sim(sim: SimThread, prefix: str = "ticket#") -> list[dict[str, Any]]:
    return [o for o in sim.control.orders() if o["order_ref"].startswith(prefix)]


def sim_order(sim: SimThread, ref: str) -> dict[str, Any]:
    return next(o for o in sim.control.orders() if o["order_ref"] == ref)


def tick(value: float, size: float) -> float:
    return round(round(value / size) * size, 10)


@pytest.mark.parametrize(
    ("symbol", "price", "qty", "up", "down"),
    [
        ("ES", 6800.0, 1, 8 * 0.25, 6 * 0.25),  # template: +8 / -6 ticks of 0.25
        ("CL", 71.20, 1, 20 * 0.01, 12 * 0.01),  # +20 / -12 ticks of 0.01
        ("AAPL", 230.00, 100, 1.0, 0.5),  # shares: +1.00 / -0.50 points
    ],
)
async def test_submit_sends_a_native_bracket(
    make_desk: MakeDesk,
    sim: SimThread,
    symbol: str,
    price: float,
    qty: float,
    up: float,
    down: float,
) -> None:
    """Parent LMT at the bid plus a take-profit LMT and a stop STP: one OCA group, the
    parent and the take-profit held (transmit 0) until the stop goes with transmit 1."""
    desk, panel, inst = await ticket_for(make_desk, sim, symbol, price)
    bid = panel.market().bid
    assert float(panel.entry.text()) == pytest.approx(bid)
    assert "Risk <b" in panel.figures.text() and "R:R" in panel.figures.text()
    assert panel.submit_button.isEnabled()
    QTest.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    assert panel.outcome.text().startswith("Sent:"), panel.outcome.text()
    parent_ref, take_ref, stop_ref = panel.sent_refs
    await wait_until(lambda: len(at_sim(sim)) == 3, what="three orders at the simulator")
    parent, take, stop = (sim_order(sim, r) for r in (parent_ref, take_ref, stop_ref))
    assert (parent["action"], parent["order_type"], parent["total_qty"]) == ("BUY", "LMT", qty)
    assert parent["lmt_price"] == pytest.approx(bid)
    assert (take["action"], take["order_type"]) == ("SELL", "LMT")
    assert take["lmt_price"] == pytest.approx(tick(bid + up, inst.min_tick))
    assert (stop["action"], stop["order_type"]) == ("SELL", "STP")
    assert stop["aux_price"] == pytest.approx(tick(bid - down, inst.min_tick))
    assert take["total_qty"] == stop["total_qty"] == qty
    assert take["parent_id"] == stop["parent_id"] == parent["order_id"]
    assert take["oca_group"] and take["oca_group"] == stop["oca_group"]
    assert (parent["transmit"], take["transmit"], stop["transmit"]) == (False, False, True)
    assert all(o["order_ref"].startswith("ticket#") for o in (parent, take, stop))
    await wait_until(
        lambda: "Working at the broker" in panel.outcome.text(), what="the outcome shown"
    )
    await wait_until(lambda: len(desk.orders.live()) == 3, what="the orders in the blotter")


async def test_parent_fill_activates_children_and_take_profit_cancels_stop(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    _desk, panel, es = await ticket_for(make_desk, sim, "ES", 6800.0)
    panel.submit()
    parent_ref, take_ref, stop_ref = panel.sent_refs
    await wait_until(lambda: len(at_sim(sim)) == 3, what="the bracket at the simulator")
    sim.control.set_price(es.con_id, 6799.75)  # the ask reaches the 6800 limit
    await wait_until(
        lambda: sim_order(sim, parent_ref)["status"] == "Filled", what="the parent filled"
    )
    await wait_until(
        lambda: sim_order(sim, stop_ref)["status"] == "Submitted", what="the stop active"
    )
    sim.control.set_price(es.con_id, 6802.25)  # through the 6802 take-profit
    await wait_until(
        lambda: sim_order(sim, take_ref)["status"] == "Filled", what="the take-profit filled"
    )
    await wait_until(
        lambda: sim_order(sim, stop_ref)["status"] == "Cancelled", what="the stop cancelled"
    )
    assert sim.control.positions() == []


async def test_what_if_preview_shows_margin_and_commission(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    await wait_until(
        lambda: "initial margin" in panel.preview.text(), timeout=10, what="the what-if"
    )
    text = panel.preview.text()
    # Each side as IB answered it (the simulator: $0.85 a contract a side), never the
    # entry's doubled.
    assert "commission $0.85 entry + $0.85 exit at the stop = $1.70" in text, text
    assert "round trip" not in text
    assert panel.what_if is not None and panel.what_if.init_margin_change > 0
    assert at_sim(sim) == []  # a what-if places nothing


async def test_what_if_of_a_single_order_is_one_side(make_desk: MakeDesk, sim: SimThread) -> None:
    """Without a bracket the order is one side (a close, a protective stop): its commission
    once, not doubled into a round trip; switching the bracket back asks again."""
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    await wait_until(lambda: "exit at the stop" in panel.preview.text(), what="bracket what-if")
    panel.bracket.setChecked(False)
    await wait_until(
        lambda: "initial margin" in panel.preview.text() and "exit" not in panel.preview.text(),
        timeout=10,
        what=f"a single order's what-if ({panel.preview.text()!r})",
    )
    text = panel.preview.text()
    assert "commission $0.85" in text and "round trip" not in text and "entry +" not in text
    panel.bracket.setChecked(True)
    await wait_until(
        lambda: "exit at the stop = $1.70" in panel.preview.text(),
        timeout=10,
        what="the bracket's what-if asked again",
    )


class TestLiveAccount:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(start_paused=True, accounts=("U7654321",))

    async def test_live_account_asks_before_sending(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
        panel.submit()
        box = panel.confirmation
        assert box is not None
        assert box.isVisible() and "U7654321 is a LIVE account" in box.text()
        assert box.defaultButton() is box.cancel_button  # Enter does not send
        await wait_until(lambda: True)
        assert at_sim(sim) == []
        box.cancel_button.click()
        await wait_until(lambda: "you cancelled" in panel.outcome.text(), what="cancelled")
        assert at_sim(sim) == []

        panel.submit()
        assert panel.confirmation is not None and panel.confirmation is not box
        panel.confirmation.send_button.click()
        await wait_until(lambda: len(at_sim(sim)) == 3, what="the bracket after Send")


async def test_buy_hotkey_sends_the_template_bracket(make_desk: MakeDesk, sim: SimThread) -> None:
    desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    view = desk.window.watchlist_panel
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    await wait_until(lambda: len(at_sim(sim)) == 3, what="a sell bracket from Ctrl+S")
    parent = sim_order(sim, panel.sent_refs[0])
    assert (parent["action"], parent["lmt_price"]) == ("SELL", 6800.25)  # joins the ask


async def test_read_only_offers_no_send_anywhere_and_says_why(
    make_desk: MakeDesk, sim: SimThread, qtbot: Any
) -> None:
    """--read-only: the ticket's Submit and the Quick strip's brackets are off with the
    reason, however the trading state changes (a kill and a re-arm turn them on elsewhere)."""
    desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0, read_only=True)
    quick = desk.window.quick_ticket

    def offers_nothing() -> None:
        assert not panel.submit_button.isEnabled()
        assert panel.gate_verdict.isVisibleTo(panel)
        assert "Read-only mode" in panel.gate_verdict.text()
        for button in (quick.buy, quick.sell):
            assert not button.isEnabled() and "Read-only mode" in button.toolTip()

    offers_nothing()
    qtbot.mouseClick(desk.window.trading_bar.kill_button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: desk.gate.state is TradingState.HALTED, what="halted")
    desk.rearm("test", "checked")
    await wait_until(lambda: desk.gate.state is TradingState.ACTIVE, what="re-armed")
    offers_nothing()
    assert at_sim(sim) == []


async def test_the_ticket_never_offers_what_the_gate_refuses(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """9 ES at 6800 is $3.06M, over the $2M notional limit: the gate would refuse it, so
    Submit is disabled with the gate's reason and no confirmation offers Send."""
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    panel.qty.clear()
    QTest.keyClicks(panel.qty, "9")
    assert not panel.submit_button.isEnabled()
    assert "max_order_notional" in panel.gate_verdict.text()
    assert "over the limit of 2,000,000.00" in panel.gate_verdict.text()
    assert panel.gate_verdict.isVisibleTo(panel)
    panel.submit()  # Ctrl+Enter, or a hotkey, while disabled
    assert panel.confirmation is None
    assert panel.outcome.text().startswith("Denied (max_order_notional)")
    panel.qty.clear()
    QTest.keyClicks(panel.qty, "1")
    assert panel.submit_button.isEnabled() and not panel.gate_verdict.isVisibleTo(panel)
    assert at_sim(sim) == []


async def test_bad_fields_get_messages_and_submit_stays_disabled(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    panel.qty.clear()
    QTest.keyClicks(panel.qty, "1,5")
    assert "point for decimals" in panel.errors["qty"].text()
    assert panel.errors["qty"].isVisibleTo(panel) and not panel.submit_button.isEnabled()
    panel.entry.setFocus()
    panel.entry.clear()
    QTest.keyClicks(panel.entry, "6800.1")
    assert "6800.00 or 6800.25" in panel.errors["entry"].text()
    QTest.keyClick(panel.entry, Qt.Key.Key_Up)  # one tick up from 6800.1 rounds onto the grid
    assert panel.entry.text() == "6800.25" and not panel.errors["entry"].isVisibleTo(panel)
    panel.qty.clear()
    QTest.keyClicks(panel.qty, "2")
    assert panel.submit_button.isEnabled()
    QTest.keyClick(panel.qty, Qt.Key.Key_Escape)  # Esc: back to the template
    assert panel.qty.text() == "1" and panel.entry.text() == "6800.00"


async def test_risk_dollars_set_the_quantity(make_desk: MakeDesk, sim: SimThread) -> None:
    _desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    QTest.keyClicks(panel.risk, "200")  # 6 ticks x $12.50 = $75 a contract
    assert "qty from risk <b>2</b>" in panel.figures.text()
    panel.submit()
    await wait_until(lambda: len(at_sim(sim)) == 3, what="the bracket")
    assert sim_order(sim, panel.sent_refs[0])["total_qty"] == 2


async def test_template_dialog_saves_to_the_config_and_the_ticket_uses_it(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Any
) -> None:
    desk, panel, _es = await ticket_for(make_desk, sim, "ES", 6800.0)
    desk.settings = dataclasses.replace(desk.settings, path=tmp_path / "config.toml")
    dialog = panel.open_templates()
    row = next(r for r in range(dialog.table.rowCount()) if dialog._text(r, 0) == "ES")
    dialog.table.item(row, 1).setText("3")
    dialog.table.item(row, 3).setText("4,5")
    dialog.save()
    assert "use a point for decimals" in dialog.message.text() and dialog.isVisible()
    dialog.table.item(row, 3).setText("4")
    dialog.save()
    assert not dialog.isVisible()
    assert "ES = {qty = 3" in (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert panel.qty.text() == "3" and panel.stop_loss.text() == "4"
    assert panel.result.intent is not None


class TestNakedPosition:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(start_paused=True, positions=(("ES", 2.0),))

    async def test_naked_flag_clears_once_a_protective_stop_works(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        desk, panel, es = await ticket_for(make_desk, sim, "ES", 6800.0)
        window = desk.window
        model = window.positions_model
        key = (desk.session.account, es.con_id)
        await wait_until(lambda: key in desk.positions.positions, what="the ES position")
        assert model.naked(key)
        await wait_until(lambda: model.background(key) == "naked", what="shaded")
        positions = window.positions_panel
        positions.view.selectRow(0)
        request = positions.ticket_for_selected(protect=True)
        assert request is not None and request.side is Side.SELL and request.qty == 2
        assert panel.entry_type is OrderType.STOP
        assert not panel.bracket.isChecked() and panel.qty.text() == "2"
        assert float(panel.entry.text()) == pytest.approx(6800.0 - 6 * 0.25)  # template stop
        panel.submit()
        await wait_until(
            lambda: at_sim(sim) and at_sim(sim)[0]["status"] == "Submitted", what="the stop"
        )
        await wait_until(lambda: not model.naked(key), what="the flag to clear")


# ---- fuzz -------------------------------------------------------------------------------------

BAD = st.one_of(
    st.sampled_from(["", "0", "-1", "nan", "1,5", "abc", "1e9", "6800.1", "inf", " 3 "]),
    st.integers(-3, 30).map(str),
    st.decimals(min_value=6700, max_value=6900, places=2).map(str),
)


def typed(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly sensible values, often not: about half the examples can be sent."""
    return st.one_of(good, good, good, BAD)


QTY = typed(st.integers(1, 3).map(str))
PRICE = typed(st.integers(-12, 12).map(lambda k: f"{6800 + k * 0.25:.2f}"))
OFFSET = typed(st.integers(1, 40).map(str))


class TestFuzz:
    @pytest.fixture
    def sim_config(self) -> SimConfig:
        return quick_sim(start_paused=True)

    async def test_typed_input_never_sends_anything_invalid(
        self, make_desk: MakeDesk, sim: SimThread
    ) -> None:
        """Typed input through the real widgets: every refusal says why, and every order
        that reaches the simulator is on the tick, whole, and on the right side."""
        # Hypothesis runs every example without letting the loop turn: on a busy machine
        # that is a stall past the watchdog's threshold, and its halt would swallow orders.
        risk = dataclasses.replace(
            RiskSettings(),
            max_orders_per_minute=0,
            duplicate_window_ms=0,
            max_open_orders=0,
            watchdog_halt_after=0,
        )
        desk, panel, es = await ticket_for(make_desk, sim, "ES", 6800.0, risk=risk)
        refused: list[str] = []
        sent: list[tuple[str, ...]] = []

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            qty=QTY,
            entry=PRICE,
            take=OFFSET,
            stop=OFFSET,
            side=st.sampled_from(list(Side)),
            exits=st.integers(0, 2),
            order_type=st.integers(0, 3),
        )
        # Sendable ones, always tried first: the random draws alone may send nothing at all
        # (a stop-limit without a limit, a dollar offset under one tick...).
        @example(qty="1", entry="6799.00", take="8", stop="6", side=Side.BUY, exits=0, order_type=1)
        @example(
            qty="2", entry="6797.00", take="3", stop="2", side=Side.SELL, exits=1, order_type=2
        )
        def one(
            qty: str, entry: str, take: str, stop: str, side: Side, exits: int, order_type: int
        ) -> None:
            panel.clear()
            (panel.buy if side is Side.BUY else panel.sell).setChecked(True)
            panel.order_type.setCurrentIndex(order_type)
            panel.exits.setCurrentIndex(exits)
            for edit, text in (
                (panel.qty, qty),
                (panel.entry, entry),
                (panel.take_profit, take),
                (panel.stop_loss, stop),
            ):
                edit.clear()
                QTest.keyClicks(edit, text)
            enabled = panel.submit_button.isEnabled()
            before = panel.sent_refs
            panel.submit()
            outcome = panel.outcome.text()
            if panel.sent_refs != before:
                assert enabled
                sent.append(panel.sent_refs)
            elif outcome.startswith("Waiting for your confirmation"):
                # A fat-finger order (ES x5 is $1.7M of a $2M notional limit): it asks first.
                assert enabled and panel.confirmation is not None
                panel.confirmation.done(0)
            else:
                assert outcome.startswith(("Not sent: ", "Denied (")) and len(outcome) > 15
                refused.append(outcome)

        one()
        tally = Counter(refused).most_common(8)
        assert refused and len(sent) >= 2, f"sent {len(sent)}, refused {tally}"
        refs = {r for group in sent for r in group}
        await wait_until(
            lambda: len({o["order_ref"] for o in at_sim(sim)} & refs) == len(refs),
            timeout=20,
            what="every sent order at the simulator",
        )
        by_ref = {o["order_ref"]: o for o in at_sim(sim)}
        for group in sent:
            orders = [by_ref[r] for r in group]
            for o in orders:
                # What was sent (the simulator's total shrinks when an OCA sibling fills).
                sent_qty = desk.orders.get(o["order_ref"]).qty
                assert sent_qty >= 1 and float(sent_qty).is_integer()
                for p in (o["lmt_price"], o["aux_price"]):
                    assert p is None or p == 0 or es.on_tick(p)
            if len(orders) == 3:
                parent, take, stop = orders
                sign = 1 if parent["action"] == "BUY" else -1
                assert sign * (take["lmt_price"] - stop["aux_price"]) > 0
