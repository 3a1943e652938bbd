"""Making, verifying and restoring backups (docs/backup.md).

A backup is made in a hidden ``.<name>.partial`` folder, verified there (every checksum, and the
store copy opens and passes ``PRAGMA integrity_check``), and only then renamed to its final name;
old backups beyond ``[backup] keep`` are removed only after that. So a crash or a full disk leaves
the previous backups as they were, and a folder with a backup's name is always a verified one.

Restoring verifies the whole folder first and refuses (naming the file) on any mismatch, before
writing anything; it never replaces an existing store or a different recording without ``force``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dialer.backup.files import POOL, check_file, copy_digest, file_digest, keep_in_pool, prune_pool, remove_tree
from dialer.clock import Clock
from dialer.domain.backup.manifest import (
    MANIFEST_NAME,
    STORE_NAME,
    BackupError,
    FileEntry,
    Manifest,
    RecordingsMode,
    StoreEntry,
    check_path,
)
from dialer.domain.backup.schedule import folder_name, to_remove
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.store import backup as store_backup
from dialer.store.database import Database
from dialer.store.errors import StoreError

log = get_logger(__name__)

RECORDINGS = "recordings"
"""The mirror of the recordings folder inside a backup folder."""

Progress = Callable[[int, int], None]
"""Called with (files done, files in all) while the recordings are gone through."""


@dataclass(frozen=True, slots=True)
class Made:
    """A backup that was made and verified, and the old ones removed after it."""

    folder: Path
    manifest: Manifest
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verified:
    """A backup folder's manifest and every problem found in it (none: the backup is good)."""

    folder: Path
    manifest: Manifest | None
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore wrote."""

    store: Path
    recordings: Path
    files: int  # recording files written
    unchanged: int  # recording files that were there already, identical
    recordings_copied: bool  # False: the backup only listed the recordings ([backup] recordings = "list")


class BackupService:
    """Backups of the live store (``db``) and of the recordings folder, as ``[backup]`` says."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    @property
    def default_dir(self) -> Path:
        return self._settings.path(self._settings.backup.dir)

    async def create(self, to: Path | None = None, progress: Progress | None = None) -> Made:
        """Make a backup in a new timestamped folder under ``to`` (default ``[backup] dir``), verify it,
        then remove the backups there beyond ``[backup] keep``."""
        parent = to or self.default_dir
        settings = self._settings
        name = folder_name(self._clock.now(), settings.dealer.timezone)
        final = parent / name
        with _exclusive(parent):
            if final.exists():
                raise BackupError(f"{final} already exists (one backup per second)")
            work = parent / f".{name}.partial"
            if work.exists():
                remove_tree(work)
            work.mkdir(mode=0o700)  # call records and recordings: for the dialer's user only
            try:
                manifest = await self._fill(work, parent / POOL, progress)
                verified = await verify(work)
                if verified.problems:
                    raise BackupError(f"the new backup {work} failed its check: " + "; ".join(verified.problems))
                os.replace(work, final)
            except BaseException:
                remove_tree(work)
                raise
            removed = to_remove(os.listdir(parent), settings.backup.keep)
            for old in removed:
                remove_tree(parent / old)
            freed = await asyncio.to_thread(prune_pool, parent / POOL)
        log.info(
            "backup.made",
            folder=str(final),
            store_bytes=manifest.store.size,
            recordings=len(manifest.recordings),
            recordings_bytes=manifest.recordings_bytes,
            missing=len(manifest.missing),
            removed=list(removed),
            pool_files_freed=freed,
        )
        return Made(final, manifest, tuple(removed))

    async def _fill(self, work: Path, pool: Path, progress: Progress | None) -> Manifest:
        now = self._clock.now()
        store_file = work / STORE_NAME
        await store_backup.snapshot(self._db, store_file)
        copy = await store_backup.inspect(store_file)
        if copy.integrity != "ok":
            raise BackupError(f"the store copy {store_file} fails PRAGMA integrity_check: {copy.integrity}")
        size, sha = await asyncio.to_thread(file_digest, store_file)
        mode = RecordingsMode(self._settings.backup.recordings)
        root = self._settings.path(self._settings.recording.dir)
        files: list[FileEntry] = []
        missing: list[str] = []
        total = len(copy.recordings)
        for done, relative in enumerate(copy.recordings, 1):
            source = root.joinpath(*check_path(relative, f"recording row {relative!r}"))
            if not source.is_file() or source.is_symlink():
                # Deleted or compressed since the snapshot, or lost before it: listed, and the backup goes on.
                missing.append(relative)
                log.warning("backup.recording_missing", path=relative)
            elif mode is RecordingsMode.COPY:
                mirror = work / RECORDINGS / relative
                files.append(FileEntry(relative, *await asyncio.to_thread(keep_in_pool, source, pool, mirror)))
            else:
                files.append(FileEntry(relative, *await asyncio.to_thread(file_digest, source)))
            if progress is not None:
                progress(done, total)
        manifest = Manifest(
            created_at=now,
            store=StoreEntry(size=size, sha256=sha, schema_version=copy.schema_version, tables=copy.tables),
            recordings_mode=mode,
            recordings=tuple(files),
            missing=tuple(missing),
        )
        (work / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        return manifest


async def verify(folder: Path) -> Verified:
    """Every checksum of ``folder`` against its manifest, and the store copy opened and checked."""
    where = folder / MANIFEST_NAME
    try:
        manifest = Manifest.from_json(where.read_text(encoding="utf-8"), str(where))
    except OSError as exc:
        return Verified(folder, None, (f"{where}: cannot read it: {exc.strerror}",))
    except BackupError as exc:
        return Verified(folder, None, (str(exc),))
    problems: list[str] = []
    store_file = folder / STORE_NAME
    bad = await asyncio.to_thread(check_file, store_file, manifest.store.size, manifest.store.sha256, "store copy")
    if bad is not None:
        problems.append(bad)
    else:
        try:
            copy = await store_backup.inspect(store_file)
        except StoreError as exc:
            problems.append(str(exc))
        else:
            if copy.integrity != "ok":
                problems.append(f"store copy {store_file}: PRAGMA integrity_check: {copy.integrity}")
            if copy.schema_version != manifest.store.schema_version or copy.tables != dict(manifest.store.tables):
                problems.append(f"store copy {store_file}: its tables or schema version differ from the manifest's")
    if manifest.recordings_mode is RecordingsMode.COPY:
        for entry in manifest.recordings:
            path = folder / RECORDINGS / entry.path
            bad = await asyncio.to_thread(check_file, path, entry.size, entry.sha256, "recording")
            if bad is not None:
                problems.append(bad)
    return Verified(folder, manifest, tuple(problems))


async def restore(folder: Path, store: Path, recordings: Path, *, force: bool = False) -> Restored:
    """Verify ``folder``, then write its store to ``store`` and its recordings under ``recordings``.

    :class:`BackupError` before anything is written when the backup fails its check (naming each
    file), when ``store`` exists, or when a recording there differs, unless ``force``.
    """
    verified = await verify(folder)
    if verified.problems or verified.manifest is None:
        raise BackupError(f"backup {folder} failed its check, nothing restored: " + "; ".join(verified.problems))
    manifest = verified.manifest
    if not force:
        for existing in (store, Path(f"{store}-wal")):
            if existing.exists():
                raise BackupError(f"{existing} exists: a restore never replaces a store without --force")
    todo: list[FileEntry] = []
    unchanged = 0
    copied = manifest.recordings_mode is RecordingsMode.COPY
    for entry in manifest.recordings if copied else ():
        target = recordings.joinpath(*check_path(entry.path, str(folder / MANIFEST_NAME)))
        if not target.exists():
            todo.append(entry)
        elif target.is_file() and await asyncio.to_thread(file_digest, target) == (entry.size, entry.sha256):
            unchanged += 1
        elif force:
            todo.append(entry)
        else:
            raise BackupError(f"{target} exists and differs from the backup's: a restore replaces it only with --force")
    # The recordings first, the store last: a restore cut short leaves no store, so running it
    # again needs no --force (and skips the recordings already written).
    for entry in todo:
        source = folder / RECORDINGS / entry.path
        target = recordings.joinpath(*check_path(entry.path, str(folder / MANIFEST_NAME)))
        if await asyncio.to_thread(copy_digest, source, target) != (entry.size, entry.sha256):
            raise BackupError(f"recording {source} changed while it was restored: its checksum no longer matches")
    await store_backup.restore(folder / STORE_NAME, store)
    log.info("backup.restored", folder=str(folder), store=str(store), recordings=len(todo), unchanged=unchanged)
    return Restored(store, recordings, len(todo), unchanged, copied)


@contextlib.contextmanager
def _exclusive(parent: Path) -> Iterator[None]:
    """One backup at a time into ``parent`` (the nightly one and a manual one could meet): the pool
    is pruned after each, and must not lose a file another backup has just put there."""
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(parent / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BackupError(f"cannot use the backup folder {parent}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another backup is being made into {parent} right now") from None
        yield
    finally:
        os.close(fd)
