"""Lossless compression of a finished recording: WAV -> FLAC with sox, verified before the WAV goes.

Why FLAC: it is lossless (a complaint's evidence keeps every sample), it is smaller than
PCM, and browsers play it, so the web console can stream it with Range
requests. Why verify: the WAV is deleted afterwards, so the FLAC is decoded again and
its samples must equal the WAV's, bit for bit, before that happens.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import wave
from pathlib import Path
from typing import Protocol

from dialer.domain.recording.errors import CompressionFailed
from dialer.domain.recording.model import AudioFormat

# Frames read from the WAV per step while hashing its samples.
_FRAMES_PER_READ = 1 << 16
_STREAM_CHUNK_BYTES = 1 << 16


class Compressor(Protocol):
    """Writes a smaller, verified copy of a finished WAV next to it and returns its path.

    The WAV is left in place: the registry deletes it only once the row points at the copy,
    so a crash in between leaves a spare file (reconcile removes it), never a row without a file.
    """

    format: AudioFormat

    async def compress(self, wav: Path) -> Path:
        """Write the copy and return its path; :class:`CompressionFailed` leaves nothing behind."""
        ...


class SoxFlacCompressor:
    """FLAC through the ``sox`` command (installed with the lab; see scripts/bootstrap.sh)."""

    format = AudioFormat.FLAC

    def __init__(self, sox: str = "sox") -> None:
        self._sox = sox

    async def compress(self, wav: Path) -> Path:
        """Write ``<name>.flac`` and check its samples equal the WAV's.

        On any failure no FLAC is left behind and :class:`CompressionFailed` says why.
        """
        target = wav.with_suffix(".flac")
        partial = wav.with_suffix(".flac.part")
        try:
            await self._run(str(wav), "-t", "flac", str(partial))
            decoded_digest = await self._run(str(partial), "-t", "s16", "-L", "-")
            if decoded_digest != _pcm_digest(wav):
                raise CompressionFailed(f"{partial}: decoded FLAC differs from {wav}")
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    async def _run(self, *args: str) -> bytes:
        """Run sox; returns the SHA-256 of what it wrote to stdout (hashed as it streams, never held whole)."""
        try:
            proc = await asyncio.create_subprocess_exec(
                self._sox, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            raise CompressionFailed(f"cannot run {self._sox!r}: {exc.strerror}") from None
        assert proc.stdout is not None and proc.stderr is not None  # both piped above
        digest = hashlib.sha256()
        errors = asyncio.ensure_future(proc.stderr.read())
        try:
            while chunk := await proc.stdout.read(_STREAM_CHUNK_BYTES):
                digest.update(chunk)
            err = await errors
            await proc.wait()
        except BaseException:
            # Cancelled (shutdown): do not leave a sox running with our half-written file.
            errors.cancel()
            if proc.returncode is None:
                proc.kill()
            # Reap it and drain its pipes now: a transport left open is closed by the garbage
            # collector later, after the loop is gone ("Event loop is closed" at service shutdown).
            await proc.communicate()
            raise
        if proc.returncode != 0:
            raise CompressionFailed(
                f"sox {' '.join(args)} failed ({proc.returncode}): {err.decode(errors='replace').strip()}"
            )
        return digest.digest()


def _pcm_digest(wav: Path) -> bytes:
    """SHA-256 of the WAV's samples: little-endian 16-bit, what ``sox -t s16 -L`` decodes to."""
    digest = hashlib.sha256()
    with wave.open(str(wav), "rb") as w:
        while frames := w.readframes(_FRAMES_PER_READ):
            digest.update(frames)
    return digest.digest()
