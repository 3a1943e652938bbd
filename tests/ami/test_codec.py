"""The sans-IO parser: each vector fed whole, byte by byte and with trailing data; plus properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami.codec import Banner, Item, Message, MessageKind, Parser, parse_frame, parse_lines

NAME = "张伟"  # 3 bytes per character in UTF-8

VECTORS: dict[str, tuple[bytes, list[Item]]] = {
    "banner_and_login": (
        b"Asterisk Call Manager/5.0.6\r\nResponse: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n",
        [
            Banner("5.0.6"),
            Message((("Response", "Success"), ("ActionID", "a1"), ("Message", "Authentication accepted"))),
        ],
    ),
    "no_banner": (
        b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n",
        [Message((("Event", "FullyBooted"), ("Status", "Fully Booted")))],
    ),
    "chinese_caller_name": (
        f"Event: Newchannel\r\nChannel: PJSIP/carrier-00000001\r\nCallerIDName: {NAME}\r\n\r\n".encode(),
        [Message((("Event", "Newchannel"), ("Channel", "PJSIP/carrier-00000001"), ("CallerIDName", NAME)))],
    ),
    "repeated_keys": (
        b"Event: Status\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nVariable: X=\r\n\r\n",
        [Message((("Event", "Status"), ("ChanVariable", "A=1"), ("ChanVariable", "B=2"), ("Variable", "X=")))],
    ),
    "command_output_headers": (
        (
            b"Response: Success\r\nActionID: c1\r\nMessage: Command output follows\r\n"
            b"Output: Channel   Location\r\nOutput: 0 active channels\r\n\r\n"
        ),
        [
            Message(
                (
                    ("Response", "Success"),
                    ("ActionID", "c1"),
                    ("Message", "Command output follows"),
                    ("Output", "Channel   Location"),
                    ("Output", "0 active channels"),
                )
            )
        ],
    ),
    "response_follows_with_blank_line": (
        (
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: c2\r\n"
            b"line one\nKey: looks like a header\n\r\n\r\nlast line\n--END COMMAND--\r\n\r\n"
            b"Event: Ping\r\n\r\n"
        ),
        [
            Message(
                (("Response", "Follows"), ("Privilege", "Command"), ("ActionID", "c2")),
                ("line one", "Key: looks like a header", "", "", "last line"),
            ),
            Message((("Event", "Ping"),)),
        ],
    ),
    "invalid_utf8_replaced": (
        b"Event: UserEvent\r\nUserEvent: X\r\nData: ok\xff\xfeok\r\n\r\n",
        [Message((("Event", "UserEvent"), ("UserEvent", "X"), ("Data", "ok\ufffd\ufffdok")))],
    ),
    "empty_value_and_no_space": (
        b"Event: Hangup\r\nCause-txt: \r\nAccountCode:\r\n\r\n",
        [Message((("Event", "Hangup"), ("Cause-txt", ""), ("AccountCode", "")))],
    ),
    "stray_blank_lines_and_garbage": (
        b"\r\n\r\nnot a header line\r\n\r\nEvent: A\r\n\r\n",
        [Message((), ("not a header line",)), Message((("Event", "A"),))],
    ),
}


def feed_all(chunks: list[bytes]) -> tuple[list[Item], int]:
    parser = Parser()
    items: list[Item] = []
    for chunk in chunks:
        items.extend(parser.feed(chunk))
    return items, parser.pending


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_whole(name: str) -> None:
    data, expected = VECTORS[name]
    assert feed_all([data]) == (expected, 0)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_byte_by_byte(name: str) -> None:
    data, expected = VECTORS[name]
    assert feed_all([data[i : i + 1] for i in range(len(data))]) == (expected, 0)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_with_trailing_partial_message(name: str) -> None:
    data, expected = VECTORS[name]
    tail = "Event: Newchannel\r\nCallerIDName: 李".encode()[:-1]  # ends mid-character
    items, pending = feed_all([data + tail])
    assert items == expected
    assert pending == len(tail)


def test_multibyte_character_split_across_reads_survives() -> None:
    data = f"Event: Newchannel\r\nCallerIDName: {NAME}\r\n\r\n".encode()
    cut = data.index(NAME.encode()) + 1  # inside the first character
    (message,), pending = feed_all([data[:cut], data[cut:]])
    assert isinstance(message, Message)
    assert message.get("calleridname") == NAME
    assert pending == 0


def test_message_lookups_are_case_insensitive_and_keep_repeats() -> None:
    message = Message((("Event", "VarSet"), ("Uniqueid", "u1"), ("Variable", "A"), ("variable", "B")))
    assert message.kind is MessageKind.EVENT
    assert message.name == "VarSet"
    assert message.get("UNIQUEID") == "u1"
    assert message.get_all("Variable") == ("A", "B")
    assert "uniqueid" in message and "Linkedid" not in message
    assert message.first_values() == {"event": "VarSet", "uniqueid": "u1", "variable": "A"}


def test_kinds() -> None:
    assert Message((("Response", "Error"),)).kind is MessageKind.RESPONSE
    assert Message((("ActionID", "1"), ("Response", "Success"))).kind is MessageKind.RESPONSE
    assert Message((("Foo", "bar"),)).kind is MessageKind.OTHER
    assert Message(()).kind is MessageKind.OTHER


def _reference(data: bytes) -> tuple[list[Item], int]:
    return feed_all([data])


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


# Bytes biased towards the protocol's structure so splits land on interesting boundaries.
_fragments = st.sampled_from(
    [
        b"\r\n",
        b"\r\n\r\n",
        b"\r",
        b"\n",
        b": ",
        b"Event: ",
        b"Response: Follows\r\n",
        b"--END COMMAND--",
        b"Asterisk Call Manager/",
        "张".encode(),
        b"\xe5",
        b"\xff",
        b"ActionID: 7",
    ]
)
_wire = st.lists(st.one_of(_fragments, st.binary(max_size=12)), max_size=40).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(data=_wire, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_bytes_any_split_same_result_as_whole(data: bytes, cuts: list[int]) -> None:
    assert feed_all(_split(data, cuts)) == _reference(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_arbitrary_binary_never_crashes(data: bytes, cuts: list[int]) -> None:
    assert feed_all(_split(data, cuts)) == _reference(data)


_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
_value = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20).map(
    str.strip
)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(_key, _value), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_well_formed_events_round_trip_under_any_split(headers: list[tuple[str, str]], cuts: list[int]) -> None:
    message = Message((("Event", "Custom"), *headers))
    data = message.to_bytes() + message.to_bytes()
    items, pending = feed_all(_split(data, cuts))
    assert items == [message, message]
    assert pending == 0


_line_text = st.lists(
    st.one_of(
        st.tuples(_key, _value).map(lambda kv: f"{kv[0]}: {kv[1]}"),
        st.text(alphabet=st.sampled_from(list("ab: \t\r\x0b张-")), max_size=8),
    ),
    min_size=1,
    max_size=6,
).map("\r\n".join)


@settings(max_examples=300, deadline=None)
@given(text=_line_text)
def test_fast_path_agrees_with_line_by_line_parse(text: str) -> None:
    stripped = text.strip("\r\n")
    parsed = parse_frame(text.encode())
    if not stripped:
        assert parsed is None
    else:
        assert parsed == parse_lines(stripped, follows=False)
