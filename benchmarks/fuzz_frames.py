"""Seeded generators of hostile but framed TWS API messages, for both ends of the wire.

``requests`` makes what a broken client might send the simulator: real message ids and
unknown ones, too few and too many fields, numbers that are not numbers, huge and
non-ASCII strings, sometimes a real contract block in the middle, and now and then bytes
that are no field list at all. ``replies`` makes what a broken server might send a client:
the message ids the desk listens to (ticks, order status, open orders, executions,
positions, account values, errors, nextValidId) with wrong field counts, NaN, infinities,
megabyte strings, ids nobody asked for, and unknown message ids.

A seeded ``random.Random`` rather than hypothesis: a million frames must come out at
hundreds of thousands a second, and a seed must give the same frames again.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator, Sequence

_LEN = struct.Struct(">I")
#: Field values that have broken parsers somewhere: empty, signs, NaN and infinities, the
#: unset double, overflowing integers, exponents, hex, commas, spaces, a Unicode digit.
EDGES = (
    "", "0", "-0", "-1", "1", "nan", "NaN", "inf", "-inf", "1e309", "-1e999", "1.5e-320",
    "2147483648", "-2147483649", "9223372036854775808", "1.7976931348623157e308", "0x1f",
    "1,5", " 7", "7 ", "\u00b2", "true", "None", "[]", "{}", "BUY", "LMT", "FUT", "CME",
)  # fmt: skip


def framed(fields: Sequence[str]) -> bytes:
    """NUL-terminated fields with the length prefix (no check of what is inside)."""
    payload = "".join(f"{f}\0" for f in fields).encode("utf-8", "surrogatepass")
    return _LEN.pack(len(payload)) + payload


def _field(rng: random.Random, huge: int) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(EDGES)
    if roll < 0.7:
        return str(rng.randint(-(2**40), 2**40))
    if roll < 0.8:
        return repr(rng.uniform(-1e6, 1e6))
    if roll < 0.999:
        return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(1, 12)))
    if roll < 0.99999:
        return "L" * 4096  # long
    return "X" * huge  # a rare giant: one field in 100,000


def requests(
    seed: int, count: int, msg_ids: Sequence[int], contract: Sequence[str], huge: int = 1 << 16
) -> Iterator[bytes]:
    """``count`` request frames for the simulator's parser (after startApi)."""
    rng = random.Random(seed)
    known = [str(i) for i in msg_ids]
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:  # not a field list at all: NULs anywhere, or none
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
            yield _LEN.pack(len(body)) + body
            continue
        msg_id = rng.choice(known) if roll < 0.9 else _field(rng, huge)
        fields = [msg_id, *(_field(rng, huge) for _ in range(rng.randint(0, 10)))]
        if rng.random() < 0.3:
            at = rng.randint(1, len(fields))
            fields[at:at] = contract
        yield framed(fields)


#: Server messages the desk's client decodes, by id: the shape of fields after the id.
REPLY_IDS = (1, 2, 3, 4, 5, 6, 7, 9, 11, 46, 49, 59, 61, 62, 72, 81, 94, 95, 98)


def replies(
    seed: int, count: int, live_req_ids: Sequence[int], huge: int = 1 << 20
) -> Iterator[bytes]:
    """``count`` server frames for a client: real message ids with broken fields, pointed
    at live request ids (so they reach the desk's handlers) or at ids nobody asked for, and
    a share of unknown message ids."""
    rng = random.Random(seed)
    for _ in range(count):
        roll = rng.random()
        msg_id = str(rng.choice(REPLY_IDS)) if roll < 0.95 else _field(rng, 64)
        version = rng.choice(("1", "6", "0", "x"))
        req = (
            str(rng.choice(live_req_ids))
            if live_req_ids and rng.random() < 0.6
            else _field(rng, 64)
        )
        tail = [_field(rng, huge) for _ in range(rng.randint(0, 14))]
        yield framed([msg_id, version, req, *tail])
