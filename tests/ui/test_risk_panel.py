"""The Risk panel as a trader reads it: every limit with its use ("3 / 60 per minute"), rows
shaded as they near and reach their limit, and no line cut short in a narrow dock."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStyle, QTableView

from ibdesk.config import RiskSettings, limits_off
from ibdesk.domain.instruments import Instrument, SecType
from ibdesk.domain.orders import OrderIntent, OrderType, Side, Source
from ibdesk.domain.risk import TradingState
from ibdesk.simtws import SimConfig, SimThread
from ibdesk.trading.context import CheckContext
from ibdesk.trading.usage import usage
from ibdesk.ui import theme
from ibdesk.ui.panels.risk import RiskModel, RiskPanel
from tests.desk.kit import es_last, lmt, ready_desk, watched
from tests.helpers import quick_sim, wait_until

from .conftest import MakeDesk

pytestmark = pytest.mark.ui

ES = Instrument(11, "ES", SecType.FUTURE, "CME", "USD", "ESZ6", 50, 0.25, "20261218")


@pytest.fixture
def sim_config() -> SimConfig:
    return quick_sim(start_paused=True)


def shown(model: RiskModel) -> dict[str, str]:
    model.sync()
    return {model.index(r, 0).data(): model.index(r, 1).data() for r in range(model.rowCount())}


def row_of(model: RiskModel, name: str) -> int:
    return next(r for r in range(model.rowCount()) if model.index(r, 0).data() == name)


def shade(model: RiskModel, name: str) -> QColor | None:
    model.sync()
    brush = model.index(row_of(model, name), 1).data(Qt.ItemDataRole.BackgroundRole)
    return None if brush is None else QColor(brush)


def cut_short(view: QTableView) -> list[str]:
    """The cells whose text does not fit their rectangle as Qt lays it out (word-wrapped when
    the view wraps): what the view would elide with "…"."""
    model = view.model()
    metrics = view.fontMetrics()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    flags = int(Qt.TextFlag.TextWordWrap) if view.wordWrap() else 0
    bad = []
    for r in range(model.rowCount()):
        for c in range(model.columnCount()):
            index: QModelIndex = model.index(r, c)
            text = str(index.data() or "")
            rect = view.visualRect(index)
            width = rect.width() - 2 * margin
            need = metrics.boundingRect(QRect(0, 0, width, 100_000), flags, text)
            if need.width() > width or need.height() > rect.height():
                size = f"{need.width()}x{need.height()} in {width}x{rect.height()}"
                bad.append(f"{text!r} needs {size}")
    return bad


def crowded_usage() -> list[Any]:
    """The defaults with everything a busy day puts on the panel: a waived loss limit, two
    sources sending, a position per root."""
    intent = OrderIntent(ES, Side.BUY, 1, OrderType.MARKET, Source("ticket"))
    now = 1_800_000_000.0
    recent = [(now - i, "ticket", intent) for i in range(12)] + [
        (now - 1, "strategy:mean_reversion_es", intent)
    ]
    ctx = CheckContext(
        now,
        lambda _a, _c: 0.0,
        (),
        lambda _c: math.nan,
        recent=recent,
        daily_pnl=-1_250.5,
        loss_limit_waived=True,
        state=TradingState.REDUCING,
    )
    risk = RiskSettings(daily_loss_limit=1_000.0, max_position={"ES": 10.0, "*FUT": 20.0})
    return usage(risk, ctx, "DU1", {"ES": (ES, 3.0)})


@pytest.mark.parametrize("width", [360, 260])
def test_no_line_is_cut_short_in_a_narrow_panel(qtbot: Any, width: int) -> None:
    """Every cell's whole text fits (wrapped, the row as tall as it needs), and its tooltip
    holds the whole line too: nothing like ``futures 10, stocks 1,000, FX 1,000,000, oth…``."""
    lines = crowded_usage()
    model = RiskModel(lambda: lines)
    panel = RiskPanel(model)
    qtbot.addWidget(panel)
    panel.resize(width, 900)
    panel.show()
    qtbot.waitExposed(panel)
    model.sync()
    qtbot.waitUntil(lambda: not cut_short(panel.view), timeout=2000)
    assert not cut_short(panel.view)
    for r in range(model.rowCount()):
        name, text = model.index(r, 0).data(), model.index(r, 1).data()
        for c in (0, 1):
            tip = model.index(r, c).data(Qt.ItemDataRole.ToolTipRole)
            assert name in tip and text in tip
    model.close()


async def test_orders_per_minute_rise_as_the_desk_places_orders(
    make_desk: MakeDesk, sim: SimThread
) -> None:
    """Before any order the per-minute line reads 0 / 5; each order the gate takes counts;
    at 80% the row turns amber, at the limit red (the next order is refused)."""
    risk = dataclasses.replace(limits_off(), max_orders_per_minute=5, max_open_orders=100)
    desk, _ = await ready_desk(make_desk, sim, price=None, risk=risk)
    es = await watched(desk, sim, "ES")
    model = desk.window.risk_model
    await wait_until(
        lambda: shown(model).get("Orders per minute") == "0 / 5 per minute",
        what="the per-minute line before any order",
    )
    assert shade(model, "Orders per minute") is None
    below = es_last(sim, es) - 10
    for i in range(4):
        assert desk.place(lmt(es, below - i * 0.25)).accepted
    name = "Orders per minute, ticket"
    await wait_until(lambda: shown(model).get(name) == "4 / 5 per minute", what="4 of 5")
    t = theme.current()
    assert shade(model, name) == t.color("stale")  # amber: nearing the limit
    assert shown(model)["Open orders"] == "4 / 100"
    assert desk.place(lmt(es, below - 2)).accepted
    await wait_until(lambda: shown(model).get(name) == "5 / 5 per minute", what="5 of 5")
    assert shade(model, name) == t.color("naked")  # red: at the limit
    refused = desk.place(lmt(es, below - 3))
    assert not refused.accepted and refused.check == "max_orders_per_minute"
