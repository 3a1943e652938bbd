"""Fixtures for the recording tests, on the suite's clock and store: a recordings folder under tmp, WAVs written with ``wave``."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.recordings import RecordingStore


def write_wav(
    path: Path, seconds: float, *, rate: int = 8000, width: int = 2, channels: int = 1, tone_hz: float = 440.0
) -> Path:
    """A WAV like MixMonitor's (by default): a tone, so compression has real samples to keep."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            samples = (int(8000 * math.sin(2 * math.pi * tone_hz * n / rate)) for n in range(frames))
            w.writeframes(b"".join(struct.pack("<h", s) * channels for s in samples))
        else:
            w.writeframes(b"\x80" * frames * channels * width)
    return path


def asterisk_while_recording(path: Path, data: bytes) -> Path:
    """A WAV as Asterisk's format_wav leaves it until it closes the file: its sizes still zero."""
    header = bytearray(write_wav(path, 0).read_bytes())
    header[4:8] = header[40:44] = bytes(4)
    path.write_bytes(bytes(header) + data)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(base_dir=str(tmp_path), recording=RecordingSettings(dir="recordings", compress="none"))


@pytest.fixture
def rec_root(settings: Settings) -> Path:
    root = settings.path(settings.recording.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def attempts(db: Database) -> AttemptStore:
    return AttemptStore(db)


@pytest.fixture
def store(db: Database) -> RecordingStore:
    return RecordingStore(db)


@pytest.fixture
def registry(
    store: RecordingStore, attempts: AttemptStore, settings: Settings, clock: VirtualClock
) -> RecordingRegistry:
    return RecordingRegistry(store=store, attempts=attempts, settings=settings, clock=clock)


FinishedCall = Callable[..., Awaitable[Attempt]]


@pytest.fixture
def finished_call(attempts: AttemptStore, rec_root: Path, clock: VirtualClock) -> FinishedCall:
    """Record an attempt that ended with a recording path (as the call service does); optionally write its WAV."""

    async def make(
        call_id: str,
        *,
        seconds: float | None = 3.0,
        number: str = "+8613800138000",
        agent: str = "agent1",
        recording: str | None = "",
        finish: bool = True,
    ) -> Attempt:
        day = clock.now()
        path = rec_root / f"{day:%Y/%m/%d}" / f"{call_id}.wav"
        if seconds is not None:
            write_wav(path, seconds)
        await attempts.create(call_id=call_id, direction=Direction.OUTBOUND, number=number, created_at=day,
                              lead_id=7, campaign_id=3, agent=agent)  # fmt: skip
        await attempts.update_progress(call_id, state=CallState.CONNECTED, connected_at=day)
        if finish:
            await attempts.finish(call_id, outcome=Outcome.ANSWERED, ended_at=day,
                                  recording=str(path) if recording == "" else recording)  # fmt: skip
        found = await attempts.get(call_id)
        assert found is not None
        return found

    return make
