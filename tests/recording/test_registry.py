"""register_finished, compression, reconcile, retention and deletion against a real store and real files."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.calls.attempts import Attempt
from dialer.domain.recording.errors import CompressionFailed, RecordingNotFound
from dialer.domain.recording.model import AudioFormat, AuditAction
from dialer.recording.compress import SoxFlacCompressor
from dialer.recording.registry import RecordingRegistry, compressor_for
from dialer.settings import ConfigError, RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.recordings import RecordingStore
from tests.conftest import START
from tests.recording.conftest import FinishedCall, asterisk_while_recording, write_wav


async def test_register_finished_writes_the_row_and_the_audit(registry: RecordingRegistry, store: RecordingStore,
                                                             finished_call: FinishedCall, rec_root: Path) -> None:  # fmt: skip
    attempt = await finished_call("call1", seconds=3.0)
    rec = await registry.register_finished(attempt)
    assert rec is not None
    wav = rec_root / "2026/11/29/call1.wav"
    assert rec.path == "2026/11/29/call1.wav"
    assert rec.duration_s == 3.0
    assert rec.size_bytes == wav.stat().st_size
    assert rec.sha256 == rec.wav_sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert (rec.agent, rec.lead_id, rec.campaign_id, rec.number) == ("agent1", 7, 3, "+8613800138000")
    assert rec.started_at == START and rec.format is AudioFormat.WAV
    trail = await store.audit_trail(rec.id)
    assert [e.action for e in trail] == [AuditAction.REGISTERED]
    assert trail[0].detail["sha256"] == rec.sha256


async def test_registering_twice_returns_the_same_row(registry: RecordingRegistry, finished_call: FinishedCall) -> None:
    attempt = await finished_call("call1")
    first = await registry.register_finished(attempt)
    again = await registry.register_finished(attempt)
    assert first is not None and again is not None and first.id == again.id


async def test_calls_without_a_usable_recording_get_no_row(registry: RecordingRegistry, store: RecordingStore,
                                                          finished_call: FinishedCall, rec_root: Path, tmp_path: Path) -> None:  # fmt: skip
    assert await registry.register_finished(await finished_call("none", recording=None)) is None
    # MixMonitor only writes while bridged: the agent never answered, no file.
    assert await registry.register_finished(await finished_call("nofile", seconds=None)) is None
    outside = write_wav(tmp_path / "elsewhere" / "x.wav", 1)
    attempt = await finished_call("outside", recording=str(outside))
    with capture_logs() as logs:
        assert await registry.register_finished(attempt) is None
    assert [e["event"] for e in logs] == ["recording.outside_folder"]
    assert await store.search(agent="agent1") == []


async def test_an_empty_recording_is_removed(
    registry: RecordingRegistry, finished_call: FinishedCall, rec_root: Path
) -> None:
    attempt = await finished_call("empty", seconds=0)
    assert await registry.register_finished(attempt) is None
    assert not (rec_root / "2026/11/29/empty.wav").exists()


async def test_a_broken_file_is_kept_for_reconcile_and_logged(registry: RecordingRegistry, finished_call: FinishedCall,
                                                             rec_root: Path) -> None:  # fmt: skip
    attempt = await finished_call("broken", seconds=1)
    path = rec_root / "2026/11/29/broken.wav"
    path.write_bytes(b"garbage")
    with capture_logs() as logs:
        assert await registry.register_finished(attempt) is None
    assert path.exists() and [e["event"] for e in logs] == ["recording.bad_file"]
    report = await registry.reconcile()
    assert report.orphan_files == ("2026/11/29/broken.wav",)


class _Settling:
    """The registry's sleep on the test clock; ``whole`` (if set) is written once ``after`` waits passed."""

    def __init__(self, clock: VirtualClock, path: Path, whole: bytes | None = None, after: int = 0) -> None:
        self.clock, self.path, self.whole, self.after = clock, path, whole, after
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        if self.whole is not None and len(self.waits) == self.after:
            self.path.write_bytes(self.whole)


async def _unclosed(finished_call: FinishedCall, rec_root: Path, clock: VirtualClock, call_id: str,
                    seconds: float) -> tuple[Attempt, Path, bytes]:  # fmt: skip
    """A finished call whose WAV MixMonitor has not closed (audio written, header sizes still zero), its
    file, and the bytes the file has once closed."""
    attempt = await finished_call(call_id, seconds=seconds)
    wav = rec_root / f"{clock.now():%Y/%m/%d}/{call_id}.wav"
    whole = wav.read_bytes()
    asterisk_while_recording(wav, whole[44:])
    return attempt, wav, whole


async def test_a_wav_the_pbx_closes_after_the_hangup_is_registered_whole(
    store: RecordingStore, attempts: AttemptStore, settings: Settings, clock: VirtualClock,
    finished_call: FinishedCall, rec_root: Path,
) -> None:  # fmt: skip
    attempt, wav, whole = await _unclosed(finished_call, rec_root, clock, "late", 2.0)
    settling = _Settling(clock, wav, whole, after=3)
    registry = RecordingRegistry(store=store, attempts=attempts, settings=settings, clock=clock, sleep=settling)
    rec = await registry.register_finished(attempt)
    assert rec is not None and rec.duration_s == 2.0
    assert rec.sha256 == hashlib.sha256(whole).hexdigest()
    assert settling.waits == [0.05, 0.1, 0.2]


async def test_a_wav_never_finished_is_kept_and_logged_after_settle_s(
    store: RecordingStore, attempts: AttemptStore, settings: Settings, clock: VirtualClock,
    finished_call: FinishedCall, rec_root: Path,
) -> None:  # fmt: skip
    attempt, wav, whole = await _unclosed(finished_call, rec_root, clock, "cut", 1.0)
    cut = wav.read_bytes()
    settling = _Settling(clock, wav)
    registry = RecordingRegistry(store=store, attempts=attempts, settings=settings, clock=clock, sleep=settling)
    with capture_logs() as logs:
        assert await registry.register_finished(attempt) is None
    assert [(e["event"], e["waited_s"]) for e in logs] == [("recording.unfinished", 10.0)]
    assert sum(settling.waits) == pytest.approx(10.0) and max(settling.waits) == 1.0
    assert wav.read_bytes() == cut, "an unfinished file is never removed, even with an empty-looking header"
    # reconcile looks once, without waiting: the call ended long ago
    settling.waits.clear()
    report = await registry.reconcile(fix=True)
    assert report.orphan_files == (f"{clock.now():%Y/%m/%d}/cut.wav",) and settling.waits == []
    wav.write_bytes(whole)  # repaired by a person (or a late close): adopted
    adopted = (await registry.reconcile(fix=True)).adopted
    assert [r.call_id for r in adopted] == ["cut"] and adopted[0].duration_s == 1.0


async def test_settle_s_zero_looks_once(
    store: RecordingStore, attempts: AttemptStore, settings: Settings, clock: VirtualClock,
    finished_call: FinishedCall, rec_root: Path,
) -> None:  # fmt: skip
    attempt, wav, _whole = await _unclosed(finished_call, rec_root, clock, "once", 1.0)
    settling = _Settling(clock, wav)
    quick = replace(settings, recording=replace(settings.recording, settle_s=0))
    registry = RecordingRegistry(store=store, attempts=attempts, settings=quick, clock=clock, sleep=settling)
    assert await registry.register_finished(attempt) is None and settling.waits == [] and wav.exists()


def _decoded_pcm(flac: Path) -> bytes:
    return subprocess.run(["sox", str(flac), "-t", "s16", "-L", "-"], check=True, capture_output=True).stdout


async def test_flac_compression_is_lossless_and_audited(store: RecordingStore, attempts: AttemptStore,
                                                       settings: Settings, clock: VirtualClock, finished_call: FinishedCall,
                                                       rec_root: Path) -> None:  # fmt: skip
    registry = RecordingRegistry(
        store=store, attempts=attempts, settings=settings, clock=clock, compressor=SoxFlacCompressor()
    )
    attempt = await finished_call("flac1", seconds=2.0)
    wav = rec_root / "2026/11/29/flac1.wav"
    with wave.open(str(wav), "rb") as w:
        samples = w.readframes(w.getnframes())
    wav_digest = hashlib.sha256(wav.read_bytes()).hexdigest()
    rec = await registry.register_finished(attempt)
    assert rec is not None and rec.format is AudioFormat.FLAC and rec.path == "2026/11/29/flac1.flac"
    flac = rec_root / rec.path
    assert not wav.exists() and flac.exists()
    assert rec.wav_sha256 == wav_digest and rec.sha256 == hashlib.sha256(flac.read_bytes()).hexdigest()
    assert rec.size_bytes == flac.stat().st_size < len(samples)
    assert _decoded_pcm(flac) == samples
    assert rec.duration_s == 2.0
    trail = await store.audit_trail(rec.id)
    assert [e.action for e in trail] == [AuditAction.COMPRESSED, AuditAction.REGISTERED]
    assert trail[0].detail["from_sha256"] == wav_digest
    assert (await registry.reconcile()).clean


class BrokenCompressor:
    format = AudioFormat.FLAC

    async def compress(self, wav: Path) -> Path:
        raise CompressionFailed("sox is not installed")


async def test_a_failed_compression_keeps_the_wav(store: RecordingStore, attempts: AttemptStore, settings: Settings,
                                                 clock: VirtualClock, finished_call: FinishedCall, rec_root: Path) -> None:  # fmt: skip
    registry = RecordingRegistry(
        store=store, attempts=attempts, settings=settings, clock=clock, compressor=BrokenCompressor()
    )
    with capture_logs() as logs:
        rec = await registry.register_finished(await finished_call("keep"))
    assert rec is not None and rec.format is AudioFormat.WAV and (rec_root / rec.path).exists()
    assert any(e["event"] == "recording.compress_failed" and e["log_level"] == "error" for e in logs)


async def test_sox_missing_is_a_compression_failure(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", 0.2)
    with pytest.raises(CompressionFailed, match="cannot run"):
        await SoxFlacCompressor(sox=str(tmp_path / "no-sox")).compress(wav)
    assert wav.exists() and not (tmp_path / "a.flac").exists()


def test_compressor_follows_the_setting() -> None:
    assert isinstance(compressor_for(RecordingSettings(compress="flac")), SoxFlacCompressor)
    assert compressor_for(RecordingSettings(compress="none")) is None


async def test_reconcile_finds_orphans_missing_and_live_calls(registry: RecordingRegistry, store: RecordingStore,
                                                             finished_call: FinishedCall, rec_root: Path) -> None:  # fmt: skip
    kept = await registry.register_finished(await finished_call("kept"))
    gone = await registry.register_finished(await finished_call("gone"))
    assert kept is not None and gone is not None
    (rec_root / gone.path).unlink()
    await finished_call("unregistered")  # ended, file written, register_finished never ran (crash)
    await finished_call("live", finish=False)  # MixMonitor still writing
    write_wav(rec_root / "2026/11/28/stranger.wav", 1)  # no attempt at all

    report = await registry.reconcile()
    assert report.orphan_files == ("2026/11/28/stranger.wav", "2026/11/29/unregistered.wav")
    assert report.in_progress == ("2026/11/29/live.wav",)
    assert [r.id for r in report.missing] == [gone.id]
    assert not report.clean and not report.adopted

    fixed = await registry.reconcile(fix=True)
    assert [r.call_id for r in fixed.adopted] == ["unregistered"]
    assert fixed.orphan_files == ("2026/11/28/stranger.wav",)
    stamped = await store.get(gone.id)
    assert stamped is not None and stamped.deleted and "missing" in (stamped.delete_reason or "")
    assert (await store.audit_trail(gone.id))[0].action is AuditAction.MISSING

    after = await registry.reconcile()
    assert after.orphan_files == ("2026/11/28/stranger.wav",) and not after.missing


async def test_reconcile_removes_a_wav_superseded_by_its_verified_copy(registry: RecordingRegistry, store: RecordingStore,
                                                                      finished_call: FinishedCall, rec_root: Path,
                                                                      clock: VirtualClock) -> None:  # fmt: skip
    """A crash after the row moved to the FLAC but before the WAV was deleted leaves the WAV behind."""
    rec = await registry.register_finished(await finished_call("crash"))
    assert rec is not None
    wav = rec_root / rec.path
    flac = await SoxFlacCompressor().compress(wav)
    await store.replace_file(rec.id, path="2026/11/29/crash.flac", format=AudioFormat.FLAC, size_bytes=flac.stat().st_size,
                             sha256=hashlib.sha256(flac.read_bytes()).hexdigest(), at=clock.now(), actor="test")  # fmt: skip
    report = await registry.reconcile()
    assert report.superseded == ("2026/11/29/crash.wav",) and wav.exists()
    await registry.reconcile(fix=True)
    assert not wav.exists() and flac.exists()
    # A WAV with the same name but other content is not ours to delete.
    write_wav(wav, 1.0, tone_hz=1000)
    report = await registry.reconcile(fix=True)
    assert report.orphan_files == ("2026/11/29/crash.wav",) and wav.exists()


async def test_retention_deletes_only_expired_recordings_and_audits(registry: RecordingRegistry, store: RecordingStore,
                                                                   finished_call: FinishedCall, rec_root: Path,
                                                                   clock: VirtualClock) -> None:  # fmt: skip
    old = await registry.register_finished(await finished_call("old"))
    clock.advance(timedelta(days=100).total_seconds())
    young = await registry.register_finished(await finished_call("young"))
    assert old is not None and young is not None
    clock.advance(timedelta(days=81).total_seconds())  # old is 181 days old, young 81
    with capture_logs() as logs:
        deleted = await registry.purge_expired()
    assert [r.id for r in deleted] == [old.id]
    assert not (rec_root / old.path).exists() and (rec_root / young.path).exists()
    stamped = await store.get(old.id)
    assert (
        stamped is not None
        and stamped.deleted_at == clock.now()
        and stamped.delete_reason == "retention: older than 180 days"
    )
    entry = (await store.audit_trail(old.id))[0]
    assert (entry.action, entry.actor, entry.detail["sha256"]) == (AuditAction.DELETED, "retention", old.sha256)
    assert any(e["event"] == "recording.deleted" and e["recording_id"] == old.id for e in logs)
    assert await registry.purge_expired() == []
    # The row stays, as the record that the evidence existed and when it was destroyed.
    assert [r.id for r in await store.search(agent="agent1", include_deleted=True)] == [young.id, old.id]
    assert [r.id for r in await store.search(agent="agent1")] == [young.id]


async def test_retention_of_a_file_already_gone_still_stamps_the_row(registry: RecordingRegistry, store: RecordingStore,
                                                                    finished_call: FinishedCall, rec_root: Path,
                                                                    clock: VirtualClock) -> None:  # fmt: skip
    rec = await registry.register_finished(await finished_call("lost"))
    assert rec is not None
    (rec_root / rec.path).unlink()
    clock.advance(timedelta(days=181).total_seconds())
    assert [r.id for r in await registry.purge_expired()] == [rec.id]


async def test_retention_never_follows_a_symlink_out(registry: RecordingRegistry, store: RecordingStore,
                                                    finished_call: FinishedCall, rec_root: Path, clock: VirtualClock,
                                                    tmp_path: Path) -> None:  # fmt: skip
    rec = await registry.register_finished(await finished_call("evil"))
    assert rec is not None
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (rec_root / rec.path).unlink()
    (rec_root / rec.path).symlink_to(victim)
    clock.advance(timedelta(days=181).total_seconds())
    with capture_logs() as logs:
        assert await registry.purge_expired() == []
    assert victim.read_text() == "precious"
    assert any(e["event"] == "recording.delete_failed" for e in logs)
    still = await store.get(rec.id)
    assert still is not None and not still.deleted


async def test_manual_delete(registry: RecordingRegistry, finished_call: FinishedCall, rec_root: Path) -> None:
    rec = await registry.register_finished(await finished_call("complaint"))
    assert rec is not None
    done = await registry.delete(rec.id, actor="admin1", reason="customer asked (GDPR-like request)")
    assert done.deleted and done.delete_reason == "customer asked (GDPR-like request)"
    assert not (rec_root / rec.path).exists()
    with pytest.raises(RecordingNotFound):
        await registry.delete(999, actor="admin1", reason="x")


async def test_search_by_number_day_and_agent(registry: RecordingRegistry, store: RecordingStore, finished_call: FinishedCall,
                                             clock: VirtualClock) -> None:  # fmt: skip
    a = await registry.register_finished(await finished_call("a", number="+8613800138000", agent="agent1"))
    clock.advance(86400)
    b = await registry.register_finished(await finished_call("b", number="+8613900139000", agent="agent2"))
    c = await registry.register_finished(await finished_call("c", number="+8613800138000", agent="agent2"))
    assert a and b and c
    assert [r.id for r in await store.search(number="+8613800138000")] == [c.id, a.id]
    assert [r.id for r in await store.search(agent="agent2")] == [c.id, b.id]
    day2 = START + timedelta(days=1)
    assert [r.id for r in await store.search(since=day2, until=day2 + timedelta(days=1))] == [c.id, b.id]
    assert [r.id for r in await store.search(number="+8613800138000", agent="agent2", since=day2)] == [c.id]
    assert await store.search(number="+8613700137000") == []


@pytest.mark.parametrize("days", [0, 29, -5])
def test_retention_below_the_floor_is_a_config_error(tmp_path: Path, days: int) -> None:
    cfg = tmp_path / "dialer.toml"
    cfg.write_text(f"[recording]\nretention_days = {days}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"retention_days = .*at least 30"):
        load(cfg, env={})


def test_recording_settings_are_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "dialer.toml"
    cfg.write_text('[recording]\nretention_days = 30\ncompress = "zip"\ndisk_full_policy = "panic"\nmin_free_mb = 9000\nsettle_s = -1\n',
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load(cfg, env={})
    text = str(info.value)
    assert "compress = 'zip'" in text and "disk_full_policy = 'panic'" in text and "min_free_mb (9000)" in text
    assert "recording.settle_s = -1" in text
    ok = tmp_path / "ok.toml"
    ok.write_text("[recording]\nretention_days = 30\n", encoding="utf-8")
    assert load(ok, env={}).recording == replace(RecordingSettings(), retention_days=30)
