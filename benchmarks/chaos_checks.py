"""The invariants a chaos run must keep, checked against the simulator's own state.

Everything here is a pure function of an :class:`Observed` (what the desk, its journal and the
simulator's control port said at the end of the run), so each rule has a test that feeds it a
broken world and sees it complain (``tests/unit/test_chaos_checks.py``).

The rules:

* **ids**: no order id used on the wire for two different orders (orderRefs), and no
  orderRef placed under two ids (an intent sent twice: a duplicated order).
* **end states**: every order the desk made has an honest state: what the broker says
  (filled, cancelled, working with the same filled quantity), or rejected / not sent / gone
  for an order the broker does not hold. Queued, sent or unknown at the end is a lost intent.
* **positions**: the desk's positions == the simulator's == the sum of the simulator's
  executions == the sum of the desk's fills.
* **journal**: every order's journalled state is the desk's, every fill is journalled once.
* **errors**: no exception left in the loop, no error logged by ibdesk, asyncio, eventkit or
  the client library's decoder.
* **kill**: a verified kill left no order working that was placed before it; an unverified
  one says why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

#: The simulator's statuses for an order still working.
SIM_WORKING = {"Submitted", "PreSubmitted", "PendingCancel", "Held"}
#: Desk states (``OrderState`` values) and the simulator statuses each may stand for.
HONEST: dict[str, set[str | None]] = {
    "Filled": {"Filled"},
    "Working": SIM_WORKING,
    "Partially filled": SIM_WORKING,
    "Cancelled": {"Cancelled", "ApiCancelled", None},
    "Rejected": {"Cancelled", "Inactive", None},
    "Inactive": {"Inactive", "Cancelled"},
    "Not sent": {None},
    "Gone": {"Cancelled", "ApiCancelled", "Inactive", "Filled", None},
}
LOST = {"Queued", "Sent", "Unknown"}


@dataclass
class Observed:
    """The end of a run, as plain data.

    Attributes:
        placed: (order id, orderRef) of every placeOrder the desk sent, in order.
        desk_orders: ref -> (state value, filled) for every order the desk made.
        sim_orders: orderRef -> (status, filled) at the simulator (the desk's client only).
        desk_positions / sim_positions: con_id -> quantity (non-zero only).
        sim_fills / desk_fills / journal_fills: con_id -> signed quantity summed over
            executions (the simulator's, the desk's store's, the journal's).
        journal_orders: ref -> state value in the journal.
        journal_fill_ids / desk_fill_ids: execution ids.
        errors: exceptions and error records seen during the run.
        kill: None without a kill; else {"verified": bool, "started": float, "why": str}.
        open_before_kill: orderRefs working at the simulator at the end that it created
            before the kill started.
    """

    placed: list[tuple[int, str]] = field(default_factory=list)
    desk_orders: dict[str, tuple[str, float]] = field(default_factory=dict)
    sim_orders: dict[str, tuple[str, float]] = field(default_factory=dict)
    desk_positions: dict[int, float] = field(default_factory=dict)
    sim_positions: dict[int, float] = field(default_factory=dict)
    sim_fills: dict[int, float] = field(default_factory=dict)
    desk_fills: dict[int, float] = field(default_factory=dict)
    journal_fills: dict[int, float] = field(default_factory=dict)
    journal_orders: dict[str, str] = field(default_factory=dict)
    journal_fill_ids: list[str] = field(default_factory=list)
    desk_fill_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kill: dict[str, Any] | None = None
    open_before_kill: list[str] = field(default_factory=list)


def check_ids(seen: Observed) -> list[str]:
    """No id for two orders, no order under two ids."""
    refs_of: dict[int, set[str]] = defaultdict(set)
    ids_of: dict[str, set[int]] = defaultdict(set)
    for order_id, ref in seen.placed:
        refs_of[order_id].add(ref)
        ids_of[ref].add(order_id)
    problems = [
        f"duplicate id: order id {i} sent for {sorted(refs)}"
        for i, refs in sorted(refs_of.items())
        if len(refs) > 1
    ]
    problems += [
        f"duplicated order: {ref} sent under ids {sorted(ids)}"
        for ref, ids in sorted(ids_of.items())
        if len(ids) > 1
    ]
    return problems


def check_end_states(seen: Observed) -> list[str]:
    """Every order the desk made ends where the broker says it is."""
    problems = []
    for ref, (state, filled) in sorted(seen.desk_orders.items()):
        sim = seen.sim_orders.get(ref)
        status, sim_filled = sim if sim is not None else (None, 0.0)
        if state in LOST:
            problems.append(f"lost intent: {ref} is {state} at the end (broker: {status})")
        elif status not in HONEST.get(state, set()):
            problems.append(f"dishonest state: {ref} is {state}, the broker says {status}")
        elif sim is not None and state != "Gone" and abs(filled - sim_filled) > 1e-9:
            problems.append(
                f"fill mismatch: {ref} ({state}) filled {filled} here, {sim_filled} at the broker"
            )
    for ref, (status, _) in sorted(seen.sim_orders.items()):
        if ref not in seen.desk_orders:
            problems.append(f"unknown order: the broker holds {ref} ({status}), the desk does not")
    return problems


def _differ(a: dict[int, float], b: dict[int, float]) -> bool:
    keys = set(a) | set(b)
    return any(abs(a.get(k, 0.0) - b.get(k, 0.0)) > 1e-9 for k in keys)


def check_positions(seen: Observed) -> list[str]:
    """Desk == simulator == sum of the simulator's fills == sum of the desk's fills."""
    views = {
        "the simulator's positions": seen.sim_positions,
        "the sum of the simulator's executions": seen.sim_fills,
        "the sum of the desk's fills": seen.desk_fills,
    }
    return [
        f"position mismatch: the desk holds {seen.desk_positions}, {name} {view}"
        for name, view in views.items()
        if _differ(seen.desk_positions, view)
    ]


def check_journal(seen: Observed) -> list[str]:
    """The journal agrees with the desk: states, and each fill once."""
    problems = [
        f"journal: {ref} is {seen.journal_orders.get(ref)} there, {state} in the desk"
        for ref, (state, _) in sorted(seen.desk_orders.items())
        if seen.journal_orders.get(ref) != state
    ]
    if len(set(seen.journal_fill_ids)) != len(seen.journal_fill_ids):
        problems.append("journal: a fill written twice")
    if set(seen.journal_fill_ids) != set(seen.desk_fill_ids):
        problems.append(
            f"journal: fills {sorted(set(seen.journal_fill_ids) ^ set(seen.desk_fill_ids))} "
            "in one of the journal and the desk only"
        )
    if _differ(seen.journal_fills, seen.desk_fills):
        problems.append(
            f"journal: fills sum to {seen.journal_fills}, the desk's to {seen.desk_fills}"
        )
    return problems


def check_kill(seen: Observed) -> list[str]:
    """A verified kill is true at the broker; an unverified one says why."""
    if seen.kill is None:
        return []
    if seen.kill["verified"] and seen.open_before_kill:
        return [f"kill verified, yet {seen.open_before_kill} still work at the broker"]
    if not seen.kill["verified"] and not seen.kill.get("why"):
        return ["kill not verified and the report does not say why"]
    return []


def violations(seen: Observed) -> list[str]:
    """Every broken rule of a run (empty: the run is clean)."""
    return [
        *(e if e.startswith("unsettled") else f"crash: {e}" for e in seen.errors),
        *check_ids(seen),
        *check_end_states(seen),
        *check_positions(seen),
        *check_journal(seen),
        *check_kill(seen),
    ]
