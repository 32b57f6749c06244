"""The chaos runner's invariants (``benchmarks.chaos_checks``), each fed a broken world: a
check that cannot fail proves nothing, so every rule is seen failing here first."""

from __future__ import annotations

from benchmarks.chaos_checks import (
    Observed,
    check_end_states,
    check_ids,
    check_journal,
    check_kill,
    check_positions,
    violations,
)
from benchmarks.chaos_plan import FAULT_KINDS, make_plan

ES = 600102612


def clean() -> Observed:
    """A run where everything agrees: one order filled 2, one cancelled, one never sent."""
    return Observed(
        placed=[(8, "ticket#1.8"), (9, "ticket#1.9"), (9, "ticket#1.9")],  # 9 modified once
        desk_orders={
            "ticket#1.8": ("Filled", 2.0),
            "ticket#1.9": ("Cancelled", 0.0),
            "ticket#1.10": ("Not sent", 0.0),
        },
        sim_orders={"ticket#1.8": ("Filled", 2.0), "ticket#1.9": ("Cancelled", 0.0)},
        desk_positions={ES: 2.0},
        sim_positions={ES: 2.0},
        sim_fills={ES: 2.0},
        desk_fills={ES: 2.0},
        journal_fills={ES: 2.0},
        journal_orders={
            "ticket#1.8": "Filled",
            "ticket#1.9": "Cancelled",
            "ticket#1.10": "Not sent",
        },
        journal_fill_ids=["e1"],
        desk_fill_ids=["e1"],
    )


def test_a_clean_run_breaks_nothing() -> None:
    assert violations(clean()) == []


def test_an_id_sent_for_two_orders_is_a_duplicate_id() -> None:
    seen = clean()
    seen.placed.append((8, "ticket#1.11"))
    assert check_ids(seen) == ["duplicate id: order id 8 sent for ['ticket#1.11', 'ticket#1.8']"]


def test_an_intent_sent_under_two_ids_is_a_duplicated_order() -> None:
    seen = clean()
    seen.placed.append((12, "ticket#1.8"))
    assert check_ids(seen) == ["duplicated order: ticket#1.8 sent under ids [8, 12]"]


def test_an_order_left_unknown_or_sent_is_a_lost_intent() -> None:
    for state in ("Unknown", "Sent", "Queued"):
        seen = clean()
        seen.desk_orders["ticket#1.9"] = (state, 0.0)
        assert check_end_states(seen) == [
            f"lost intent: ticket#1.9 is {state} at the end (broker: Cancelled)"
        ]


def test_a_state_the_broker_contradicts_is_dishonest() -> None:
    seen = clean()
    seen.desk_orders["ticket#1.8"] = ("Partially filled", 2.0)
    assert check_end_states(seen) == [
        "dishonest state: ticket#1.8 is Partially filled, the broker says Filled"
    ]
    seen = clean()
    seen.desk_orders["ticket#1.10"] = ("Gone", 0.0)
    seen.sim_orders["ticket#1.10"] = ("Submitted", 0.0)  # working at the broker, Gone here
    assert check_end_states(seen)[0].startswith("dishonest state: ticket#1.10 is Gone")


def test_a_filled_quantity_the_broker_does_not_have_is_a_mismatch() -> None:
    seen = clean()
    seen.desk_orders["ticket#1.8"] = ("Filled", 0.0)
    assert check_end_states(seen) == [
        "fill mismatch: ticket#1.8 (Filled) filled 0.0 here, 2.0 at the broker"
    ]


def test_an_order_the_broker_holds_and_the_desk_does_not_is_reported() -> None:
    seen = clean()
    seen.sim_orders["ticket#1.20"] = ("Submitted", 0.0)
    assert check_end_states(seen) == [
        "unknown order: the broker holds ticket#1.20 (Submitted), the desk does not"
    ]


def test_positions_must_agree_four_ways() -> None:
    for field in ("sim_positions", "sim_fills", "desk_fills"):
        seen = clean()
        setattr(seen, field, {ES: 1.0})
        [problem] = check_positions(seen)
        assert problem.startswith("position mismatch: the desk holds {600102612: 2.0}")
    seen = clean()
    seen.desk_positions = {}
    assert len(check_positions(seen)) == 3


def test_the_journal_must_hold_every_state_and_each_fill_once() -> None:
    seen = clean()
    seen.journal_orders["ticket#1.9"] = "Working"
    assert check_journal(seen) == ["journal: ticket#1.9 is Working there, Cancelled in the desk"]
    seen = clean()
    seen.journal_fill_ids = ["e1", "e1"]
    assert "journal: a fill written twice" in check_journal(seen)
    seen = clean()
    seen.desk_fill_ids = ["e1", "e2"]
    assert check_journal(seen) == ["journal: fills ['e2'] in one of the journal and the desk only"]


def test_a_verified_kill_with_orders_still_working_is_a_lie() -> None:
    seen = clean()
    seen.kill = {"verified": True, "why": ""}
    assert check_kill(seen) == []
    seen.open_before_kill = ["ticket#1.9"]
    assert check_kill(seen) == ["kill verified, yet ['ticket#1.9'] still work at the broker"]
    seen.kill = {"verified": False, "why": ""}
    assert check_kill(seen) == ["kill not verified and the report does not say why"]


def test_errors_are_crashes_and_an_unsettled_run_says_so() -> None:
    seen = clean()
    seen.errors = ["loop: Task exception was never retrieved", "unsettled: not connected"]
    assert violations(seen) == [
        "crash: loop: Task exception was never retrieved",
        "unsettled: not connected",
    ]


def test_a_plan_is_its_seed_and_kills_in_about_a_tenth_of_the_runs() -> None:
    assert make_plan(7) == make_plan(7)
    assert make_plan(7) != make_plan(8)
    plans = [make_plan(seed) for seed in range(1, 1001)]
    assert 60 <= sum(p.kill_at is not None for p in plans) <= 140
    used = {s.kind for p in plans for s in p.steps}
    assert set(FAULT_KINDS) <= used


def test_a_runs_simulator_port_is_below_the_ephemeral_range_and_skips_taken_ones() -> None:
    import socket

    from benchmarks.chaos_harness import LOW_PORTS, api_port

    port = api_port(5)
    assert port in LOW_PORTS and port < 32768
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert api_port(5) not in (port, 0)
