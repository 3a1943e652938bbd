"""The sans-IO parser: each vector fed whole, byte by byte and with trailing data; plus properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami.codec import Banner, FrameTooLarge, Item, Message, MessageKind, Parser, parse_frame, parse_lines

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


# -- events kept unparsed: what they answer is what the line-by-line parse gives --------------------

# Keys and values with the characters that could fool a search of the lower-cased text: case,
# a lower case longer than the character (İ), a lower case that is ASCII (the Kelvin sign),
# colons, spaces, and lines that are not headers at all.
_tricky_key = st.one_of(
    _key,
    st.sampled_from(["Uniqueid", "UNIQUEID", "UniqueID", "Linkedid", "\u212aey", "key", "İd", "id", "Value", "value"]),
)
_tricky_value = st.text(
    alphabet=st.one_of(st.sampled_from(list(": İ\u212akK张\t")), st.characters(blacklist_categories=("Cs",))),
    max_size=12,
).map(lambda v: v.replace("\r", "").replace("\n", ""))
_tricky_line = st.one_of(
    st.tuples(_tricky_key, st.sampled_from([": ", ":", ":  "]), _tricky_value).map("".join),
    _tricky_value.filter(bool),  # a line without a key (or without a colon); an empty one would end the message
)


@settings(max_examples=400, deadline=None)
@given(
    name=_tricky_value,
    lines=st.lists(_tricky_line, max_size=10),
    asked=st.lists(_tricky_key.map(str.lower), max_size=6),
)
def test_an_unparsed_event_answers_like_the_line_by_line_parse(name: str, lines: list[str], asked: list[str]) -> None:
    text = "\r\n".join([f"Event: {name}", *lines]).strip("\r\n")
    (message,) = Parser(expect_banner=False).feed(text.encode() + b"\r\n\r\n")
    assert isinstance(message, Message)
    reference = parse_lines(text, follows=False)
    keys = (*asked, "event", "actionid", "uniqueid", "value", "key", "", "a b", "a:b")
    # first_of before anything that splits the message, so the unparsed path answers it.
    assert (message.name, message.kind, message.action_id) == (reference.name, reference.kind, reference.action_id)
    assert message.first_of(keys) == reference.first_of(keys)
    assert message == reference
    assert message.headers == reference.headers and message.output == reference.output
    assert [message.get(k, "-") for k in keys] == [reference.get(k, "-") for k in keys]


def test_a_clean_event_is_not_split_until_something_asks_for_all_its_headers() -> None:
    data = event_bytes = b"Event: VarSet\r\nUniqueid: u1\r\nVariable: A\r\nValue: 1\r\n\r\n"
    (message,) = Parser(expect_banner=False).feed(event_bytes)
    assert isinstance(message, Message)
    assert message.first_of(("uniqueid", "value")) == ["u1", "1"]
    assert message._first is None  # read by search: no pairs, no table
    assert message.get_all("Variable") == ("A",)
    assert message._first == {"event": "VarSet", "uniqueid": "u1", "variable": "A", "value": "1"}
    assert message.to_bytes() == data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Bare LF line ends (and a bare CR inside a value) next to a clean message in the same read.
        (
            b"Event: Hangup\nUniqueid: u1\nCause: 16\r\n\r\nEvent: Newstate\r\nUniqueid: u2\r\n\r\n",
            [["Hangup", "u1", "16"], ["Newstate", "u2", ""]],
        ),
        (b"Event: VarSet\r\nValue: a\rb\r\nUniqueid: u3\r\n\r\n", [["VarSet", "u3", ""]]),
        # A header line without a colon is kept as output; the headers around it still read.
        (b"Event: Newstate\r\nno colon here\r\nUniqueid: u4\r\nCause:16\r\n\r\n", [["Newstate", "u4", "16"]]),
        # A caller name whose lower case is longer than itself, before the keys asked for.
        ("Event: Hangup\r\nCallerIDName: İİİ\r\nUniqueid: u5\r\nCause: 17\r\n\r\n".encode(), [["Hangup", "u5", "17"]]),
        # Invalid UTF-8 becomes U+FFFD in the value it is in, and only there.
        (b"Event: Hangup\r\nCallerIDName: \xff\xfe\r\nUniqueid: u6\r\nCause: 18\r\n\r\n", [["Hangup", "u6", "18"]]),
    ],
)
def test_odd_line_ends_lines_and_encodings_read_like_the_reference(data: bytes, expected: list[list[str]]) -> None:
    items = Parser(expect_banner=False).feed(data)
    assert [m.first_of(("event", "uniqueid", "cause")) for m in items if isinstance(m, Message)] == expected
    assert items == [parse_frame(frame) for frame in data.split(b"\r\n\r\n") if frame]


def test_a_value_with_replaced_bytes_keeps_the_rest_of_the_message() -> None:
    (message,) = Parser(expect_banner=False).feed(b"Event: X\r\nCallerIDName: a\xffb\r\nUniqueid: u\r\n\r\n")
    assert isinstance(message, Message)
    assert message.first_of(("calleridname", "uniqueid")) == ["a\ufffdb", "u"]


def test_a_huge_message_in_many_reads_arrives_whole_and_in_order() -> None:
    big = "张" * 1_000_000  # 3 MB of UTF-8, characters cut at read boundaries
    data = (
        b"Event: A\r\n\r\n"
        + f"Event: UserEvent\r\nUserEvent: Big\r\nData: {big}\r\nUniqueid: u\r\n\r\n".encode()
        + b"Event: B\r\n\r\n"
    )
    parser = Parser(expect_banner=False)
    items: list[Item] = []
    for start in range(0, len(data), 65_536):
        items.extend(parser.feed(data[start : start + 65_536]))
    assert [m.name for m in items if isinstance(m, Message)] == ["A", "UserEvent", "B"]
    middle = items[1]
    assert isinstance(middle, Message) and middle.first_of(("data", "uniqueid")) == [big, "u"]
    assert parser.pending == 0


def test_more_than_max_frame_bytes_without_an_end_is_refused_not_held() -> None:
    parser = Parser(expect_banner=False, max_frame=1_000)
    assert [
        m.name for m in parser.feed(b"Event: A\r\n\r\nEvent: B\r\nData: " + b"x" * 900) if isinstance(m, Message)
    ] == ["A"]
    with pytest.raises(FrameTooLarge, match="limit 1,000"):
        parser.feed(b"x" * 200)
    # A message just under the limit is fine, in one read or many.
    parser = Parser(expect_banner=False, max_frame=1_000)
    whole = b"Event: C\r\nData: " + b"y" * 900 + b"\r\n\r\n"
    assert [m.name for piece in (whole[:500], whole[500:]) for m in parser.feed(piece) if isinstance(m, Message)] == [
        "C"
    ]
