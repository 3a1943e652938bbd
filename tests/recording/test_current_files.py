"""An attempt's recording is shown where it is now: the FLAC after compression, nothing after deletion,
in ``dialer attempts`` (table and JSON); the console's link is tested in tests/web/test_recordings.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.recording.compress import SoxFlacCompressor
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.recordings import RecordingStore
from tests.conftest import START, write_config
from tests.recording.conftest import FinishedCall, write_wav


async def test_current_files_follow_the_registry(
    store: RecordingStore, attempts: AttemptStore, settings: Settings, clock: VirtualClock,
    finished_call: FinishedCall, rec_root: Path,
) -> None:  # fmt: skip
    registry = RecordingRegistry(
        store=store, attempts=attempts, settings=settings, clock=clock, compressor=SoxFlacCompressor()
    )
    compressed = await finished_call("squeezed", seconds=1.0)
    waiting = await finished_call("waiting", seconds=1.0)  # ended, not registered yet
    empty = await finished_call("silent", seconds=None)  # MixMonitor wrote nothing
    purged = await finished_call("purged", seconds=1.0)
    for attempt in (compressed, purged):
        assert await registry.register_finished(attempt) is not None
    gone = await store.get_by_call("purged")
    assert gone is not None
    await registry.delete(gone.id, actor="root", reason="test")
    day = rec_root / "2026/11/29"
    files = await registry.current_files([compressed, waiting, empty, purged])
    assert files == {
        "squeezed": day / "squeezed.flac",
        "waiting": day / "waiting.wav",
        "silent": None,
        "purged": None,
    }
    assert all(path is None or path.is_file() for path in files.values())


def _seed_compressed(tmp_path: Path) -> None:
    """One recorded call, registered and compressed to FLAC (the WAV is gone)."""

    async def run() -> None:
        clock = VirtualClock(START)
        settings = Settings(recording=RecordingSettings(dir=str(tmp_path / "recordings"), compress="flac"))
        async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
            attempts = AttemptStore(db)
            registry = RecordingRegistry(store=RecordingStore(db), attempts=attempts, settings=settings, clock=clock,
                                         compressor=SoxFlacCompressor())  # fmt: skip
            wav = write_wav(registry.root / "2026/11/29/c1.wav", 1.0)
            await attempts.create(call_id="c1", direction=Direction.OUTBOUND, number="+8613800138000",
                                  created_at=START, agent="agent1")  # fmt: skip
            await attempts.update_progress("c1", state=CallState.CONNECTED, connected_at=START)
            await attempts.finish("c1", outcome=Outcome.ANSWERED, ended_at=START, recording=str(wav))
            attempt = await attempts.get("c1")
            assert attempt is not None
            assert await registry.register_finished(attempt) is not None
            assert not wav.exists()

    asyncio.run(run())


def test_dialer_attempts_names_the_flac_after_compression(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _seed_compressed(tmp_path)
    capsys.readouterr()
    cfg = str(write_config(tmp_path))
    flac = (tmp_path / "recordings/2026/11/29/c1.flac").resolve()
    assert main(["--config", cfg, "attempts"]) == 0
    out = capsys.readouterr().out
    assert str(flac) in out and "c1.wav" not in out
    assert main(["--config", cfg, "attempts", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["recording"] == str(flac)
