"""WAV header checks and checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dialer.domain.recording.errors import BadRecording, UnfinishedRecording
from dialer.domain.recording.media import inspect_wav, sha256_file
from tests.recording.conftest import asterisk_while_recording, write_wav


def test_duration_comes_from_the_header(tmp_path: Path) -> None:
    info = inspect_wav(write_wav(tmp_path / "a.wav", 2.5))
    assert info.frames == 20000
    assert info.duration_s == 2.5


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"rate": 16000}, "16000 Hz"), ({"channels": 2}, "2 channel"), ({"width": 1}, "8-bit")],
)
def test_a_wav_mixmonitor_would_not_write_is_refused(tmp_path: Path, kwargs: dict[str, int], reason: str) -> None:
    path = write_wav(tmp_path / "odd.wav", 0.5, **kwargs)
    with pytest.raises(BadRecording, match=reason):
        inspect_wav(path)


def test_not_a_wav_and_absent_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "x.wav"
    text.write_text("hello")
    with pytest.raises(BadRecording, match="not a readable WAV") as refused:
        inspect_wav(text)
    assert not isinstance(refused.value, UnfinishedRecording)
    with pytest.raises(BadRecording, match="cannot read"):
        inspect_wav(tmp_path / "absent.wav")


def test_a_file_still_being_written_is_unfinished_not_bad(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")  # the writer's buffer still holds even the header
    with pytest.raises(UnfinishedRecording, match="nothing written yet"):
        inspect_wav(empty)
    writing = asterisk_while_recording(tmp_path / "writing.wav", bytes(16000))
    with pytest.raises(UnfinishedRecording, match="header declares 8 bytes, the file has 16044"):
        inspect_wav(writing)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(write_wav(tmp_path / "full.wav", 1).read_bytes()[:20])
    with pytest.raises(UnfinishedRecording, match="declares 16044 bytes, the file has 20"):
        inspect_wav(cut)


def test_a_closed_file_padded_to_even_length_is_whole(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", 1)
    path.write_bytes(path.read_bytes() + b"\0")
    assert inspect_wav(path).frames == 8000


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", 1.0)
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
