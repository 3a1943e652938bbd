"""Serving recordings safely: a registry row to a file strictly inside the folder, and HTTP Range.

The web console's download handler (aiohttp, built later) calls :func:`resolve_recording`
and :func:`parse_range` and does nothing clever itself, so the two places a download
can go wrong (a path that escapes the folder, a Range that reads past the file) are
pure, tested functions here.

Paths are refused rather than "cleaned": the dialer generates every recording name
(``YYYY/MM/DD/<call id>.<ext>``), so anything that needs cleaning was not written by
us and is treated as an attack or a corrupted row.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from dialer.domain.recording.errors import UnsafePath
from dialer.domain.recording.model import Recording

# Every name the dialer generates fits this; '%', '\\', spaces and control characters never do.
_SAFE_CHARS = re.compile(r"^[A-Za-z0-9_.\-/]+$")
# ASCII digits only: \d also matches other scripts' digits ('٣'), which no client sends.
_RANGE_SPEC = re.compile(r"^\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.ASCII)


def check_relative(relative: str) -> tuple[str, ...]:
    """The parts of a stored relative path, or :class:`UnsafePath` saying why it is unsafe."""
    if "\x00" in relative:
        raise UnsafePath(relative, "contains a NUL byte")
    if not relative:
        raise UnsafePath(relative, "is empty")
    if relative.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", relative):
        raise UnsafePath(relative, "is absolute")
    if "%" in relative:
        raise UnsafePath(relative, "contains percent-encoding")
    if not _SAFE_CHARS.match(relative):
        raise UnsafePath(relative, "contains characters no recording name has")
    parts = tuple(relative.split("/"))
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(relative, "has an empty, '.' or '..' component")
    return parts


def resolve_inside(root: Path, relative: str) -> Path:
    """The existing regular file ``root/relative``, refusing anything that leaves ``root``.

    Symbolic links anywhere below ``root`` are refused too (even ones pointing back
    inside): the dialer never creates them, so one is a sign of tampering.
    """
    parts = check_relative(relative)
    base = root.resolve()
    candidate = base.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePath(relative, "does not exist") from None
    # candidate has no '..' and starts at the resolved root, so it can only differ from
    # its resolution through a symbolic link below the root: the one way out that is left.
    if resolved != candidate:
        raise UnsafePath(relative, "goes through a symbolic link")
    if not stat.S_ISREG(os.stat(resolved, follow_symlinks=False).st_mode):
        raise UnsafePath(relative, "is not a regular file")
    return resolved


@dataclass(frozen=True, slots=True)
class ServedFile:
    """What a download handler needs: the file, its size, its type and a strong ETag."""

    path: Path
    size: int
    media_type: str
    etag: str


def resolve_recording(root: Path, recording: Recording) -> ServedFile:
    """The file behind a registry row, for a download; :class:`UnsafePath` if deleted, missing or unsafe."""
    if recording.deleted:
        raise UnsafePath(recording.path, f"was deleted ({recording.delete_reason})")
    path = resolve_inside(root, recording.path)
    return ServedFile(
        path=path, size=path.stat().st_size, media_type=recording.format.media_type, etag=f'"{recording.sha256}"'
    )


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A satisfiable single range: bytes ``start``..``end`` inclusive of a ``size``-byte file (HTTP 206)."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """The Content-Length of the 206 response."""
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """The Content-Range header value of the response."""
        return f"bytes {self.start}-{self.end}/{self.size}"


@dataclass(frozen=True, slots=True)
class RangeNotSatisfiable:
    """The Range header cannot be served (HTTP 416); ``reason`` says why, for the log."""

    reason: str
    size: int

    @property
    def content_range(self) -> str:
        """The Content-Range header value of the response."""
        return f"bytes */{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | RangeNotSatisfiable | None:
    """Parse a ``Range`` header against a file of ``size`` bytes.

    None means "serve the whole file" (HTTP 200): no header, a unit other than bytes
    (which RFC 9110 says to ignore), or several ranges (a server may ignore those too,
    and audio players only ever ask for one). Supported: ``bytes=a-b``, ``bytes=a-``
    (to the end) and ``bytes=-n`` (the last n bytes); an end past the file is clamped.
    """
    if header is None or not header.strip():
        return None
    unit, sep, spec = header.strip().partition("=")
    if not sep:
        return RangeNotSatisfiable(f"malformed Range {header[:60]!r}: expected 'bytes=...'", size)
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE_SPEC.match(spec)
    if not match:
        return RangeNotSatisfiable(f"malformed Range {header[:60]!r}", size)
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return RangeNotSatisfiable(f"malformed Range {header[:60]!r}: no start and no end", size)
    if not first:
        suffix = _at_most(last, size)
        if suffix == 0 or size == 0:
            return RangeNotSatisfiable(f"suffix range of {suffix} bytes of a {size}-byte file is empty", size)
        return ByteRange(size - suffix, size - 1, size)
    start = _at_most(first, size)
    end = _at_most(last, size) if last else size - 1
    if last and end < start:
        return RangeNotSatisfiable(f"malformed Range {header[:60]!r}: end before start", size)
    if start >= size:
        return RangeNotSatisfiable(f"range starts past the end of a {size}-byte file", size)
    return ByteRange(start, min(end, size - 1), size)


def _at_most(digits: str, size: int) -> int:
    """The number ``digits`` spell, or ``size`` if it is larger: positions past the file all mean "past
    the end", and int() refuses a number of more than 4,300 digits (a Range header may hold 8,000)."""
    if len(digits.lstrip("0")) > len(str(size)):
        return size
    return min(int(digits), size)
