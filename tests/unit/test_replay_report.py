"""The strategy replay's report: realised P&L with commissions, max drawdown, refusals by check."""

from __future__ import annotations

import json

import pytest

from ibdesk.replay.replay_report import Fill, Mark, Refusal, ReplayReport, build_report

ES, CL = 1, 2


def test_a_round_trip_realises_its_price_difference_times_the_multiplier_less_commissions() -> None:
    fills = [
        Fill(10.0, ES, "ES", "BUY", 2, 6800.0, 50.0, 2.5, "strategy:Flip#1"),
        Fill(20.0, ES, "ES", "SELL", 1, 6804.0, 50.0, 1.25, "strategy:Flip#2"),
        Fill(30.0, ES, "ES", "SELL", 1, 6790.0, 50.0, 1.25, "strategy:Flip#3"),
    ]
    report = build_report("t.tape", fills, [], [], start=0.0, end=40.0, quotes=0)
    assert report.realized_pnl == pytest.approx(4 * 50 - 10 * 50)
    assert report.commissions == pytest.approx(5.0)
    assert report.net_pnl == pytest.approx(-300 - 5.0)
    assert len(report.trades) == 3


def test_a_short_flipped_to_long_realises_the_short_and_keeps_the_rest_at_the_new_price() -> None:
    fills = [
        Fill(1.0, CL, "CL", "SELL", 1, 70.0, 1000.0, 0.0, "a"),
        Fill(2.0, CL, "CL", "BUY", 3, 69.5, 1000.0, 0.0, "b"),
        Fill(3.0, CL, "CL", "SELL", 2, 70.5, 1000.0, 0.0, "c"),
    ]
    report = build_report("t.tape", fills, [], [], start=None, end=None, quotes=0)
    assert report.realized_pnl == pytest.approx(500.0 + 2 * 1000.0)


def test_max_drawdown_is_the_deepest_fall_of_equity_marked_to_market_from_its_peak() -> None:
    fills = [Fill(1.0, ES, "ES", "BUY", 1, 100.0, 10.0, 1.0, "a")]
    marks = [Mark(2.0, ES, 103.0), Mark(3.0, ES, 98.0), Mark(4.0, ES, 101.0), Mark(5.0, ES, 99.0)]
    report = build_report("t.tape", fills, marks, [], start=None, end=None, quotes=4)
    # equity: -1 after the commission, 29 at 103, -21 at 98: 50 below the peak of 29
    assert report.max_drawdown == pytest.approx(50.0)
    assert report.realized_pnl == 0.0 and report.unrealized_pnl == pytest.approx(-10.0)


def test_refusals_are_counted_by_the_check_that_refused_and_both_forms_carry_everything() -> None:
    refused = [
        Refusal(1.0, "strategy:Far", "price_collar", "too far"),
        Refusal(2.0, "strategy:Far", "price_collar", "too far"),
        Refusal(3.0, "strategy:Far", "max_order_qty", "too big"),
    ]
    fills = [Fill(1.0, ES, "ES", "BUY", 1, 100.0, 10.0, float("nan"), "a")]
    report = build_report("t.tape", fills, [], refused, start=0.0, end=9.0, quotes=7)
    assert report.refused_by_check() == {"price_collar": 2, "max_order_qty": 1}
    assert report.commissions == 0.0  # a commission not reported is not a number to add
    data = json.loads(report.to_json())
    assert data["refused_by_check"] == {"price_collar": 2, "max_order_qty": 1}
    assert data["trades"][0]["side"] == "BUY" and data["quotes"] == 7
    text = report.text()
    assert "price_collar: 2" in text and "max_order_qty: 1" in text and "1 trade" in text


def test_a_price_seen_before_the_first_fill_does_not_lose_the_multiplier() -> None:
    marks = [Mark(0.5, ES, 100.0), Mark(3.0, ES, 104.0)]
    fills = [
        Fill(1.0, ES, "ES", "BUY", 1, 100.0, 50.0, 0.0, "a"),
        Fill(2.0, ES, "ES", "SELL", 1, 102.0, 50.0, 0.0, "b"),
    ]
    report = build_report("t.tape", fills, marks, [], start=None, end=None, quotes=2)
    assert report.realized_pnl == pytest.approx(100.0)


def test_the_json_form_reads_back_into_the_same_report() -> None:
    fills = [
        Fill(1.0, ES, "ES", "BUY", 1, 100.0, 50.0, float("nan"), "a"),
        Fill(2.0, ES, "ES", "SELL", 1, 101.0, 50.0, 0.85, "b"),
    ]
    refused = [Refusal(1.5, "strategy:Far", "price_collar", "too far")]
    report = build_report("t.tape", fills, [Mark(3.0, ES, 99.0)], refused, start=0.0, end=3.0,
                          quotes=3, message="cut")  # fmt: skip
    again = ReplayReport.from_dict(json.loads(report.to_json()))
    assert again.text() == report.text() and again.to_dict() == report.to_dict()
