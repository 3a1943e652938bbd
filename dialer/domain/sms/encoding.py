"""SMS text on the wire: alphabet choice and long-message segmentation. Pure: no I/O.

Why this matters: the operator bills per part and the handset reassembles parts by
their concatenation header, so the split must match the standard exactly.
GSM 03.38 (7-bit) carries 160 characters in one SMS, 153 per part when concatenated
(the 6-byte UDH costs 7 septets); anything outside it (all Chinese text) goes as UCS-2:
70 characters in one SMS, 67 per part. Extension characters (€, [, ], ...) take two
septets and are never split from their escape; UTF-16 surrogate pairs (emoji) are
never split either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# GSM 03.38 default alphabet, in septet order (index = code).
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_GSM_CODE = {ch: code for code, ch in enumerate(_GSM_BASIC) if ch != "\x1b"}
_ESCAPE = 0x1B

GSM_SINGLE = 160
GSM_PART = 153
UCS2_SINGLE = 70  # UTF-16 code units
UCS2_PART = 67
# At most this many parts: the concatenation header counts parts in one byte.
MAX_PARTS = 255


class DataCoding(IntEnum):
    """SMPP data_coding values this dialer sends."""

    GSM7 = 0x00  # SMSC default alphabet (GSM 03.38), one septet per byte
    UCS2 = 0x08


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text ready for submit_sm: its coding and the payload of each part (UDH included when split)."""

    coding: DataCoding
    parts: tuple[bytes, ...]

    @property
    def concatenated(self) -> bool:
        """True when the parts carry a UDH, so submit_sm must set esm_class UDHI (0x40)."""
        return len(self.parts) > 1


def is_gsm7(text: str) -> bool:
    """True if every character exists in the GSM 03.38 alphabet (basic or extension table)."""
    return all(ch in _GSM_CODE or ch in _GSM_EXTENSION for ch in text)


def segment(text: str, ref: int) -> Segmented:
    """Encode ``text`` and split it into parts; ``ref`` (0-255) ties the parts of one message together."""
    if not 0 <= ref <= 0xFF:
        raise ValueError(f"concatenation reference {ref} must fit in one byte")
    if is_gsm7(text):
        units = [_gsm_unit(ch) for ch in text]
        coding, single, per_part = DataCoding.GSM7, GSM_SINGLE, GSM_PART
    else:
        units = [ch.encode("utf-16-be") for ch in text]
        coding, single, per_part = DataCoding.UCS2, UCS2_SINGLE, UCS2_PART
    # A part's capacity counts septets (GSM 7-bit: one per unit byte) or UCS-2 characters (two bytes each).
    width = 1 if coding is DataCoding.GSM7 else 2

    def size(unit: bytes) -> int:
        return len(unit) // width

    total = sum(size(u) for u in units)
    if total <= single:
        return Segmented(coding, (b"".join(units),))
    chunks: list[bytes] = []
    current: list[bytes] = []
    used = 0
    for unit in units:
        if used + size(unit) > per_part:
            chunks.append(b"".join(current))
            current, used = [], 0
        current.append(unit)
        used += size(unit)
    chunks.append(b"".join(current))
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"text needs {len(chunks)} parts; at most {MAX_PARTS} can be concatenated")
    n = len(chunks)
    return Segmented(coding, tuple(bytes((0x05, 0x00, 0x03, ref, n, i + 1)) + chunk for i, chunk in enumerate(chunks)))


def part_count(text: str) -> int:
    """How many SMS ``text`` costs: what a wave's cost estimate and the status screen show."""
    return len(segment(text, 0).parts)


def decode(payload: bytes, coding: int, has_udh: bool) -> str:
    """Text of one received part (MO message): strip a UDH, decode UCS-2 or GSM 03.38/ASCII.

    Unknown codings are read as Latin-1 so a reply is never lost, just possibly garbled.
    """
    if has_udh and payload:
        payload = payload[1 + payload[0] :]
    if coding == DataCoding.UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if coding == DataCoding.GSM7:
        return _gsm_decode(payload)
    return payload.decode("latin-1")


def _gsm_unit(ch: str) -> bytes:
    if ch in _GSM_CODE:
        return bytes((_GSM_CODE[ch],))
    return bytes((_ESCAPE, _GSM_EXTENSION[ch]))


_GSM_CHAR = {code: ch for ch, code in _GSM_CODE.items()}
_GSM_EXT_CHAR = {code: ch for ch, code in _GSM_EXTENSION.items()}


def _gsm_decode(payload: bytes) -> str:
    out: list[str] = []
    escaped = False
    for byte in payload:
        if escaped:
            out.append(_GSM_EXT_CHAR.get(byte, " "))
            escaped = False
        elif byte == _ESCAPE:
            escaped = True
        else:
            out.append(_GSM_CHAR.get(byte, "?"))
    return "".join(out)
