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
    one is built per event (tens of thousands a second) and most are only looked up, never
    iterated: the ``headers`` pairs are made on first use.
    """

    __slots__ = ("_first", "_headers", "_keys", "_kind", "_values", "output")

    def __init__(self, headers: tuple[tuple[str, str], ...], output: tuple[str, ...] = ()) -> None:
        self._init(tuple(k for k, _ in headers), tuple(v for _, v in headers), output)
        self._headers: tuple[tuple[str, str], ...] | None = headers

    def _init(self, keys: tuple[str, ...], values: tuple[str, ...], output: tuple[str, ...]) -> None:
        self._keys = keys
        self._values = values
        self.output = output
        self._headers = None
        # Lower-cased key -> first value, built once: every event is looked up many times.
        first = dict(zip(map(str.lower, keys), values, strict=True))
        if len(first) != len(keys):
            # A repeated key (ChanVariable, Variable): built again so its first value is the one that stays.
            first = dict(zip(map(str.lower, reversed(keys)), reversed(values), strict=True))
        self._first = first
        self._kind = self._classify()

    @classmethod
    def _parsed(cls, keys: tuple[str, ...], values: tuple[str, ...]) -> Message:
        """The parser's constructor: the same message as ``Message(tuple(zip(keys, values)))``."""
        message = cls.__new__(cls)
        message._init(keys, values, ())
        return message

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every ``(key, value)`` in wire order."""
        headers = self._headers
        if headers is None:
            headers = self._headers = tuple(zip(self._keys, self._values, strict=True))
        return headers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self._keys, self._values, self.output) == (other._keys, other._values, other.output)

    def __hash__(self) -> int:
        return hash((self._keys, self._values, self.output))

    def __repr__(self) -> str:
        return f"Message(headers={self.headers!r}, output={self.output!r})"

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (case-insensitive), or ``default``."""
        return self._first.get(key.lower(), default)

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of a repeated key, in wire order."""
        wanted = key.lower()
        return tuple(v for k, v in zip(self._keys, self._values, strict=True) if k.lower() == wanted)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def first_values(self) -> Mapping[str, str]:
        """Lower-cased key -> first value (read-only view), for code that reads many keys."""
        return self._first

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
        return self._first.get("event" if self._kind is MessageKind.EVENT else "response", "")

    @property
    def action_id(self) -> str:
        """The ActionID tying a reply (or an action's list events) to the action; "" if none."""
        return self._first.get("actionid", "")

    def to_bytes(self) -> bytes:
        """Serialize back to the wire format; used by test peers and benchmarks."""
        lines = [f"{k}: {v}" for k, v in self.headers]
        if self.output:
            lines.extend(self.output)
            lines.append(FOLLOWS_END.decode())
        return ("\r\n".join(lines)).encode(ENCODING) + FRAME_END


Item = Banner | Message


class Parser:
    """Incremental AMI parser; feed it whatever the socket gave you.

    ``feed`` returns the items completed by the new bytes; incomplete trailing
    data stays buffered (see :attr:`pending`). It never raises on wire content:
    garbage becomes a :class:`Message` of kind ``OTHER``.
    """

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buf = bytearray()
        # None: not decided yet (too few bytes to tell whether a banner starts the stream).
        self._banner_pending: bool | None = None if expect_banner else False

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete item."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Item]:
        self._buf += data
        items: list[Item] = []
        if self._banner_pending is not False:
            banner = self._take_banner()
            if banner is None:
                return items
            if isinstance(banner, Banner):
                items.append(banner)
        buf = self._buf
        if _FOLLOWS_WORD not in buf.lower():
            # No command output anywhere: every frame ends at the next empty line, so all complete
            # frames come apart in one split (frame by frame, that was a search and a copy each).
            parts = bytes(buf).split(FRAME_END)
            rest = parts.pop()  # what follows the last complete frame
            del buf[: len(buf) - len(rest)]
            for part in parts:
                message = parse_frame(part)
                if message is not None:
                    items.append(message)
            return items
        while True:
            frame = self._take_frame()
            if frame is None:
                return items
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
