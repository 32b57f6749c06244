"""The shipped example strategies, loaded from the package through the real runner into a desk
against the simulator: each trades end to end, its signal forced by moving the simulator's
prices by hand (the market paused, so nothing else moves them)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from ibdesk.domain.orders import OrderState
from ibdesk.domain.strategy import StrategyState
from ibdesk.simtws import SimThread
from ibdesk.strategies import examples
from tests.desk.kit import actions, at_sim, ready_desk
from tests.helpers import wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.desk

BAR_SECONDS = 5.0


def at_sim_by(sim: SimThread, prefix: str) -> list[dict[str, Any]]:
    """The simulator's orders whose orderRef starts with ``prefix``, oldest first."""
    return [o for o in sim.control.orders() if o["order_ref"].startswith(prefix)]


async def close_bar(desk: Any, sim: SimThread, con_id: int, price: float, key: Any) -> float:
    """Trade at ``price`` in the forming bar and make that bar close there: once the bar's
    end has passed (on the clock the simulator stamps bars with), step the paused market once
    (the simulator opens a bar on a market step, not on a price set by hand) and trade at
    ``price`` again, so the next bar reaches the desk. Returns the start of the bar that
    closed."""
    sim.control.set_price(con_id, price)
    series = desk.bars.get(key)
    await wait_until(lambda: series.closes[-1] == price, what=f"a bar at {price}")
    start = float(series.times[-1])
    count = len(series)
    await wait_until(
        lambda: time.time() >= start + BAR_SECONDS + 0.05, timeout=8, what="the bar's end"
    )
    sim.control.step()
    sim.control.set_price(con_id, price)
    await wait_until(lambda: len(series) > count, what="the next bar")
    return start


async def test_the_breakout_sends_its_bracket_with_its_why(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    sim.control.pause_market()
    assert desk.strategies.load(examples.path_of("breakout")) == ["Breakout"]
    await desk.strategies.start("Breakout")
    breakout = desk.strategies.entries["Breakout"].instance
    key = breakout._ctx.bar_keys[es.con_id]
    lookback = breakout.p["lookback"]
    assert lookback == 20 and len(breakout.bars("ES").time) > lookback  # history loaded

    # A trade well above every recent high; the bar it is in closes there.
    target = es.round_to_tick(float(breakout.bars("ES").high[-3 * lookback :].max()) + 5.0)
    signal_bar = await close_bar(desk, sim, es.con_id, target, key)

    bars = breakout.bars("ES")
    i = int(list(bars.time).index(signal_bar))
    high = float(bars.high[i - lookback : i].max())
    why = f"close {target:.2f} > 20-bar high {high:.2f}"
    await wait_until(lambda: len(at_sim_by(sim, "strategy:Breakout#")) == 3, what="the bracket")
    entry, take, stop = at_sim_by(sim, "strategy:Breakout#")
    assert (entry["action"], entry["order_type"], entry["total_qty"]) == ("BUY", "MKT", 1)
    assert (take["action"], take["order_type"], take["lmt_price"]) == ("SELL", "LMT", target + 2)
    assert (stop["action"], stop["order_type"], stop["aux_price"]) == ("SELL", "STP", target - 1.5)
    assert take["parent_id"] == stop["parent_id"] == entry["order_id"]
    assert desk.orders.get(entry["order_ref"]).why == why

    # Its position comes from its own fill, and the panel's status says why it traded.
    await wait_until(lambda: breakout.position("ES") == 1.0, what="long 1 from its own fill")
    status = desk.strategies.status("Breakout")
    assert status.state is StrategyState.RUNNING and status.position == 1.0
    assert status.last_why == why and status.working == 2
    assert ("strategy:Breakout", "strategy started") in [a[:2] for a in actions(desk)]

    # One position at a time: a second breakout (a close above the signal bar, short of the
    # take-profit) while long sends nothing.
    await close_bar(desk, sim, es.con_id, target + 1.0, key)
    assert len(at_sim_by(sim, "strategy:Breakout#")) == 3
    assert desk.strategies.state_of("Breakout") is StrategyState.RUNNING


async def test_mean_reversion_buys_the_stretch_and_sells_at_the_mean(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    desk, _ = await ready_desk(make_desk, sim)
    sim.control.pause_market()
    aapl = await desk.resolver.resolve("AAPL")
    desk.strategies.load(examples.path_of("mean_reversion.py"))
    # Every quote a sample, so the test decides how many there are.
    desk.strategies.set_params("MeanReversion", {"window": 20, "sample_secs": 0.0})
    await desk.strategies.start("MeanReversion")
    mr = desk.strategies.entries["MeanReversion"].instance

    # A calm market around 200: the window fills with mids a few cents apart.
    wiggle = (200.00, 200.02, 199.99, 200.01, 199.98, 200.03)
    step = 0
    while len(mr.mids) < 20:
        price = wiggle[step % len(wiggle)]
        step += 1
        sim.control.set_price(aapl.con_id, price)
        await wait_until(
            lambda p=price: (q := desk.quotes.get(aapl.con_id)) is not None and q.bid == p,
            what=f"AAPL bid {price}",
        )
        assert step < 200, "the window never filled"
    assert not at_sim_by(sim, "strategy:MeanReversion#")  # calm: no trade

    # Three standard deviations down: it joins the bid with a buy limit.
    std = max(mr.std, aapl.min_tick)
    stretched = aapl.round_to_tick(mr.mean - 3 * std - aapl.min_tick / 2)
    sim.control.set_price(aapl.con_id, stretched)
    await wait_until(lambda: at_sim_by(sim, "strategy:MeanReversion#"), what="the entry")
    [entry] = at_sim_by(sim, "strategy:MeanReversion#")
    assert (entry["action"], entry["order_type"], entry["total_qty"]) == ("BUY", "LMT", 100)
    assert entry["lmt_price"] == stretched
    z = float(re.match(r"z (\S+):", desk.orders.get(entry["order_ref"]).why).group(1))
    assert -4.0 < z <= -2.0

    # Filled there: it places one exit for the position, back at the mean.
    sim.control.fill_order(entry["perm_id"])
    await wait_until(lambda: mr.position("AAPL") == 100.0, what="long 100 from its own fill")
    await wait_until(lambda: len(at_sim_by(sim, "strategy:MeanReversion#")) == 2, what="the exit")
    exit_order = at_sim_by(sim, "strategy:MeanReversion#")[1]
    assert (exit_order["action"], exit_order["order_type"]) == ("SELL", "LMT")
    assert exit_order["total_qty"] == 100 and exit_order["lmt_price"] > stretched
    assert abs(exit_order["lmt_price"] - mr.mean) < 2 * aapl.min_tick
    assert desk.orders.get(exit_order["order_ref"]).why.startswith("exit at the mean")

    # The price comes back: the exit fills and it is flat, with a profit before costs.
    sim.control.set_price(aapl.con_id, exit_order["lmt_price"])
    await wait_until(lambda: mr.position("AAPL") == 0.0, what="flat again")
    assert desk.orders.get(exit_order["order_ref"]).state is OrderState.FILLED
    assert at_sim(sim, exit_order["order_ref"])["avg_fill_price"] > stretched
    assert desk.strategies.state_of("MeanReversion") is StrategyState.RUNNING
    assert mr.entry is None and mr.exit is None


def test_the_examples_are_found_by_name_and_nothing_else_is() -> None:
    assert examples.path_of("breakout") == examples.FOLDER / "breakout.py"
    assert examples.path_of("mean_reversion.py") == examples.FOLDER / "mean_reversion.py"
    assert examples.path_of("__init__") is None
    assert examples.path_of("../breakout") is None
    assert examples.path_of("no_such_example") is None
