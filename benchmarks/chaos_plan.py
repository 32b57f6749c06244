"""What one chaos run does, drawn from its seed: the faults, the manual intents, the kill.

A plan is plain data (a timeline of steps), so a failing seed can be printed, replayed and
read. The same seed always gives the same plan; what the desk and the network then do with
it is not fully deterministic (threads, sockets, timers), which is why the runner checks
invariants that must hold whatever the timing, not exact outcomes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

#: Fault kinds and what each asks of the simulator's control port.
FAULT_KINDS = (
    "drop",  # every client's socket closed
    "drop_mid_bracket",  # a bracket placed, and the drop right behind it
    "restart_keep",  # port closed a while, state kept
    "restart_lose",  # port closed a while, working orders lost
    "rollback",  # a restart whose nextValidId comes back lower
    "slice",  # every outgoing frame in 1-byte writes
    "latency",  # every frame delayed, with jitter
    "duplicate",  # orderStatus / execDetails sent twice
    "late",  # orderStatus / execDetails overtaken by later frames
    "partial",  # fills in pieces of the size shown
    "reject",  # the next orders refused with 201
)
#: Manual intents (the ticket, the blotter) the run sends.
INTENT_KINDS = ("limit", "limit", "market", "bracket", "modify", "cancel")


@dataclass(frozen=True, slots=True)
class Step:
    """One thing to do ``at`` seconds into the run: a fault, an intent, or the kill."""

    at: float
    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``1.23s drop`` or ``0.50s latency(ms=20.0, jitter_ms=35.0)``."""
        args = ", ".join(f"{k}={v}" for k, v in self.args.items() if k != "seed")
        return f"{self.at:.2f}s {self.kind}" + (f"({args})" if args else "")


@dataclass(frozen=True, slots=True)
class Plan:
    """A run's timeline, its length and whether it kills."""

    seed: int
    duration: float
    steps: tuple[Step, ...]
    strategy: bool
    kill_at: float | None

    def faults(self) -> list[str]:
        """The fault steps, described."""
        return [s.describe() for s in self.steps if s.kind in FAULT_KINDS]


def _fault_args(kind: str, rng: random.Random, seed: int) -> dict[str, Any]:
    if kind in ("restart_keep", "restart_lose"):
        return {"down_seconds": round(rng.uniform(0.1, 0.6), 2)}
    if kind == "rollback":
        return {
            "down_seconds": round(rng.uniform(0.1, 0.4), 2),
            "roll_back_ids": rng.randint(1, 30),
        }
    if kind == "latency":
        return {
            "ms": round(rng.uniform(2, 40), 1),
            "jitter_ms": round(rng.uniform(0, 60), 1),
            "seed": seed,
        }
    if kind == "duplicate":
        return {"count": rng.randint(1, 6)}
    if kind == "late":
        return {"count": rng.randint(1, 3), "ms": round(rng.uniform(30, 300), 0)}
    if kind == "reject":
        return {"count": rng.randint(1, 2)}
    if kind == "drop_mid_bracket":
        return {"offset_ticks": rng.randint(-2, 6)}
    return {}


def _intent_args(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind in ("limit", "market"):
        return {
            "side": rng.choice(("BUY", "SELL")),
            "qty": rng.randint(1, 4),
            "offset_ticks": rng.randint(-3, 8),
        }
    if kind == "bracket":
        return {
            "side": rng.choice(("BUY", "SELL")),
            "offset_ticks": rng.randint(-2, 6),
            "width_ticks": rng.randint(2, 12),
        }
    return {"pick": rng.random(), "ticks": rng.randint(-4, 4)}


def make_plan(seed: int, duration: float = 1.6, kill_share: float = 0.1) -> Plan:
    """The plan of run ``seed``: 2 to 4 faults, 5 to 10 intents, a strategy in most runs, and
    the kill at a random moment in about ``kill_share`` of the runs."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for kind in rng.sample(FAULT_KINDS, rng.randint(2, 4)):
        steps.append(
            Step(round(rng.uniform(0.0, duration * 0.8), 3), kind, _fault_args(kind, rng, seed))
        )
    for _ in range(rng.randint(5, 10)):
        kind = rng.choice(INTENT_KINDS)
        steps.append(Step(round(rng.uniform(0.0, duration), 3), kind, _intent_args(kind, rng)))
    kill_at = round(rng.uniform(0.0, duration), 3) if rng.random() < kill_share else None
    steps.sort(key=lambda s: s.at)
    return Plan(seed, duration, tuple(steps), strategy=rng.random() < 0.7, kill_at=kill_at)
