"""Backups of a live store while it is written, verified, restored into a fresh folder and compared."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.backup.files import POOL
from dialer.backup.service import RECORDINGS, BackupService, restore, verify
from dialer.clock import VirtualClock
from dialer.domain.backup.manifest import MANIFEST_NAME, STORE_NAME, BackupError, Manifest, RecordingsMode
from dialer.domain.calls.outcome import Direction
from dialer.settings import Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from tests.backup.conftest import settings_for
from tests.conftest import START
from tests.recording.test_cli import seed

WAVS = ["2026/11/29/c1.wav", "2026/11/29/c2.wav", "2026/11/30/c3.wav"]


async def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    async with await Database.open(path) as db, db.read() as r:
        return [tuple(row) for row in await r.fetchall(sql)]


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    seed(tmp_path)
    return settings_for(tmp_path)


async def test_a_backup_taken_while_a_writer_commits_is_one_consistent_state(seeded: Settings, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        attempts = AttemptStore(db)
        stop, going = asyncio.Event(), asyncio.Event()
        pairs = 0

        async def writer() -> None:
            # Every transaction adds two attempts: a copy that caught half of one would hold an odd number.
            nonlocal pairs
            while not stop.is_set():
                async with db.write():
                    for side in ("a", "b"):
                        await attempts.create(call_id=f"w{pairs}{side}", direction=Direction.OUTBOUND,
                                              number="+8613800138000", created_at=START)  # fmt: skip
                pairs += 1
                if pairs == 20:
                    going.set()
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        await going.wait()  # the writer is well under way before the backup starts
        made = await BackupService(db, seeded, clock).create()
        before_stop = pairs
        stop.set()
        await task
    copied = made.manifest.store.tables["attempts"]
    seeded_calls = 3
    assert (copied - seeded_calls) % 2 == 0 and copied - seeded_calls >= 40
    assert before_stop > 20  # the writer went on committing while the copy was made
    assert made.folder.name == "20261129-090000" and (await verify(made.folder)).problems == ()
    # The store file is one self-contained file: no WAL beside it.
    assert sorted(p.name for p in made.folder.iterdir()) == [STORE_NAME, MANIFEST_NAME, RECORDINGS]
    assert made.folder.stat().st_mode & 0o077 == 0  # personal data: only the dialer's user may read it


async def test_restore_into_a_fresh_folder_gives_back_the_same_rows_and_audio(seeded: Settings, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, seeded, clock).create()
    m = made.manifest
    assert [e.path for e in m.recordings] == WAVS and m.missing == ()
    assert m.recordings_mode is RecordingsMode.COPY and m.store.tables["recordings"] == 3
    assert m.store.schema_version >= 90

    fresh = tmp_path / "fresh"
    done = await restore(made.folder, fresh / "dialer.sqlite3", fresh / "recordings")
    assert (done.files, done.unchanged) == (3, 0)
    for wav in WAVS:
        assert (fresh / "recordings" / wav).read_bytes() == (tmp_path / "recordings" / wav).read_bytes()
    query = "SELECT call_id, number, agent, direction FROM attempts ORDER BY call_id"
    assert await rows(fresh / "dialer.sqlite3", query) == await rows(tmp_path / "store.sqlite3", query)
    query = "SELECT call_id, path, sha256, size_bytes FROM recordings ORDER BY id"
    restored = await rows(fresh / "dialer.sqlite3", query)
    assert [r[1] for r in restored] == WAVS
    assert restored == await rows(tmp_path / "store.sqlite3", query)
    # The restored store opens as a live one (WAL again), and counts as the manifest says.
    again = await verify(made.folder)
    assert again.manifest is not None and again.manifest.store.tables == m.store.tables
    counts = await rows(fresh / "dialer.sqlite3", "SELECT COUNT(*) FROM leads")
    assert counts == [(m.store.tables["leads"],)]


async def test_a_tampered_recording_or_store_is_refused_naming_the_file(seeded: Settings, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, seeded, clock).create()
    wav = made.folder / RECORDINGS / WAVS[1]
    data = bytearray(wav.read_bytes())
    data[100] ^= 0xFF
    os.unlink(wav)  # a new file: the pool's copy (and other backups' links) stay intact
    wav.write_bytes(bytes(data))
    problems = (await verify(made.folder)).problems
    assert len(problems) == 1 and str(wav) in problems[0] and "does not match" in problems[0]
    fresh = tmp_path / "fresh"
    with pytest.raises(BackupError, match=rf"nothing restored: recording {wav}"):
        await restore(made.folder, fresh / "dialer.sqlite3", fresh / "recordings")
    assert not fresh.exists()  # refused before writing anything

    store = made.folder / STORE_NAME
    with store.open("r+b") as f:
        f.seek(200)
        f.write(b"\x00garbage")
    problems = (await verify(made.folder)).problems
    assert any(str(store) in p and "SHA-256" in p for p in problems)


async def test_a_manifest_pointing_outside_is_refused(seeded: Settings, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, seeded, clock).create()
    manifest = made.folder / MANIFEST_NAME
    manifest.write_text(manifest.read_text().replace(WAVS[0], "../../../evil.wav"))
    with pytest.raises(BackupError, match=re.escape("unsafe recording path '../../../evil.wav'")):
        await restore(made.folder, tmp_path / "fresh" / "s.sqlite3", tmp_path / "fresh" / "r")
    assert not (tmp_path / "evil.wav").exists()


async def test_restore_never_replaces_a_store_or_a_different_recording_without_force(
    seeded: Settings, tmp_path: Path
) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, seeded, clock).create()
    store, recordings = tmp_path / "store.sqlite3", tmp_path / "recordings"
    with pytest.raises(BackupError, match=rf"{store} exists: .* without --force"):
        await restore(made.folder, store, recordings)
    other = tmp_path / "other"
    (other / "recordings" / "2026/11/29").mkdir(parents=True)
    (other / "recordings" / WAVS[0]).write_bytes(b"another call")
    with pytest.raises(BackupError, match=re.escape("c1.wav exists and differs")):
        await restore(made.folder, other / "s.sqlite3", other / "recordings")
    assert not (other / "s.sqlite3").exists()

    # With --force: the live store gets the backup's content back (a call added since is gone).
    async with await Database.open(store, clock=clock) as db:
        await AttemptStore(db).create(
            call_id="later", direction=Direction.OUTBOUND, number="+8613800138000", created_at=START
        )
    (recordings / WAVS[2]).unlink()
    done = await restore(made.folder, store, recordings, force=True)
    assert (done.files, done.unchanged) == (1, 2)
    assert await rows(store, "SELECT COUNT(*) FROM attempts WHERE call_id = 'later'") == [(0,)]
    assert (recordings / WAVS[2]).is_file()


async def test_retention_keeps_n_and_unchanged_audio_is_stored_once(seeded: Settings, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, keep=2)
    clock = VirtualClock(START)
    made = []
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        service = BackupService(db, settings, clock)
        for _ in range(3):
            made.append(await service.create())
            clock.advance(timedelta(days=1).total_seconds())
    backups = tmp_path / "backups"
    assert sorted(p.name for p in backups.iterdir() if not p.name.startswith(".")) == [
        "20261130-090000",
        "20261201-090000",
    ]
    assert made[2].removed == ("20261129-090000",)
    pool = [p for p in (backups / POOL).glob("*/*") if p.parent.name != "incoming"]
    # The seed's three WAVs hold the same tone: one pool file, linked by the pool and by three
    # mirrored names in each of the two kept backups; the removed backup's links are gone.
    assert len(pool) == 1 and pool[0].stat().st_nlink == 1 + 3 * 2
    for folder in (m.folder for m in made[1:]):
        assert (await verify(folder)).problems == ()


async def test_list_mode_only_lists_and_a_missing_file_is_noted(seeded: Settings, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, recordings="list")
    (tmp_path / "recordings" / WAVS[0]).unlink()
    clock = VirtualClock(START)
    progress: list[tuple[int, int]] = []
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, settings, clock).create(
            progress=lambda done, total: progress.append((done, total))
        )
    assert progress == [(1, 3), (2, 3), (3, 3)]
    m = Manifest.from_json((made.folder / MANIFEST_NAME).read_text(), "m")
    assert m.missing == (WAVS[0],) and [e.path for e in m.recordings] == WAVS[1:]
    assert not (made.folder / RECORDINGS).exists()
    fresh = tmp_path / "fresh"
    done = await restore(made.folder, fresh / "s.sqlite3", fresh / "recordings")
    assert done.files == 0 and not done.recordings_copied and (fresh / "s.sqlite3").is_file()


async def test_a_restore_cut_short_leaves_no_store_so_it_can_simply_run_again(seeded: Settings, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        made = await BackupService(db, seeded, clock).create()
    fresh = tmp_path / "fresh"
    (fresh / "recordings" / WAVS[2]).mkdir(parents=True)  # in the way: no file can be written there
    with pytest.raises(IsADirectoryError):
        await restore(made.folder, fresh / "s.sqlite3", fresh / "recordings", force=True)
    assert not (fresh / "s.sqlite3").exists()
    (fresh / "recordings" / WAVS[2]).rmdir()
    done = await restore(made.folder, fresh / "s.sqlite3", fresh / "recordings")
    assert (done.files, done.unchanged) == (1, 2) and (fresh / "s.sqlite3").is_file()
