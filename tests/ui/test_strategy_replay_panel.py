"""The strategies panel's "Replay on tape…": the selected strategy, with its parameters, is
replayed on a chosen tape in a child process (nothing reaches the broker) and its report opens."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from ibdesk.simtws import SimThread
from tests.desk.kit import ready_desk
from tests.helpers import wait_until
from tests.strategy_tapes import FLIP, make_tape
from tests.ui.test_strategies_panel import click, load_through_the_dialog, panel_of

from .conftest import MakeDesk

pytestmark = pytest.mark.ui


async def test_replay_on_tape_from_the_panel_shows_the_report(
    make_desk: MakeDesk, sim: SimThread, tmp_path: Path, qtbot: Any
) -> None:
    desk, _es = await ready_desk(make_desk, sim)
    panel = panel_of(desk)
    tape = make_tape(tmp_path / "tapes")
    path = tmp_path / "flip.py"
    path.write_text(textwrap.dedent(FLIP))
    await load_through_the_dialog(panel, path, qtbot)
    # The trader's parameter goes along: a level under every price of the tape, so Flip
    # never sees a crossing (at its default of 6800 it trades five times).
    assert panel.set_param("Flip", "level", "6000")
    placed_before = len(sim.control.orders())

    click(panel.replay_button, qtbot)
    dialog = panel.replay_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.selectFile(str(tape))
    dialog.accept()
    assert not panel.replay_button.isEnabled(), "one replay at a time"
    await wait_until(lambda: panel.report_window is not None, timeout=90, what="the report")
    report = panel.replay_report
    assert report is not None and report.trades == () and report.quotes == 6
    assert panel.report_window is not None and panel.report_window.isVisible()
    assert "0 trades" in panel.message.text()
    assert panel.replay_button.isEnabled()
    # Nothing of the replay reached the live desk's broker.
    assert len(sim.control.orders()) == placed_before

    assert panel.set_param("Flip", "level", "6800")
    click(panel.replay_button, qtbot)
    dialog = panel.replay_dialog
    assert dialog is not None
    dialog.selectFile(str(tape))
    dialog.accept()
    await wait_until(
        lambda: panel.replay_report is not report and panel.replay_button.isEnabled(),
        timeout=90,
        what="the second report",
    )
    assert panel.replay_report is not None and len(panel.replay_report.trades) == 5
