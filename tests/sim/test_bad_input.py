"""Hostile input over real sockets: the simulated TWS answers or hangs up, and never falls over.

Each test sends bad bytes from a raw socket while a well-behaved client (a real ib client
with a streaming ticker) stays connected, then checks three things: the offender got an error
message or was disconnected, the offender's socket (if still open) still answers
reqCurrentTime, and the bystander noticed nothing. An exception logged by the server fails
the test through the suite-wide guard in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibdesk.broker import ib as shim
from ibdesk.simtws import SimThread
from ibdesk.simtws.handlers import HANDLERS
from ibdesk.simtws.order_codec import OrderParseError, parse_place_order
from ibdesk.simtws.wire import frame

from .conftest import Connect, front_future, wait_until
from .rawclient import Bystander, RawClient, contract_fields, encode

pytestmark = pytest.mark.sim


# ---- the stream itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: tws\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"\0" * 8,
    ],
    ids=["http", "tls-hello", "zeros"],
)
async def test_garbage_before_the_api_sign_closes_only_that_socket(
    garbage: bytes, raw: Any, bystander: Bystander
) -> None:
    offender = raw()
    offender.send_bytes(garbage)
    offender.expect_closed()
    await bystander.still_fine()


@pytest.mark.parametrize("stage", ["hello", "after-start"])
async def test_a_huge_length_prefix_closes_only_that_socket(
    stage: str, raw: Any, bystander: Bystander
) -> None:
    offender = raw()
    if stage == "hello":
        offender.send_bytes(b"API\0" + struct.pack(">I", 0x7FFF_FFFF) + b"v157..176")
    else:
        offender.start()
        offender.send_bytes(struct.pack(">I", 0xFFFF_FFF0) + b"49\x001\x00")
    offender.expect_closed()
    await bystander.still_fine()


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [(b"49\x001", "NUL-terminated"), (b"", "empty")],
    ids=["no-nul", "empty"],
)
async def test_a_frame_that_is_not_a_field_list_gets_error_320(
    payload: bytes, complaint: str, raw: Any, bystander: Bystander
) -> None:
    offender = raw().start()
    offender.send_bytes(frame(payload))
    assert complaint in offender.expect_error(320)
    assert offender.answers()
    await bystander.still_fine()


# ---- requests that cannot be read -------------------------------------------------------------


@pytest.mark.parametrize("msg_id", ["9999", "0", "-3", "abc", "", " ", "1e3"])
async def test_an_unknown_or_unreadable_message_id_gets_error_320(
    msg_id: str, raw: Any, bystander: Bystander
) -> None:
    offender = raw().start()
    offender.send(msg_id, "1", "2")
    assert "Error reading request" in offender.expect_error(320)
    assert offender.answers()
    await bystander.still_fine()


@pytest.mark.parametrize(
    ("fields", "req_id"),
    [
        (("1", "11", "5"), 5),  # reqMktData without its contract
        (("9", "8", "6"), 6),  # reqContractDetails
        (("20", "7"), 7),  # reqHistoricalData
        (("97", "8", "0", "ES"), 8),  # reqTickByTickData
        (("50", "3", "9"), 9),  # reqRealTimeBars
        (("87", "10", "1"), 10),  # reqHeadTimeStamp
        (("71",), -1),  # startApi, again and short
    ],
    ids=[
        "reqMktData",
        "reqContractDetails",
        "reqHistoricalData",
        "tickByTick",
        "rtBars",
        "headTimestamp",
        "startApi",
    ],
)
async def test_a_request_with_too_few_fields_gets_error_320(
    fields: tuple[str, ...], req_id: int, raw: Any, bystander: Bystander
) -> None:
    """The error carries the request's own id, so a client waiting on it is released."""
    offender = raw().start()
    offender.send(*fields)
    assert "needs" in offender.expect_error(320, req_id)
    assert offender.answers()
    await bystander.still_fine()


@pytest.mark.parametrize("bad", ["abc", "1.5.6", "nan", "inf", "-1e999", "0x10", "\u00b2"])
async def test_a_non_numeric_request_id_gets_error_320(
    bad: str, raw: Any, sim: SimThread, bystander: Bystander
) -> None:
    offender = raw().start()
    offender.send("1", "11", bad, *contract_fields(sim), "0", "", "0", "0", "")
    assert "is not an int" in offender.expect_error(320)
    assert offender.answers()
    await bystander.still_fine()


async def test_bytes_that_are_not_utf8_are_read_as_escaped_text(
    raw: Any, bystander: Bystander
) -> None:
    offender = raw().start()
    # In the message id: not a number.
    offender.send_bytes(frame(b"\xff\xfe\x001\x00"))
    assert "not a number" in offender.expect_error(320)
    # In a symbol: a contract nobody has heard of.
    body = [b"9", b"8", b"77", b"0", b"\xc3\x28ES", b"FUT", b"", b"0", b"", b"", b"CME", b""]
    body += [b"USD", b"", b"", b"0", b"", b"", b""]
    offender.send_bytes(frame(b"".join(f + b"\0" for f in body)))
    assert "No security definition" in offender.expect_error(200, req_id=77)
    assert offender.answers()
    await bystander.still_fine()


async def test_a_message_split_across_many_writes_is_still_read(
    raw: Any, bystander: Bystander
) -> None:
    offender = raw().start()
    data = encode("49", "1")
    for i in range(len(data)):
        offender.send_bytes(data[i : i + 1])
    offender.expect(lambda m: m[0] == "49", "currentTime")
    await bystander.still_fine()


# ---- placeOrder ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def real_place_order(connect: Connect, sim: SimThread) -> list[str]:
    """A placeOrder exactly as the installed client library sends it (a resting ES limit)."""
    ib = await connect(client_id=2)
    es = await front_future(ib)
    last = sim.control.quote("ES")["last"]
    ib.placeOrder(es, shim.LimitOrder("BUY", 1, last - 50))
    [record] = await wait_until(lambda: sim.control.received(msg_id=3), what="the placeOrder")
    return list(record["fields"])


def index_of(fields: list[str], name: str, version: int = 176) -> int:
    """Where a named field sits in a placeOrder: the one position the parser files under it."""
    marker = "987654.321"
    for i in range(1, len(fields)):
        probe = [*fields[:i], marker, *fields[i + 1 :]]
        try:
            if parse_place_order(probe, version).raw.get(name) == marker:
                return i
        except OrderParseError:
            continue
    raise AssertionError(f"no field {name!r} in {fields}")


def own_orders(sim: SimThread, client_id: int) -> list[dict[str, Any]]:
    """The orders the simulator holds for one client id."""
    return [o for o in sim.control.orders() if o["client_id"] == client_id]


@pytest.mark.parametrize(
    "change",
    ["truncated", "padded", "garbled-quantity", "nan-price", "inf-price", "bad-condition"],
)
async def test_a_broken_place_order_gets_error_320_for_its_order_id(
    change: str, real_place_order: list[str], raw: Any, sim: SimThread, bystander: Bystander
) -> None:
    offender = raw().start()
    fields = list(real_place_order)
    fields[1] = "500"
    if change == "truncated":
        fields = fields[:60]
    elif change == "padded":
        fields += ["", "0"]
    elif change == "garbled-quantity":
        fields[index_of(fields, "totalQuantity")] = "lots"
    elif change == "nan-price":
        fields[index_of(fields, "lmtPrice")] = "nan"
    elif change == "inf-price":
        fields[index_of(fields, "lmtPrice")] = "-inf"
    else:
        # One condition of type 42, which no client defines; the count follows randomizePrice.
        count = index_of(fields, "randomizePrice") + 1
        assert fields[count] == "0"
        fields[count : count + 1] = ["1", "42", "a", "1", "0", "0", "0"]
    offender.send(*fields)
    assert "placeOrder" in offender.expect_error(320, req_id=500)
    assert offender.answers()
    assert own_orders(sim, offender.client_id) == []
    await bystander.still_fine()


class _ErrorLog(logging.Handler):
    """ERROR records from the simulator, as they happen (it logs on its own thread)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        # Not ``self.lock``: Handler.handle() already holds that one around emit().
        self._guard = threading.Lock()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("ibdesk"):
            with self._guard:
                self.messages.append(record.getMessage())

    def take(self) -> list[str]:
        """Every message logged since the last call."""
        with self._guard:
            out, self.messages = self.messages, []
        return out


# ---- requests that once crashed a handler ------------------------------------------------------


def history_request(
    contract: list[str], end: str, duration: str, bar: str = "1 min", rth: str = "0"
) -> list[str]:
    """reqHistoricalData (no version field; bar size before duration)."""
    return ["20", "31", *contract, "0", end, bar, duration, rth, "TRADES", "1", "0", ""]


def with_order_field(fields: list[str], name: str, value: str) -> list[str]:
    """A copy of a real placeOrder under a new order id, with one field changed."""
    out = list(fields)
    out[1] = "600"
    out[index_of(out, name)] = value
    return out


@pytest.mark.parametrize(
    "case",
    [
        "generic-tick-superscript",
        "history-zone-directory",
        "history-duration-superscript",
        "history-duration-huge",
        "history-rth-days-huge",
        "executions-zone-directory",
        "blank-expiry",
        "huge-limit-price",
        "huge-trailing-percent",
    ],
)
async def test_a_request_a_handler_cannot_digest_gets_a_plain_error(
    case: str, real_place_order: list[str], raw: Any, sim: SimThread, bystander: Bystander
) -> None:
    errors = _ErrorLog()
    logging.getLogger("ibdesk").addHandler(errors)
    try:
        offender = raw().start()
        es = contract_fields(sim)
        blank_expiry = [*es[:3], " ", *es[4:]]
        blank_expiry[0] = ""
        requests = {
            "generic-tick-superscript": ["1", "11", "30", *es, "0", "\u00b2", "0", "0", ""],
            "history-zone-directory": history_request(es, "20240102 10:00:00 America", "1 D"),
            "history-duration-superscript": history_request(es, "", "\u00b2 D"),
            "history-duration-huge": history_request(es, "", "9000 Y", bar="1 day"),
            "history-rth-days-huge": history_request(es, "", "800000 D", "1 hour", rth="1"),
            "executions-zone-directory": [
                *("7", "3", "32", "0", "", "20240102 10:00:00 US"),
                *("", "", "", ""),
            ],
            "blank-expiry": ["9", "8", "33", *blank_expiry, "0", "", "", ""],
            "huge-limit-price": with_order_field(real_place_order, "lmtPrice", "1.5e308"),
            "huge-trailing-percent": with_order_field(
                with_order_field(real_place_order, "orderType", "TRAIL"),
                "trailingPercent",
                "1e308",
            ),
        }
        replies = offender.exchange(*requests[case])
        # Asserted here, in the body: the suite's error guard would only fail the teardown.
        assert errors.take() == [], replies
    finally:
        logging.getLogger("ibdesk").removeHandler(errors)
    assert not [m for m in replies if m[0] == "4" and "internal error" in m[4]]
    await bystander.still_fine()


# ---- fuzz ---------------------------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "",
        "0",
        "1",
        "-1",
        "2",
        "99",
        "nan",
        "inf",
        "-1e999",
        "1.5",
        "Infinite",
        "x",
        "BAG",
        "TRAIL",
        "LMT",
        "BUY",
        "FUT",
        "STK",
        "ES",
        "AAPL",
        "SMART",
        "CME",
        "USD",
        "1 D",
        "1 min",
        "TRADES",
        "20240102 10:00:00 UTC",
        "233,236",
        "2147483647",
        "1.7976931348623157e308",
    ]
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=10)
FIELD = st.one_of(TOKENS, TEXT, st.integers(min_value=-(2**40), max_value=2**40).map(str))
MSG_ID = st.one_of(
    st.sampled_from(sorted(str(k) for k in HANDLERS)),
    st.integers(min_value=-5, max_value=300).map(str),
    TEXT,
)


@st.composite
def request_frames(draw: st.DrawFn, contract: list[str]) -> bytes:
    """A request-shaped frame: a message id, fields, sometimes a real contract block."""
    fields = [draw(MSG_ID), *draw(st.lists(FIELD, max_size=8))]
    if draw(st.booleans()):
        at = draw(st.integers(min_value=1, max_value=len(fields)))
        fields[at:at] = contract
    fields += draw(st.lists(FIELD, max_size=8))
    return encode(*fields)


async def test_random_frames_after_start_api_never_take_the_server_down(
    sim: SimThread, bystander: Bystander
) -> None:
    contract = contract_fields(sim)
    frames = st.one_of(
        request_frames(contract),
        request_frames(contract),
        st.binary(max_size=40).map(frame),  # anything at all, NUL or not
    )
    errors = _ErrorLog()
    logging.getLogger("ibdesk").addHandler(errors)

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(frames, min_size=1, max_size=6))
    def one_connection(sent: list[bytes]) -> None:
        offender = RawClient(sim.port)
        try:
            offender.start()
            for data in sent:
                offender.send_bytes(data)
            # Answered, or hung up on: both are fine. Silence is not (read times out).
            offender.answers()
        finally:
            offender.close()
        # Requests are handled in order, so anything they logged is in by now.
        assert errors.take() == []

    before = bystander.updates
    try:
        # On a thread, so that the bystander's loop keeps running meanwhile.
        await asyncio.to_thread(one_connection)
    finally:
        logging.getLogger("ibdesk").removeHandler(errors)
    assert bystander.updates > before
    await bystander.still_fine()
    assert [c["client_id"] for c in sim.control.clients() if c["client_id"] == 1] == [1]
