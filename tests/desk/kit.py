"""What the desk tests (and the window's) share: a connected desk, orders, and what the
simulator saw."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from ibdesk.broker import ib as shim
from ibdesk.config import limits_off
from ibdesk.domain.connection import LinkState
from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side, Source
from ibdesk.domain.risk import KillReport
from ibdesk.simtws import SimThread
from tests.helpers import wait_until

TICKET = Source("ticket")
OTHER_CLIENT = 9
PLACE_ORDER = 3
MakeDesk = Any


def connected(desk: Any) -> bool:
    return desk.link.status.state is LinkState.CONNECTED


async def ready_desk(
    make_desk: MakeDesk, sim: SimThread, price: float | None = 6800.0, **kw: Any
) -> tuple[Any, Any]:
    """A connected desk and the ES front month (at ``price``; None leaves the market be).

    The pre-trade limits are off unless a test passes ``risk``: most tests here are about
    the kill switch, not the limits (the limits have tests of their own below).
    """
    kw.setdefault("risk", limits_off())
    desk = await make_desk(**kw)
    await wait_until(lambda: connected(desk), timeout=15, what="connected")
    es = await desk.resolver.resolve("ES")
    if price is not None:
        sim.control.set_price(es.con_id, price)
    return desk, es


def lmt(
    inst: Any, price: float, qty: float = 1, side: Side = Side.BUY, source: Source = TICKET
) -> OrderIntent:
    return OrderIntent(inst, side, qty, OrderType.LIMIT, source, limit_price=price)


def state(desk: Any, ref: str) -> OrderState | None:
    snap = desk.orders.get(ref)
    return snap.state if snap is not None else None


def at_sim(sim: SimThread, ref: str) -> dict[str, Any] | None:
    return next((o for o in sim.control.orders() if o["order_ref"] == ref), None)


def sim_positions(sim: SimThread) -> dict[str, float]:
    """Non-zero positions at the broker, by local symbol."""
    return {p["local_symbol"]: p["qty"] for p in sim.control.positions()}


def actions(desk: Any) -> list[tuple[str, str, str]]:
    """(who, action, detail) rows of the journal, read through a connection of our own."""
    with contextlib.closing(sqlite3.connect(desk.journal_path)) as db:
        return db.execute("SELECT who, action, detail FROM actions ORDER BY id").fetchall()


def placed_by(sim: SimThread, client_id: int, since: float = 0.0) -> list[int]:
    """Order ids of every placeOrder the simulator read from ``client_id``."""
    return [
        int(r["fields"][1])
        for r in sim.control.received(since=since, msg_id=PLACE_ORDER, client_id=client_id)
    ]


def orders_placed_by(sim: SimThread, client_id: int, since: float = 0.0) -> list[int]:
    """Like :func:`placed_by`, without the what-if previews (a placeOrder that places
    nothing: the simulator holds no order for it)."""
    held = {o["order_id"] for o in sim.control.orders() if o["client_id"] == client_id}
    return [i for i in placed_by(sim, client_id, since) if i in held]


def asked_after(sim: SimThread, since: float, sent: int, asked: int) -> bool:
    """Whether the desk (client 1) asked ``asked`` after the last ``sent`` it sent since
    ``since``: a verification that really went back to the broker."""
    sends = sim.control.received(since=since, msg_id=sent, client_id=1)
    assert sends, f"the desk never sent message {sent}"
    return bool(sim.control.received(since=sends[-1]["monotonic"], msg_id=asked, client_id=1))


def report_of(desk: Any, started: float) -> KillReport | None:
    """The kill switch's last report, if it is about a kill started at or after ``started``."""
    report = desk.switch.last_report
    return report if report is not None and report.started >= started else None


@contextlib.asynccontextmanager
async def raw_client(sim: SimThread, client_id: int = OTHER_CLIENT) -> AsyncIterator[Any]:
    """Another API client on the same account (its orders are not ibdesk's to cancel)."""
    other = shim.IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=10)
    try:
        yield other
    finally:
        other.disconnect()


def es_last(sim: SimThread, es: Any) -> float:
    """The last trade price at the broker."""
    return float(sim.control.quote(es.con_id)["last"])


def es_contract(es: Any) -> Any:
    return shim.Future(conId=es.con_id, exchange="CME")


async def other_orders(other: Any, es: Any, prices: tuple[float, ...]) -> list[Any]:
    """Working sell limits of the other client, acknowledged by the broker."""
    trades = [other.placeOrder(es_contract(es), shim.LimitOrder("SELL", 1, p)) for p in prices]
    await wait_until(
        lambda: all(t.orderStatus.status == "Submitted" for t in trades),
        timeout=10,
        what="the other client's orders working",
    )
    return trades


async def my_orders(desk: Any, sim: SimThread, es: Any, count: int) -> list[str]:
    """Working buy limits of the desk, 10 points under the market."""
    below = es_last(sim, es) - 10
    refs = [desk.place(lmt(es, below - i * 0.25)).refs[0] for i in range(count)]
    await wait_until(
        lambda: all(state(desk, r) is OrderState.WORKING for r in refs),
        timeout=10,
        what="the desk's orders working",
    )
    return refs


async def watched(desk: Any, sim: SimThread, symbol: str) -> Any:
    """Watch a symbol and wait for its quote (the collar and notional checks need one)."""
    await desk.add_symbol(symbol)
    inst = await desk.resolver.resolve(symbol)
    sim.control.set_price(inst.con_id, sim.control.quote(inst.con_id)["last"])  # a fresh tick
    await wait_until(
        lambda: desk.quotes.get(inst.con_id) is not None and desk.quotes.get(inst.con_id).last > 0,
        timeout=10,
        what=f"a {symbol} quote",
    )
    return inst


async def running_strategy(
    desk: Any, folder: Any, name: str, instruments: tuple[str, ...] = ("ES",)
) -> Any:
    """A minimal strategy ``name`` (no callbacks of its own) loaded and started in the desk:
    the gate takes orders with ``Source("strategy", name)`` only from a running strategy.
    Returns its instance (what its code would call: buy, sell, bracket...)."""
    path = folder / f"strategy_{name}.py"
    path.write_text(
        "from ibdesk.strategies import Strategy\n\n"
        f"class Probe_{name}(Strategy):\n"
        f"    name = {name!r}\n"
        f"    instruments = {instruments!r}\n"
    )
    desk.strategies.load(path)
    await desk.strategies.start(name)
    return desk.strategies.entries[name].instance
