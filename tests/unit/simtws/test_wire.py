"""Framing and field encoding of the simulated TWS (TWS_PROTOCOL.md §2, §3)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibdesk.simtws.wire import (
    API_SIGN,
    MAX_FRAME,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    FrameReader,
    Hello,
    ProtocolError,
    encode_fields,
    fmt_bool,
    fmt_float,
    fmt_int,
    frame,
    negotiate,
    parse_hello,
    split_fields,
)


def _fields_of(data: bytes) -> list[str]:
    """Unframe one encoded message the way the client does."""
    (size,) = struct.unpack(">I", data[:4])
    assert size == len(data) - 4
    return split_fields(data[4:])


# ---- encoding -------------------------------------------------------------------------------


def test_frame_prefixes_the_big_endian_length() -> None:
    assert frame(b"49\x001\x00") == b"\x00\x00\x00\x0549\x001\x00"
    assert frame(b"") == b"\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (0, "0"), (-1, "-1"), (1.0, "1"), (42.0, "42"), (None, ""), (UNSET_INTEGER, "")],
)
def test_int_fields_never_carry_a_decimal_point(value: int | float | None, text: str) -> None:
    # The decoders run int(x or 0): "1.0" would drop the whole message.
    assert fmt_int(value) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (6800.0, "6800"),
        (-3.0, "-3"),
        (0.0, "0"),
        (-0.0, "0"),
        (6800.25, "6800.25"),
        (0.1, "0.1"),
        (1.16005, "1.16005"),
        (None, ""),
        (UNSET_DOUBLE, ""),
        (math.nan, ""),
        (math.inf, "Infinite"),
        (7, "7"),
    ],
)
def test_float_fields_drop_a_trailing_zero_and_spell_unset_and_infinity(
    value: float | None, text: str
) -> None:
    assert fmt_float(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_round_trips_through_its_text(value: float) -> None:
    text = fmt_float(value)
    if value == UNSET_DOUBLE:
        assert text == ""
        return
    assert not text.endswith(".0")
    assert float(text) == value


def test_bool_fields_are_one_and_zero() -> None:
    # The decoders run bool(int(x)): "True" would raise.
    assert (fmt_bool(True), fmt_bool(False)) == ("1", "0")


def test_encode_fields_applies_each_rule_by_type() -> None:
    data = encode_fields(
        ["4", True, False, 7, UNSET_INTEGER, 2.0, 2.5, UNSET_DOUBLE, math.inf, None, ""]
    )
    assert _fields_of(data) == ["4", "1", "0", "7", "", "2", "2.5", "", "Infinite", "", ""]
    # Every field is NUL-terminated, the last one included.
    assert data.endswith(b"\0")


def test_encode_fields_refuses_types_without_a_wire_form() -> None:
    with pytest.raises(TypeError, match="bytes"):
        encode_fields(["1", b"raw"])


def test_encode_fields_keeps_unicode_text() -> None:
    assert _fields_of(encode_fields(["10", "Société Générale €"])) == [
        "10",
        "Société Générale €",
    ]


# ---- FrameReader ------------------------------------------------------------------------------

#: A field: any text without NUL (the separator) or lone surrogates (not encodable).
field_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12
)
#: Messages as a client would send them.
messages = st.lists(st.lists(field_text, min_size=1), max_size=12)


@settings(max_examples=150)
@given(
    hello=st.sampled_from([b"v157..176", b"v157..178", b"v157..176 +PACEAPI", b"v176"]),
    msgs=messages,
    data=st.data(),
)
def test_any_chunking_of_the_stream_yields_the_hello_then_every_message_in_order(
    hello: bytes, msgs: list[list[str]], data: st.DataObject
) -> None:
    stream = API_SIGN + frame(hello) + b"".join(encode_fields(m) for m in msgs)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=40))
    reader = FrameReader()
    got: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        got += reader.feed(stream[start:cut])
        start = cut
    assert got[0] == hello
    assert [split_fields(p) for p in got[1:]] == msgs
    assert reader.greeted
    assert reader.buffered == 0


def test_a_frame_split_byte_by_byte_comes_out_once_complete() -> None:
    reader = FrameReader()
    data = API_SIGN + frame(b"v157..176") + encode_fields(["49", "1"])
    out: list[bytes] = []
    for i in range(len(data)):
        out += reader.feed(data[i : i + 1])
        if i < 3:
            assert not reader.greeted
    assert out == [b"v157..176", b"49\x001\x00"]


def test_reader_compacts_its_buffer_after_a_long_burst() -> None:
    reader = FrameReader()
    reader.feed(API_SIGN + frame(b"v176"))
    body = encode_fields(["1", "x" * 1000])
    burst = body * 100 + body[:7]  # 100 whole frames and the start of one more
    assert len(reader.feed(burst)) == 100
    assert reader.buffered == 7
    assert reader.feed(body[7:]) == [body[4:]]
    assert reader.buffered == 0


@pytest.mark.parametrize(
    "opening", [b"GET / HTTP/1.1\r\n", b"APX\0", b"\0\0\0\x09v157..176", b"api\0"]
)
def test_a_stream_without_the_api_sign_is_a_protocol_error(opening: bytes) -> None:
    with pytest.raises(ProtocolError, match="API"):
        FrameReader().feed(opening)


def test_a_wrong_first_byte_fails_before_the_sign_is_complete() -> None:
    reader = FrameReader()
    assert reader.feed(b"AP") == []  # still a prefix of API\0: wait for more
    with pytest.raises(ProtocolError):
        reader.feed(b"X")


@pytest.mark.parametrize("size", [MAX_FRAME + 1, 0xFFFFFFFF])
def test_an_oversized_length_prefix_is_a_protocol_error(size: int) -> None:
    reader = FrameReader()
    reader.feed(API_SIGN + frame(b"v176"))
    with pytest.raises(ProtocolError, match="exceeds"):
        reader.feed(struct.pack(">I", size) + b"x")


def test_an_oversized_hello_is_refused_before_it_is_buffered() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameReader().feed(API_SIGN + struct.pack(">I", MAX_FRAME + 1))


def test_a_frame_of_exactly_the_limit_is_accepted() -> None:
    reader = FrameReader()
    reader.feed(API_SIGN + frame(b"v176"))
    payload = b"x" * (MAX_FRAME - 1) + b"\0"
    assert reader.feed(frame(payload)) == [payload]


# ---- hello and negotiation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hello"),
    [
        (b"v157..176", Hello(157, 176, "")),
        (b"v157..178", Hello(157, 178, "")),
        (b"v176", Hello(176, 176, "")),
        (b"v157..176 +PACEAPI", Hello(157, 176, "+PACEAPI")),
        (b"v100..200  +PACEAPI ", Hello(100, 200, "+PACEAPI")),
        (b"v157..176\0", Hello(157, 176, "")),
    ],
)
def test_parse_hello_reads_the_range_and_the_connect_options(text: bytes, hello: Hello) -> None:
    assert parse_hello(text) == hello


@pytest.mark.parametrize(
    "text",
    [b"", b"157..176", b"v", b"vabc", b"v157..", b"v..176", b"v176..157", b"v1.5", b"\xff\xfe"],
)
def test_parse_hello_refuses_garbage(text: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_hello(text)


@given(st.binary(max_size=40))
def test_parse_hello_raises_nothing_but_protocol_error(data: bytes) -> None:
    try:
        hello = parse_hello(data)
    except ProtocolError:
        return
    assert hello.min_version <= hello.max_version


@pytest.mark.parametrize(
    ("low", "high", "version"),
    [
        (157, 176, 176),
        (157, 178, 176),
        (176, 176, 176),
        (157, 157, 157),
        (166, 170, 170),
        (100, 200, 176),
        (100, 156, None),  # too old: no overlap with 157..176
        (177, 178, None),  # too new: only speaks layouts we do not
        (100, 150, None),
    ],
)
def test_negotiate_answers_min_of_client_max_and_176(
    low: int, high: int, version: int | None
) -> None:
    assert negotiate(Hello(low, high, "")) == version


# ---- split_fields ---------------------------------------------------------------------------


def test_split_fields_drops_only_the_final_empty_element() -> None:
    assert split_fields(b"4\x002\x00-1\x00\x00") == ["4", "2", "-1", ""]
    assert split_fields(b"\x00") == [""]


def test_split_fields_refuses_an_empty_or_unterminated_payload() -> None:
    with pytest.raises(ProtocolError, match="empty"):
        split_fields(b"")
    with pytest.raises(ProtocolError, match="NUL"):
        split_fields(b"49\x001")


def test_split_fields_escapes_bytes_that_are_not_utf8() -> None:
    # As the clients decode: with backslashreplace, never an exception.
    assert split_fields(b"1\x00\xff\xfe\x00") == ["1", "\\xff\\xfe"]


@given(st.binary(max_size=64))
def test_split_fields_raises_nothing_but_protocol_error(data: bytes) -> None:
    try:
        fields = split_fields(data)
    except ProtocolError:
        return
    assert all("\0" not in f for f in fields)
