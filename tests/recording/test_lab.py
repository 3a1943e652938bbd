"""A real MixMonitor WAV from the lab: registered, measured, compressed losslessly."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path

import pytest

from dialer.clock import SystemClock
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.recording.model import AudioFormat
from dialer.recording.compress import SoxFlacCompressor
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.recordings import RecordingStore
from tests.lab.conftest import ami, recordings  # noqa: F401  (the lab fixtures this test shares)
from tests.lab.contract import place_call
from tests.lab.rawami import RawAmi

pytestmark = pytest.mark.asterisk

ANSWER_6S = "13800000001"  # asterisk/sipp/customers.csv: answers and talks for about 6 s


async def test_a_lab_recording_is_registered_and_compressed(ami: RawAmi, recordings: Path, tmp_path: Path) -> None:  # noqa: F811 - ami and recordings are the lab fixtures imported above
    obs = await place_call(ami, ANSWER_6S, recordings=recordings, agent="agent3")
    assert obs.agent_dialstatus == "ANSWER" and obs.recording
    wav = Path(obs.recording)
    with wave.open(str(wav), "rb") as w:
        samples = w.readframes(w.getnframes())
    clock = SystemClock()
    settings = Settings(recording=RecordingSettings(dir=str(recordings)))
    flac: Path | None = None
    try:
        async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
            attempts = AttemptStore(db)
            now = clock.now()
            await attempts.create(
                call_id=obs.call_id,
                direction=Direction.OUTBOUND,
                number="+8613800000001",
                created_at=now,
                agent="agent3",
            )
            await attempts.update_progress(obs.call_id, state=CallState.CONNECTED, connected_at=now)
            await attempts.finish(obs.call_id, outcome=Outcome.ANSWERED, ended_at=now, recording=obs.recording)
            attempt = await attempts.get(obs.call_id)
            assert attempt is not None
            registry = RecordingRegistry(store=RecordingStore(db), attempts=attempts, settings=settings, clock=clock,
                                         compressor=SoxFlacCompressor())  # fmt: skip
            rec = await registry.register_finished(attempt)
            assert rec is not None
            flac = registry.root / rec.path
            assert rec.format is AudioFormat.FLAC and not wav.exists()  # noqa: ASYNC240 - one stat of a local file
            # The agent was connected for a few seconds of the customer's 6 s of talk.
            assert 1.0 < rec.duration_s < 10.0
            assert rec.duration_s == round(len(samples) / 2 / 8000, 3)
            decoded = (
                await asyncio.to_thread(
                    subprocess.run, ["sox", str(flac), "-t", "s16", "-L", "-"], check=True, capture_output=True
                )
            ).stdout
            assert decoded == samples
            assert rec.size_bytes == flac.stat().st_size < len(samples)
    finally:
        wav.unlink(missing_ok=True)  # noqa: ASYNC240 - test cleanup of a local file
        if flac is not None:
            flac.unlink(missing_ok=True)
