"""Safe file serving: nothing outside the recordings folder, and HTTP Range parsed strictly."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.recording.errors import UnsafePath
from dialer.domain.recording.model import AudioFormat, Recording
from dialer.recording.serving import ByteRange, RangeNotSatisfiable, parse_range, resolve_inside, resolve_recording

NAME = "2026/11/29/abc123.wav"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    (root / "2026/11/29").mkdir(parents=True)
    (root / NAME).write_bytes(b"RIFF....")
    (tmp_path / "secret.txt").write_text("not yours")
    return root


def test_a_generated_name_resolves_to_the_file(root: Path) -> None:
    assert resolve_inside(root, NAME) == (root / NAME).resolve()


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("../secret.txt", "'..'"),
        ("2026/../../secret.txt", "'..'"),
        ("2026/11/29/../../../../secret.txt", "'..'"),
        ("./2026/11/29/abc123.wav", "'.'"),
        ("2026//11/29/abc123.wav", "empty"),
        ("/etc/passwd", "absolute"),
        (str(Path("/tmp").resolve() / "x.wav"), "absolute"),
        ("C:/windows/win.ini", "absolute"),
        ("\\windows\\win.ini", "absolute"),
        ("2026/11/29/abc123.wav\x00.txt", "NUL"),
        ("%2e%2e/secret.txt", "percent"),
        ("%2E%2E%2Fsecret.txt", "percent"),
        ("2026/11/29/..%2f..%2fsecret.txt", "percent"),
        ("2026\\..\\secret.txt", "characters"),
        ("2026/11/29/abc 123.wav", "characters"),
        ("", "empty"),
        ("2026/11/29/missing.wav", "does not exist"),
        ("2026/11/29", "not a regular file"),
    ],
)
def test_unsafe_paths_are_refused(root: Path, relative: str, reason: str) -> None:
    with pytest.raises(UnsafePath) as info:
        resolve_inside(root, relative)
    assert reason in info.value.reason


def test_a_symlink_pointing_outside_is_refused(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", root / "2026/11/29/evil.wav")
    with pytest.raises(UnsafePath, match="symbolic link"):
        resolve_inside(root, "2026/11/29/evil.wav")


def test_a_symlinked_folder_is_refused_even_pointing_inside(root: Path) -> None:
    os.symlink(root / "2026/11/29", root / "2026/11/30")
    with pytest.raises(UnsafePath, match="symbolic link"):
        resolve_inside(root, "2026/11/30/abc123.wav")


def test_a_symlinked_root_itself_is_fine(root: Path, tmp_path: Path) -> None:
    """Operators often mount the recordings disk elsewhere and link it in: that must keep working."""
    link = tmp_path / "rec-link"
    os.symlink(root, link)
    assert resolve_inside(link, NAME) == (root / NAME).resolve()


def _recording(path: str = NAME, deleted: bool = False) -> Recording:
    at = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    return Recording(id=1, call_id="abc123", lead_id=None, campaign_id=None, agent="agent1", direction=Direction.OUTBOUND,
                     path=path, format=AudioFormat.WAV, started_at=at, duration_s=1.0, size_bytes=8, sha256="a" * 64,
                     wav_sha256="a" * 64, registered_at=at, deleted_at=at if deleted else None,
                     delete_reason="retention" if deleted else None)  # fmt: skip


def test_resolve_recording_gives_size_type_and_etag(root: Path) -> None:
    served = resolve_recording(root, _recording())
    assert (served.size, served.media_type, served.etag) == (8, "audio/wav", '"' + "a" * 64 + '"')
    flac = replace(_recording(), format=AudioFormat.FLAC)
    assert resolve_recording(root, flac).media_type == "audio/flac"


def test_resolve_recording_refuses_deleted_and_tampered_rows(root: Path) -> None:
    with pytest.raises(UnsafePath, match="deleted"):
        resolve_recording(root, _recording(deleted=True))
    with pytest.raises(UnsafePath, match=re.escape("'..'")):
        resolve_recording(root, _recording(path="../secret.txt"))


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=0-0", 1000, (0, 0)),
        ("bytes=500-", 1000, (500, 999)),
        ("bytes=0-", 1000, (0, 999)),
        ("bytes=-100", 1000, (900, 999)),
        ("bytes=-5000", 1000, (0, 999)),  # a suffix longer than the file is the whole file
        ("bytes=900-5000", 1000, (900, 999)),  # an end past the file is clamped
        ("bytes=999-999", 1000, (999, 999)),
        ("BYTES = 10 - 20", 1000, (10, 20)),
    ],
)
def test_satisfiable_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    result = parse_range(header, size)
    assert isinstance(result, ByteRange)
    assert (result.start, result.end) == expected
    assert result.length == expected[1] - expected[0] + 1
    assert result.content_range == f"bytes {expected[0]}-{expected[1]}/{size}"


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),  # starts at the end
        ("bytes=2000-3000", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),  # nothing to serve of an empty file
        ("bytes=-10", 0),
        ("bytes=20-10", 1000),  # end before start
        ("bytes=-", 1000),
        ("bytes=abc-def", 1000),
        ("bytes=1-2-3", 1000),
        ("bytes=+1-2", 1000),
        ("bytes=0x10-20", 1000),
        ("bytes", 1000),
        ("0-100", 1000),
    ],
)
def test_unsatisfiable_or_malformed_ranges_are_416(header: str, size: int) -> None:
    result = parse_range(header, size)
    assert isinstance(result, RangeNotSatisfiable)
    assert result.content_range == f"bytes */{size}"
    assert result.reason


@pytest.mark.parametrize("header", [None, "", "   ", "items=0-10", "bytes=0-10,20-30"])
def test_no_header_other_units_and_multiple_ranges_serve_the_whole_file(header: str | None) -> None:
    assert parse_range(header, 1000) is None
