"""Sans-IO AMI wire parser: bytes in (split anywhere), typed messages out.

Why our own: panoramisk decodes every TCP read on its own and ignores decode
errors, so a multi-byte character split across two reads (every Chinese caller
name is multi-byte) silently disappears. Here framing happens on *bytes*
(``\\r\\n\\r\\n`` never occurs inside a UTF-8 sequence) and each complete message is
decoded once, with invalid bytes replaced by U+FFFD, never dropped. The parser's
output depends only on the byte stream, never on how it was split.

The parser knows three shapes of input:

* the banner ``Asterisk Call Manager/x.y.z`` (one CRLF-terminated line, first
  thing on the wire);
* ordinary messages: ``Key: Value`` lines ending with an empty line; a key may
  repeat (``Variable``, ``ChanVariable``, ``Output``) and every value is kept;
* ``Response: Follows`` (command output of old Asterisk releases): free text
  after the headers, terminated by ``--END COMMAND--``; it may contain empty
  lines, so it is framed on that terminator instead.

Speed matters here (a busy PBX sends tens of thousands of events a second, most
of which nobody reads): all complete frames of a read come apart in one split,
and an event from a read without stray CR or LF stays unparsed until someone
asks for its headers (see :class:`Message`). A message may not exceed
:data:`MAX_FRAME` bytes, so a peer cannot make the dialer hold an endless one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

ENCODING = "utf-8"
EOL = b"\r\n"
FRAME_END = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
FOLLOWS_END = b"--END COMMAND--"
_FOLLOWS_FRAME_END = FOLLOWS_END + FRAME_END
_FOLLOWS_FIRST_LINE = "response: follows"
_FOLLOWS_WORD = b"follows"


class MessageKind(StrEnum):
    """What a complete AMI message is, from its first header."""

    RESPONSE = "response"  # the answer to one of our actions
    EVENT = "event"  # something happened in Asterisk
    OTHER = "other"  # neither: kept (never silently dropped) so callers can log it


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line; its version tells which AMI dialect we are talking to."""

    version: str


class Message:
    """One AMI message, headers in wire order, repeated keys preserved.

    Lookups are case-insensitive because Asterisk's own capitalisation is not
    consistent across versions (``Uniqueid`` vs ``UniqueID``). ``output`` holds
    lines that are not headers: the body of ``Response: Follows`` or, for any
    other message, lines that did not parse as ``Key: Value`` (kept for logging).

    Immutable by convention; a hand-written slotted class rather than a frozen dataclass because
    one is built per event (tens of thousands a second). An event the parser framed from a clean
    read (``Event: `` first, every line break a CRLF) starts *unparsed*: it holds its decoded text,
    its name and kind are read from the first line, :meth:`first_of` finds a few keys with one
    string search each, and the headers are split into pairs only when something asks for them
    otherwise (:attr:`headers`, :meth:`get`, :meth:`first_values`, :meth:`get_all`, equality).
    Nearly half the events of a busy PBX have no type and nobody looks into them: those are never
    split at all.
    """

    __slots__ = ("_first", "_headers", "_keys", "_kind", "_lower", "_name", "_text", "_values", "output")

    def __init__(self, headers: tuple[tuple[str, str], ...], output: tuple[str, ...] = ()) -> None:
        self._text: str | None = None
        self._init(tuple(k for k, _ in headers), tuple(v for _, v in headers), output)
        self._headers: tuple[tuple[str, str], ...] | None = headers

    def _init(self, keys: tuple[str, ...], values: tuple[str, ...], output: tuple[str, ...]) -> None:
        self._keys = keys
        self._values = values
        self.output = output
        self._headers = None
        self._lower: str | None = None
        # Lower-cased key -> first value, built once: every event is looked up many times.
        first = dict(zip(map(str.lower, keys), values, strict=True))
        if len(first) != len(keys):
            # A repeated key (ChanVariable, Variable): built again so its first value is the one that stays.
            first = dict(zip(map(str.lower, reversed(keys)), reversed(values), strict=True))
        self._first: dict[str, str] | None = first
        self._kind = self._classify()
        self._name = first.get("event" if self._kind is MessageKind.EVENT else "response", "")

    @classmethod
    def _parsed(cls, keys: tuple[str, ...], values: tuple[str, ...]) -> Message:
        """The parser's constructor: the same message as ``Message(tuple(zip(keys, values)))``."""
        message = cls.__new__(cls)
        message._text = None
        message._init(keys, values, ())
        return message

    @classmethod
    def _unparsed(cls, text: str, name: str) -> Message:
        """An event not split yet: ``text`` starts ``Event: <name>``, every line ends in CRLF, no stray CR or LF.

        The parser checks both before it calls this; what the message answers is then what
        :func:`parse_lines` would give (a property test compares the two).
        """
        message = cls.__new__(cls)
        message._text = text
        message._name = name
        message._kind = MessageKind.EVENT
        message._first = None
        message._headers = None
        message._lower = None
        message.output = ()
        return message

    def _split(self) -> dict[str, str]:
        """Split an unparsed message's headers (once); the lower-cased first-value table."""
        first = self._first
        if first is None:
            text = self._text
            assert text is not None  # only an unparsed message lacks the table
            parsed = _parse_headers(text) or parse_lines(text, follows=False)
            self._keys, self._values, self.output = parsed._keys, parsed._values, parsed.output
            first = self._first = parsed._split()
        return first

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every ``(key, value)`` in wire order."""
        headers = self._headers
        if headers is None:
            self._split()
            headers = self._headers = tuple(zip(self._keys, self._values, strict=True))
        return headers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        self._split()
        other._split()
        return (self._keys, self._values, self.output) == (other._keys, other._values, other.output)

    def __hash__(self) -> int:
        self._split()
        return hash((self._keys, self._values, self.output))

    def __repr__(self) -> str:
        return f"Message(headers={self.headers!r}, output={self.output!r})"

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (case-insensitive), or ``default``."""
        return self._split().get(key.lower(), default)

    def first_of(self, keys: tuple[str, ...]) -> list[str]:
        """The first value of each of ``keys`` (lower-case names), "" for an absent key.

        What the typed events read: on an unparsed message each key is one search of the
        lower-cased text for a line that starts with it, so the message is never split.
        """
        first = self._first
        if first is not None:
            return [first.get(key, "") for key in keys]
        text = self._text
        assert text is not None
        lower = self._lower
        if lower is None:
            lower = self._lower = text.lower()
            if len(lower) != len(text):
                # A character whose lower case is longer (e.g. "İ") shifts every later position.
                first = self._split()
                return [first.get(key, "") for key in keys]
        values: list[str] = []
        search, line_end = lower.find, text.find
        for needle in _NEEDLES.get(keys) or _needles(keys):
            if needle is None:  # "event": the first line, the only one without a CRLF before it
                values.append(self._name)
                continue
            start = search(needle)
            if start < 0:
                values.append("")
                continue
            start += len(needle)
            if text.startswith(" ", start):  # the one space after the colon is syntax
                start += 1
            end = line_end("\r\n", start)
            values.append(text[start:end] if end >= 0 else text[start:])
        return values

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of a repeated key, in wire order."""
        self._split()
        wanted = key.lower()
        return tuple(v for k, v in zip(self._keys, self._values, strict=True) if k.lower() == wanted)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._split()

    def first_values(self) -> Mapping[str, str]:
        """Lower-cased key -> first value (read-only view), for code that reads many keys."""
        return self._split()

    @property
    def kind(self) -> MessageKind:
        """Response, event or other, so routing never guesses from a missing key."""
        return self._kind

    def _classify(self) -> MessageKind:
        if not self._keys:
            return MessageKind.OTHER
        first = self._keys[0].lower()
        if first == "response":
            return MessageKind.RESPONSE
        if first == "event" or "event" in self:
            return MessageKind.EVENT
        if "response" in self:
            return MessageKind.RESPONSE
        return MessageKind.OTHER

    @property
    def name(self) -> str:
        """The event name, or the response status (Success, Error, Follows, ...)."""
        return self._name

    @property
    def action_id(self) -> str:
        """The ActionID tying a reply (or an action's list events) to the action; "" if none."""
        return self.first_of(_ACTION_ID)[0]

    def to_bytes(self) -> bytes:
        """Serialize back to the wire format; used by test peers and benchmarks."""
        lines = [f"{k}: {v}" for k, v in self.headers]
        if self.output:
            lines.extend(self.output)
            lines.append(FOLLOWS_END.decode())
        return ("\r\n".join(lines)).encode(ENCODING) + FRAME_END


_ACTION_ID = ("actionid",)
# For each tuple of keys asked for: the text that starts a line holding each key in a message's
# lower-cased text, "\r\n<key>:" (None for "event", which is the first line). The typed events ask
# for a dozen tuples, made once; any other tuple is made on the fly (and kept while few).
_NEEDLES: dict[tuple[str, ...], tuple[str | None, ...]] = {}
_MAX_NEEDLE_SETS = 256


def _needles(keys: tuple[str, ...]) -> tuple[str | None, ...]:
    """The needles for ``keys``.

    A key with a colon, whitespace or nothing in it can never be a header's key: its needle is
    "\n\n", which no clean message contains (every LF in it follows a CR).
    """
    needles = tuple(
        None if key == "event" else f"\r\n{key}:" if key and ":" not in key and key.split() == [key] else "\n\n"
        for key in keys
    )
    if len(_NEEDLES) < _MAX_NEEDLE_SETS:
        _NEEDLES[keys] = needles
    return needles


Item = Banner | Message


class FrameTooLarge(ValueError):
    """More than :data:`MAX_FRAME` bytes arrived without completing one message."""


# No message Asterisk sends comes near this (a channel list is one message per channel; the
# longest command outputs are tens of kilobytes); a peer that streams bytes without ever ending
# a message must not make the dialer hold them all.
MAX_FRAME = 4 * 1024 * 1024


class Parser:
    """Incremental AMI parser; feed it whatever the socket gave you.

    ``feed`` returns the items completed by the new bytes; incomplete trailing
    data stays buffered (see :attr:`pending`). It never raises on wire content
    (garbage becomes a :class:`Message` of kind ``OTHER``), except
    :class:`FrameTooLarge` when more than ``max_frame`` bytes arrive without
    completing one message: then the stream cannot be trusted any more.

    Each byte is searched once for the end of a frame however the stream was split (the search
    resumes where the previous read's left off), so a large message arriving in many reads
    costs time in proportion to its size, not to its size squared.
    """

    def __init__(self, *, expect_banner: bool = True, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max_frame = max_frame
        # Bytes of the buffer already searched for a frame end (without one found).
        self._searched = 0
        # None: not decided yet (too few bytes to tell whether a banner starts the stream).
        self._banner_pending: bool | None = None if expect_banner else False

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete item."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Item]:
        buf = self._buf
        buf += data
        items: list[Item] = []
        if self._banner_pending is not False:
            banner = self._take_banner()
            if banner is None:
                return items
            if isinstance(banner, Banner):
                items.append(banner)
        last = buf.rfind(FRAME_END, max(0, self._searched - len(FRAME_END) + 1))
        if last < 0:
            self._searched = len(buf)
            if len(buf) > self._max_frame:
                raise FrameTooLarge(f"{len(buf):,} bytes without the end of an AMI message (limit {self._max_frame:,})")
            return items
        stop = last + len(FRAME_END)
        region = bytes(buf[:stop])
        if _FOLLOWS_WORD in region.lower():
            # Command output may hold empty lines: framed one message at a time on its own terminator.
            self._take_frames(items)
            return items
        # No command output: every frame ends at the next empty line, so all complete frames come
        # apart in one split. Counted once for the whole region: with every CR and every LF part of
        # a CRLF, no message of it has a stray line break, and its events can stay unparsed.
        parts = region.split(FRAME_END)
        # What follows the split's last frame end: empty, unless the region ended in overlapping
        # frame ends ("\r\n\r\n\r\n"), whose last CRLF belongs to whatever comes next.
        rest = parts.pop()
        del buf[: stop - len(rest)]
        self._searched = 0
        crlf = region.count(EOL)
        clean = region.count(b"\r") == crlf and region.count(b"\n") == crlf
        for part in parts:
            message = _clean_frame(part) if clean else parse_frame(part)
            if message is not None:
                items.append(message)
        if len(buf) > self._max_frame:
            raise FrameTooLarge(f"{len(buf):,} bytes without the end of an AMI message (limit {self._max_frame:,})")
        return items

    def _take_frames(self, items: list[Item]) -> None:
        while True:
            frame = self._take_frame()
            if frame is None:
                self._searched = 0  # rare (command output): searched from the start again next time
                if len(self._buf) > self._max_frame:
                    raise FrameTooLarge(
                        f"{len(self._buf):,} bytes without the end of an AMI message (limit {self._max_frame:,})"
                    )
                return
            message = parse_frame(frame)
            if message is not None:
                items.append(message)

    def _take_banner(self) -> Banner | bool | None:
        """Consume the banner if the stream starts with one.

        Returns the Banner, True when the stream turned out to have none, or None
        while there are too few bytes to decide.
        """
        head = bytes(self._buf[: len(BANNER_PREFIX)])
        if not BANNER_PREFIX.startswith(head):
            self._banner_pending = False
            return True
        if len(head) < len(BANNER_PREFIX):
            return None
        end = self._buf.find(EOL)
        if end < 0:
            if len(self._buf) > self._max_frame:
                raise FrameTooLarge(f"a banner line of {len(self._buf):,} bytes (limit {self._max_frame:,})")
            return None
        line = bytes(self._buf[:end]).decode(ENCODING, "replace")
        del self._buf[: end + len(EOL)]
        self._banner_pending = False
        return Banner(version=line[len(BANNER_PREFIX) :].strip())

    def _take_frame(self) -> bytes | None:
        end = self._buf.find(FRAME_END)
        if end < 0:
            return None
        if _starts_follows(self._buf, end):
            stop = self._buf.find(_FOLLOWS_FRAME_END)
            if stop < 0:
                return None
            frame = bytes(self._buf[: stop + len(FOLLOWS_END)])
            del self._buf[: stop + len(_FOLLOWS_FRAME_END)]
            return frame
        frame = bytes(self._buf[:end])
        del self._buf[: end + len(FRAME_END)]
        return frame


_EVENT_PREFIX = "Event: "


def _clean_frame(frame: bytes) -> Message | None:
    """:func:`parse_frame` for a frame without stray CR or LF: an event stays unparsed."""
    text = frame.decode(ENCODING, "replace").strip("\r\n")
    if not text.startswith(_EVENT_PREFIX):
        return parse_frame(frame)
    end = text.find("\r\n")
    return Message._unparsed(text, text[len(_EVENT_PREFIX) : end] if end >= 0 else text[len(_EVENT_PREFIX) :])


def _starts_follows(buf: bytearray, end: int) -> bool:
    """Does the frame ending at ``end`` open with ``Response: Follows``?"""
    head = bytes(buf[:end]).lstrip(b"\r\n")
    first, _, _ = head.partition(b"\r\n")
    return first.strip().lower().decode(ENCODING, "replace") == _FOLLOWS_FIRST_LINE


def parse_frame(frame: bytes) -> Message | None:
    """Decode one framed message (without its terminating empty line).

    Returns None only for an empty frame (stray blank lines between messages).
    """
    text = frame.decode(ENCODING, "replace").strip("\r\n")
    if not text:
        return None
    follows = text.partition("\n")[0].strip().lower() == _FOLLOWS_FIRST_LINE
    if not follows:
        message = _parse_headers(text)
        if message is not None:
            return message
    return parse_lines(text, follows=follows)


def _parse_headers(text: str) -> Message | None:
    """The fast path for the usual message, every line ``Key: Value`` ending in CRLF; None otherwise.

    Agrees with :func:`parse_lines` wherever it answers (a property test checks it): a key is one
    word with no colon or whitespace, one space after the colon is syntax, and a line with a stray
    CR or LF, without ": ", or with a key that is not one word, leaves it to the general parse.
    """
    lines = text.split("\r\n")
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks:
        return None
    try:
        keys, values = zip(*[line.split(": ", 1) for line in lines], strict=True)
    except ValueError:  # a line without ": "
        return None
    joined = "".join(keys)
    if ":" in joined or joined.split() != [joined] or not all(keys):
        return None
    return Message._parsed(keys, values)


def parse_lines(text: str, *, follows: bool) -> Message:
    """The general line-by-line parse, for messages with free text (and the reference for the fast path)."""
    headers: list[tuple[str, str]] = []
    output: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if follows and output:
            output.append(line)
            continue
        key, colon, value = line.partition(":")
        if not colon or not key or any(c.isspace() for c in key):
            output.append(line)
            continue
        headers.append((key, value.removeprefix(" ")))
    if follows and output and output[-1].endswith(FOLLOWS_END.decode()):
        last = output[-1][: -len(FOLLOWS_END)].rstrip("\r\n")
        output[-1:] = [last] if last else []
    return Message(headers=tuple(headers), output=tuple(output))
