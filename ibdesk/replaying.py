"""``ibdesk replay FILE``: the desktop driven from a tape instead of a broker.

The same window, panels, charts and blotter as live, over a desk whose stores the player fills
from the tape, on the tape's clock. Nothing can reach a broker: the desk's session is never
started (no socket is ever opened, not even the kill switch's own line), its gate is read-only,
and every order operation is refused before the gate with the reason below. Alerts stay quiet
(a replayed fill must not ring a phone), the journal is a scratch file, and the window keeps
its own layout apart from the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ibdesk import files
from ibdesk.config import (
    AlertSettings,
    ConnectionSettings,
    RecordSettings,
    Settings,
    StrategySettings,
)
from ibdesk.domain.alerts import AlertKind
from ibdesk.domain.bars import Timeframe
from ibdesk.domain.instruments import Instrument, SymbolError
from ibdesk.domain.orders import (
    BLOTTER,
    BracketIntent,
    GateDecision,
    OrderIntent,
    Source,
)
from ibdesk.domain.risk import KillReport
from ibdesk.domain.ticket import WhatIf
from ibdesk.replay.player import Player, ReplayClock, StoreSink
from ibdesk.replay.tape import TapeReader
from ibdesk.state.bars import BarKey
from ibdesk.ui import theme
from ibdesk.ui.main_window import MainWindow
from ibdesk.ui.replay_bar import TransportBar
from ibdesk.windowed import WindowedDesk

log = logging.getLogger("ibdesk.replay")

REFUSED = "REPLAY: this is a recorded session; nothing is sent to any broker."
CHECK = "replay"


def replay_settings(settings: Settings) -> Settings:
    """The settings of a replay: read-only, not recording, never connecting, no alerts out."""
    connection = dataclasses.replace(settings.connection, read_only=True, auto_connect=False)
    quiet = AlertSettings(push=(), routes={kind.value: () for kind in AlertKind})
    return dataclasses.replace(
        settings,
        connection=connection,
        record=RecordSettings(enabled=False),
        alerts=quiet,
        strategies=StrategySettings(),  # nothing starts by itself
    )


class ReplayDesk(WindowedDesk):
    """A windowed desk whose stores a tape fills: it resolves symbols from the tape's
    instruments, charts the bars the tape recorded, and refuses every order operation."""

    def __init__(
        self,
        settings: Settings,
        window: MainWindow,
        journal_path: Path,
        clock: ReplayClock,
        instruments: Mapping[int, Instrument],
    ) -> None:
        self.tape_instruments = instruments
        super().__init__(replay_settings(settings), window, journal_path, clock)

    # ---- the market: from the tape ------------------------------------------------------------

    async def resolve(self, text: str) -> Instrument:
        """The tape's instrument named ``text`` (its local symbol or its symbol)."""
        wanted = text.strip().upper()
        for inst in self.tape_instruments.values():
            if wanted in (inst.display.upper(), inst.local_symbol.upper()):
                return inst
        for inst in self.tape_instruments.values():
            if wanted == inst.symbol.upper():
                return inst
        raise SymbolError(f"{text} is not on this tape (REPLAY: the broker is not asked).")

    async def add_symbol(self, text: str) -> str:
        """Watch an instrument of the tape (its quotes come from the tape)."""
        inst = await self.resolve(text)
        return f"Added {inst.display}." if self.watchlist.add(inst) else "Already watched."

    def remove_symbol(self, con_id: int) -> None:
        """Take an instrument off the replay's watchlist."""
        self.watchlist.remove(con_id)

    async def ticket_instrument(self, text: str) -> Instrument:
        """The ticket's instrument, from the tape."""
        return await self.resolve(text)

    async def open_chart(self, text: str, timeframe: Timeframe) -> tuple[Instrument, BarKey]:
        """A chart of the tape's bars (its series is created empty when the tape has none
        yet: the player fills the same series)."""
        inst = await self.resolve(text)
        key = BarKey(inst.con_id, timeframe)
        self.bars.open(key)
        return inst, key

    def close_chart(self, key: BarKey) -> None:
        """Nothing to stop: the tape feeds the bars."""

    def watch_quotes(self, instrument: Instrument) -> None:
        """Nothing to ask: the tape has the quotes it has."""

    # ---- orders: refused ----------------------------------------------------------------------

    def place(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Refused: a replay sends nothing."""
        return self._refuse("order", intent.source)

    def judge(self, intent: OrderIntent | BracketIntent) -> GateDecision:
        """Refused: the ticket and the chart do not offer Send."""
        return GateDecision.deny(CHECK, REFUSED)

    def refuses_all_orders(self) -> str:
        """Every order, always."""
        return REFUSED

    def modify_order(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """Refused."""
        return self._refuse("modify", source)

    def judge_modify(
        self,
        ref: str,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        source: Source = BLOTTER,
    ) -> GateDecision:
        """Refused."""
        return GateDecision.deny(CHECK, REFUSED)

    def cancel_order(self, ref: str, source: Source = BLOTTER) -> GateDecision:
        """Refused."""
        return self._refuse("cancel", source)

    def cancel_all(self, source: Source = BLOTTER) -> GateDecision:
        """Refused."""
        return self._refuse("cancel_all", source)

    async def what_if(self, intent: OrderIntent | BracketIntent) -> WhatIf:
        """No broker to ask."""
        raise ConnectionError(REFUSED)

    def _refuse(self, kind: str, source: Source) -> GateDecision:
        decision = GateDecision.deny(CHECK, REFUSED)
        log.warning("%s from %s refused: %s", kind.replace("_", " "), source, REFUSED)
        return decision

    # ---- safety and the session: nothing to reach ---------------------------------------------

    def kill(self, who: str) -> asyncio.Task[KillReport]:
        """Nothing to cancel: a report that says so."""
        return self._no_kill(who, flatten=False)

    def flatten_all(self, who: str) -> asyncio.Task[KillReport]:
        """Nothing to close: a report that says so."""
        return self._no_kill(who, flatten=True)

    def flatten_position(
        self, con_id: int, who: str = "positions panel"
    ) -> asyncio.Task[KillReport]:
        """Nothing to close: a report that says so."""
        return self._no_kill(who, flatten=True)

    def retry_kill(self, who: str) -> asyncio.Task[KillReport]:
        """Nothing to cancel."""
        return self._no_kill(who, flatten=False)

    def _no_kill(self, who: str, flatten: bool) -> asyncio.Task[KillReport]:
        now = self.clock()
        log.warning("%s from %s: %s", "flatten" if flatten else "kill", who, REFUSED)

        async def report() -> KillReport:
            return KillReport("", now, now, False, flatten=flatten, problems=(REFUSED,))

        return asyncio.ensure_future(report())

    def reconnect(self, connection: ConnectionSettings) -> None:
        """A replay does not connect."""
        log.warning("connect refused: %s", REFUSED)

    def start(self, connect: bool = True) -> None:
        """Never: no session, no watchdog, no kill-switch line (no socket at all)."""
        raise RuntimeError(REFUSED)


def keep_replay_in_title(window: MainWindow, name: str) -> None:
    """``REPLAY of <tape>`` first in the window's title, whatever the window puts after it
    (the replayed account and PAPER/LIVE, as they were)."""
    prefix = f"REPLAY of {name} (nothing is sent) \u2014 "

    def on_title(title: str) -> None:
        if not title.startswith(prefix):
            window.setWindowTitle(prefix + title)

    window.windowTitleChanged.connect(on_title)
    on_title(window.windowTitle())


def default_state_path() -> Path:
    """The replay window's layout, apart from the live window's (and its watchlist)."""
    import platformdirs

    return platformdirs.user_state_path("ibdesk") / "replay" / "window.ini"


@dataclasses.dataclass
class Replay:
    """What a replay window is made of (tests reach its parts)."""

    desk: ReplayDesk
    player: Player
    bar: TransportBar
    reader: TapeReader


def build_replay(
    window: MainWindow,
    settings: Settings,
    path: Path,
    journal_path: Path,
    start: float | None = None,
    end: float | None = None,
    speed: float = 1.0,
    rewind: Callable[[float], None] | None = None,
) -> Replay:
    """A replay desk on a window, its player at ``start`` and its transport bar on top."""
    reader = TapeReader(path)
    info = reader.info()
    clock = ReplayClock(start or info.started or 0.0)
    desk = ReplayDesk(settings, window, journal_path, clock, reader.decoder.instruments)
    player = Player(reader, StoreSink(desk), clock, start=start, end=end)
    player.set_speed(speed)
    bar = TransportBar(player, path.name, window, rewind=rewind)
    # Above everything else, on a row of its own: the first thing a trader's eye meets.
    window.insertToolBar(window.trading_bar, bar)
    window.insertToolBarBreak(window.trading_bar)
    keep_replay_in_title(window, path.name)
    if reader.message():
        bar.say(reader.message() or "", error=True)
    return Replay(desk, player, bar, reader)


class ReplaySession:
    """The replay's window, opened again at an earlier time when the trader jumps back.

    The player only moves forward (the stores and the panels over them have no undo), so a
    jump back builds a new desk and window and plays the tape from its start up to the time
    asked, at once: an hour at 5,000 events/s takes well under a minute (benchmarks.replay).

    Events:
        none; :attr:`replay` is the replay on screen now.
    """

    def __init__(
        self,
        settings: Settings,
        path: Path,
        scratch: Path,
        state_path: Path,
        end: float | None = None,
        speed: float = 1.0,
    ) -> None:
        self.settings = settings
        self.path = path
        self.scratch = scratch
        self.state_path = state_path
        self.end = end
        self.speed = speed
        self.replay: Replay | None = None
        self.opened = 0
        self._reopening: asyncio.Task[None] | None = None

    def open(self, start: float | None, play: bool) -> Replay:
        """Open the window (and its desk) with the tape at ``start``."""
        window = MainWindow(self.state_path)
        window.show()
        self.opened += 1
        journal = self.scratch / f"journal-{self.opened}.sqlite"
        replay = build_replay(
            window, self.settings, self.path, journal, start, self.end, self.speed, self.rewind
        )
        self.replay = replay
        if play:
            replay.player.play()
        return replay

    def rewind(self, t: float) -> None:
        """Show the tape at an earlier ``t``: a new window, paused there (the old one goes
        once the new one is on screen, so the application never has no window)."""
        if self._reopening is None or self._reopening.done():
            self._reopening = asyncio.ensure_future(self._reopen(t))

    async def _reopen(self, t: float) -> None:
        old = self.replay
        speed = old.player.speed if old is not None else self.speed
        self.speed = speed
        self.open(t, play=False)
        if old is not None:
            await self._close(old)

    @property
    def reopening(self) -> bool:
        """A jump back is under way (its old window closing is not the trader's close)."""
        return self._reopening is not None and not self._reopening.done()

    async def close(self) -> None:
        """Close the replay on screen."""
        if self._reopening is not None:
            await asyncio.gather(self._reopening, return_exceptions=True)
        if self.replay is not None:
            await self._close(self.replay)
            self.replay = None

    @staticmethod
    async def _close(replay: Replay) -> None:
        replay.bar.close_player()
        await replay.desk.close()
        replay.reader.close()
        replay.desk.window.close()
        replay.desk.window.deleteLater()


def run_replay(
    settings: Settings,
    path: Path,
    *,
    start: float | None = None,
    end: float | None = None,
    speed: float = 1.0,
    paused: bool = False,
    state_path: Path | None = None,
    screenshot: Path | None = None,
    exit_after: float | None = None,
) -> int:
    """Show the replay window and play; returns the exit code when the trader closes it."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    state = state_path or default_state_path()
    files.private_folder(state.parent)
    theme.apply(app, settings.ui.theme)
    from ibdesk.ui.errors import ErrorReporter
    from ibdesk.ui.event_loop import DeskEventLoop

    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    outcome = {"code": 0}
    with tempfile.TemporaryDirectory() as scratch:
        session = ReplaySession(settings, path, Path(scratch), state, end, speed)
        first = session.open(start, play=False)
        reporter = ErrorReporter(first.desk.window)
        reporter.install(loop)
        closed = loop.create_future()

        def on_last_closed() -> None:
            if not session.reopening and not closed.done():
                closed.set_result(None)

        app.lastWindowClosed.connect(on_last_closed)

        def finish() -> None:
            replay = session.replay
            if replay is None:
                return
            if screenshot is not None:
                saved = replay.desk.window.grab().save(str(screenshot), "PNG")
                outcome["code"] = 0 if saved else 1
            replay.desk.window.close()

        async def main() -> None:
            if not paused:
                first.player.play()
            if exit_after is not None:
                loop.call_later(exit_after, finish)
            await closed
            await session.close()

        with loop, contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())
        reporter.uninstall()
    return outcome["code"]
