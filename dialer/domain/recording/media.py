"""What a recording file holds: its WAV header's duration, and a checksum of its bytes.

MixMonitor's ``.wav`` is 8 kHz, 16-bit, mono PCM (docs/asterisk-facts.md); anything
else under the recordings folder was not written by our dialplan and is refused.

Asterisk writes the header with zero sizes when it opens the file and fills them in when it closes it
(its stdio buffer may hold even the header until then), so a file that is empty, or whose RIFF size
does not match its length, is :class:`UnfinishedRecording`: still being written, or cut short.
"""

from __future__ import annotations

import hashlib
import os
import wave
from dataclasses import dataclass
from pathlib import Path

from dialer.domain.recording.errors import BadRecording, UnfinishedRecording

# What app_mixmonitor writes for a .wav file name.
EXPECTED_RATE_HZ = 8000
EXPECTED_SAMPLE_BYTES = 2
EXPECTED_CHANNELS = 1
# "RIFF", then the size of everything after these 8 bytes (little-endian).
_RIFF_MAGIC = b"RIFF"
_RIFF_HEAD_BYTES = 8
# Read files in pieces of this size: a long call's WAV never sits in memory whole.
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class WavInfo:
    """The facts of a WAV header that the registry keeps."""

    frames: int
    rate_hz: int

    @property
    def duration_s(self) -> float:
        """Seconds of audio: what the registry and workload analysis use."""
        return self.frames / self.rate_hz


def inspect_wav(path: Path) -> WavInfo:
    """Read ``path``'s WAV header; :class:`BadRecording` unless it is 8 kHz 16-bit mono PCM, and
    :class:`UnfinishedRecording` while its header does not account for its bytes."""
    try:
        _check_finished(path)
        with wave.open(str(path), "rb") as wav:
            rate, width, channels, frames = wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.getnframes()
    except (wave.Error, EOFError) as exc:
        raise BadRecording(str(path), f"not a readable WAV file ({exc or 'truncated header'})") from None
    except OSError as exc:
        raise BadRecording(str(path), f"cannot read: {exc.strerror}") from None
    if (rate, width, channels) != (EXPECTED_RATE_HZ, EXPECTED_SAMPLE_BYTES, EXPECTED_CHANNELS):
        raise BadRecording(
            str(path),
            f"expected {EXPECTED_RATE_HZ} Hz {EXPECTED_SAMPLE_BYTES * 8}-bit mono, got {rate} Hz {width * 8}-bit {channels} channel(s)",
        )
    return WavInfo(frames=frames, rate_hz=rate)


def _check_finished(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(_RIFF_HEAD_BYTES)
        size = os.fstat(f.fileno()).st_size
    if size == 0:
        raise UnfinishedRecording(str(path), "empty: nothing written yet")
    if len(head) < _RIFF_HEAD_BYTES or not head.startswith(_RIFF_MAGIC):
        return  # not a WAV at all: wave says so
    declared = _RIFF_HEAD_BYTES + int.from_bytes(head[4:], "little")
    # The writer pads an odd data chunk with one byte after filling in the sizes.
    if size not in (declared, declared + 1):
        raise UnfinishedRecording(str(path), f"header declares {declared} bytes, the file has {size}")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes: the evidence checksum the registry stores."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise BadRecording(str(path), f"cannot read: {exc.strerror}") from None
    return digest.hexdigest()
