"""A desk records its session by default: against the simulator over a real socket, the tape
beside the journal holds the quotes, the order's states and its fill, and a replay of it into
fresh stores ends with the same quotes, orders and fills as the live desk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ibdesk.domain.orders import OrderIntent, OrderState, OrderType, Side
from ibdesk.replay import codec
from ibdesk.replay.player import Player, ReplayClock, StoreSink
from ibdesk.replay.tape import TapeReader, tapes_in
from ibdesk.simtws import SimThread
from ibdesk.state.account import AccountStore, PositionStore
from ibdesk.state.bars import BarStore
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore
from ibdesk.state.quotes import QuoteStore, WatchlistStore
from tests.desk.kit import TICKET, MakeDesk, ready_desk
from tests.helpers import wait_until

pytestmark = pytest.mark.desk


@dataclasses.dataclass
class Fresh:
    quotes: QuoteStore = dataclasses.field(default_factory=QuoteStore)
    watchlist: WatchlistStore = dataclasses.field(default_factory=WatchlistStore)
    orders: OrderStore = dataclasses.field(default_factory=OrderStore)
    accounts: AccountStore = dataclasses.field(default_factory=AccountStore)
    positions: PositionStore = dataclasses.field(default_factory=PositionStore)
    bars: BarStore = dataclasses.field(default_factory=BarStore)
    link: LinkStore = dataclasses.field(default_factory=LinkStore)


async def test_a_desk_session_is_on_its_tape_and_replays_to_the_same_stores(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path
) -> None:
    desk, es = await ready_desk(make_desk, sim)
    assert desk.recorder is not None
    await desk.add_symbol("ES")
    await wait_until(lambda: desk.quotes.get(es.con_id) is not None, what="a quote")
    decision = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET))
    assert decision.accepted
    (ref,) = decision.refs
    await wait_until(
        lambda: (o := desk.orders.get(ref)) is not None and o.state is OrderState.FILLED,
        what="the market order filled",
    )
    await wait_until(
        lambda: any(
            f.ref == ref and f.commission == f.commission for f in desk.orders.fills.values()
        ),
        what="its commission",
    )
    # What the stores hold as the recording stops: the desk closes its tape before its first
    # await, so no message arrives in between.
    live = (
        dict(desk.quotes.quotes),
        dict(desk.orders.orders),
        dict(desk.orders.fills),
        dict(desk.positions.positions),
        list(desk.watchlist.items),
    )
    await desk.close()
    (tape,) = tapes_in(tmp_path / "tapes")
    reader = TapeReader(tape)
    got = list(reader.events())
    assert reader.problem is None
    kinds = {e.kind for e in got}
    assert {codec.QUOTE, codec.ORDER, codec.FILL, codec.DECISION, codec.STATUS} <= kinds
    assert {codec.WATCH, codec.ACCOUNT, codec.POSITION} <= kinds
    again = Fresh()
    Player(TapeReader(tape), StoreSink(again), ReplayClock()).run_to_end()
    assert again.quotes.quotes == live[0]
    assert again.orders.orders == live[1]
    assert again.orders.fills == live[2]
    assert again.positions.positions == live[3]
    assert again.watchlist.items == live[4]


async def test_the_journal_links_an_order_to_the_replay_at_its_time(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import datetime as dt
    import shlex

    from ibdesk import journal_cli

    desk, es = await ready_desk(make_desk, sim)
    asked = desk.clock()
    decision = desk.place(OrderIntent(es, Side.BUY, 1, OrderType.MARKET, TICKET))
    (ref,) = decision.refs
    await wait_until(lambda: desk.orders.get(ref).state is OrderState.FILLED, what="filled")
    await desk.close()
    journal = str(tmp_path / "journal.sqlite")
    assert journal_cli.main(["replay", ref, "--journal", journal, "--before", "0", "--print"]) == 0
    command = shlex.split(capsys.readouterr().out)
    (tape,) = tapes_in(tmp_path / "tapes")
    assert command[-5:-3] == ["replay", str(tape)] and command[-1] == "--paused"
    start = dt.datetime.fromisoformat(command[-2]).timestamp()
    assert asked - 1 <= start <= asked + 1
    # A time no tape covers, and an order the journal does not know, are said in words.
    assert journal_cli.main(["replay", "--at", "2001-01-01T09:30", "--journal", journal]) == 2
    assert "no tape" in capsys.readouterr().err
    assert journal_cli.main(["replay", "nope#1.1", "--journal", journal]) == 2
    assert "no order" in capsys.readouterr().err
