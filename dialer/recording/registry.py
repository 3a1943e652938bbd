"""The recordings registry: every finished recording gets a row, and the rows and files are kept honest.

- :meth:`RecordingRegistry.register_finished` runs when a call has ended (the call service
  stores the MixMonitor path on the attempt). MixMonitor closes the file in its own thread after
  the Hangup, so a WAV whose header does not yet account for its bytes is looked at again for up to
  ``recording.settle_s``. Then it reads the WAV header, hashes the file, writes the row, compresses.
- :meth:`RecordingRegistry.reconcile` finds files without rows and rows without files.
- :meth:`RecordingRegistry.purge_expired` applies retention; :meth:`RecordingRegistry.delete`
  is the administrator's deletion. Both delete the file first, then stamp the row and the
  audit trail in one transaction, and log ``recording.deleted``.

File problems never raise out of ``register_finished``: a call has already ended, so
the problem is logged and left for reconcile to report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from dialer.actors import SYSTEM_ACTOR
from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.calls.attempts import Attempt, AttemptRepository
from dialer.domain.recording.errors import (
    BadRecording,
    CompressionFailed,
    RecordingNotFound,
    UnfinishedRecording,
    UnsafePath,
)
from dialer.domain.recording.media import WavInfo, inspect_wav, sha256_file
from dialer.domain.recording.model import AudioFormat, AuditAction, AuditEntry, Recording
from dialer.logs import get_logger
from dialer.recording.compress import Compressor, SoxFlacCompressor
from dialer.recording.serving import check_relative, resolve_inside
from dialer.settings import RecordingSettings, Settings
from dialer.store.errors import IntegrityError
from dialer.store.recordings import NewRecording, RecordingStore

log = get_logger(__name__)

RETENTION_ACTOR = "retention"
# Rows fetched per round of retention: bounds memory, not how much is deleted.
_RETENTION_BATCH = 500
_RECORDING_SUFFIXES = frozenset({".wav", ".flac"})
# The first look at an unfinished WAV again comes this soon (MixMonitor usually closes within
# milliseconds of the Hangup); each later wait doubles, up to the last.
_SETTLE_FIRST_S = 0.05
_SETTLE_MAX_STEP_S = 1.0

Sleep = Callable[[float], Awaitable[None]]


def compressor_for(settings: RecordingSettings) -> Compressor | None:
    """The compressor ``recording.compress`` asks for (None: keep the WAV)."""
    return SoxFlacCompressor() if settings.compress == "flac" else None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconcile run found (and, with ``fix``, did).

    - ``orphan_files``: files under the folder with no row and no ended call to adopt them for;
    - ``in_progress``: files of calls still live (normal; they are registered when the call ends);
    - ``adopted``: orphan WAVs registered for their ended call (``fix``);
    - ``superseded``: WAVs left behind after their FLAC copy was registered (removed with ``fix``
      when the WAV's checksum matches the one the row kept);
    - ``missing``: rows whose file is gone (stamped deleted, reason "missing", with ``fix``).
    """

    orphan_files: tuple[str, ...] = ()
    in_progress: tuple[str, ...] = ()
    adopted: tuple[Recording, ...] = ()
    superseded: tuple[str, ...] = ()
    missing: tuple[Recording, ...] = ()
    fixed: bool = False

    @property
    def clean(self) -> bool:
        """Nothing needs a person or ``--fix`` (in-progress files are normal)."""
        return not (self.orphan_files or self.superseded or self.missing)


@dataclass
class _Findings:
    orphan_files: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    adopted: list[Recording] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)


class RecordingRegistry:
    """Registers finished recordings, reconciles rows with files, deletes what retention says."""

    def __init__(
        self,
        *,
        store: RecordingStore,
        attempts: AttemptRepository,
        settings: Settings,
        clock: Clock,
        compressor: Compressor | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._sleep = sleep
        self._attempts = attempts
        self._settings = settings.recording
        self._clock = clock
        self._compressor = compressor
        self.root = settings.path(settings.recording.dir).resolve()

    # -- reading ------------------------------------------------------------------------

    async def get(self, recording_id: int) -> Recording | None:
        """The recording with this id (deleted or not), or None."""
        return await self._store.get(recording_id)

    async def audit_trail(self, recording_id: int) -> list[AuditEntry]:
        """Who played, downloaded or deleted the recording, and when, newest first."""
        return await self._store.audit_trail(recording_id)

    async def search(
        self,
        *,
        number: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[Recording]:
        """Evidence search, newest first: exact E.164 number, agent, and [since, until) on the start time;
        only the recordings ``dealers`` sees."""
        return await self._store.search(
            number=number, agent=agent, since=since, until=until, include_deleted=include_deleted, limit=limit,
            dealers=dealers,
        )  # fmt: skip

    async def current_files(self, attempts: Sequence[Attempt]) -> dict[str, Path | None]:
        """Call id -> the file that holds the call's recording now, or None when there is none.

        The registry owns a recording's file once it is registered: its row follows the WAV to its
        FLAC copy and is stamped when the file is deleted, so a registered call shows the row's file
        (None once deleted). The attempt keeps what the PBX reported (MixMonitor's WAV), which is
        the file only until it is registered, and only if it is there (an empty or unusable
        recording never gets a row). Every face that shows an attempt's recording asks here."""
        rows = await self._store.by_calls([a.call_id for a in attempts if a.recording is not None])
        files: dict[str, Path | None] = {}
        for attempt in attempts:
            row = rows.get(attempt.call_id)
            if row is not None:
                files[attempt.call_id] = None if row.deleted else self.root.joinpath(*check_relative(row.path))
            elif attempt.recording is not None and await asyncio.to_thread(Path(attempt.recording).is_file):
                files[attempt.call_id] = Path(attempt.recording)
            else:
                files[attempt.call_id] = None
        return files

    # -- registration -------------------------------------------------------------------

    async def register_finished(self, attempt: Attempt) -> Recording | None:
        """Register the recording of an ended call; None when there is none (or it is unusable, logged).

        Safe to call twice for the same call: the existing row is returned.
        """
        if attempt.recording is None:
            return None
        existing = await self._store.get_by_call(attempt.call_id)
        if existing is not None:
            return existing
        relative = self._relative(Path(attempt.recording))
        if relative is None:
            return None
        return await self._register(attempt, relative, settle_s=self._settings.settle_s)

    def _relative(self, path: Path) -> str | None:
        """The folder-relative name of a path the dialplan wrote to, or None (logged) if it is not ours."""
        try:
            relative = PurePosixPath(path.relative_to(self.root)).as_posix()
            check_relative(relative)
        except (ValueError, UnsafePath) as exc:
            log.error("recording.outside_folder", path=str(path), folder=str(self.root), error=str(exc))
            return None
        return relative

    async def _register(self, attempt: Attempt, relative: str, *, settle_s: float) -> Recording | None:
        try:
            path = resolve_inside(self.root, relative)
            info = await self._settled(path, settle_s)
        except UnsafePath as exc:
            # MixMonitor records only while bridged: an agent who never answered leaves no file.
            log.warning("recording.file_unusable", call_id=attempt.call_id, path=relative, reason=exc.reason)
            return None
        except UnfinishedRecording as exc:
            # Kept, never removed: reconcile reports it, and adopts it with --fix once it is whole.
            log.error("recording.unfinished", call_id=attempt.call_id, path=relative, reason=exc.reason,
                      waited_s=settle_s)  # fmt: skip
            return None
        except BadRecording as exc:
            log.error("recording.bad_file", call_id=attempt.call_id, path=relative, reason=exc.reason)
            return None
        if info.frames == 0:
            path.unlink()
            log.info("recording.empty_removed", call_id=attempt.call_id, path=relative)
            return None
        size, digest = path.stat().st_size, await asyncio.to_thread(sha256_file, path)
        started = attempt.connected_at or attempt.answered_at or attempt.started_at or attempt.created_at
        new = NewRecording(
            call_id=attempt.call_id,
            lead_id=attempt.lead_id,
            campaign_id=attempt.campaign_id,
            agent=attempt.agent,
            direction=attempt.direction,
            path=relative,
            started_at=started,
            duration_s=round(info.duration_s, 3),
            size_bytes=size,
            sha256=digest,
        )
        try:
            recording = await self._store.add(new, at=self._clock.now(), actor=SYSTEM_ACTOR)
        except IntegrityError:
            # Registered meanwhile by another path (reconcile, a retry): that row stands.
            raced = await self._store.get_by_call(attempt.call_id)
            if raced is None:
                raise
            return raced
        log.info("recording.registered", call_id=attempt.call_id, recording_id=recording.id,
                 duration_s=recording.duration_s, size_bytes=size)  # fmt: skip
        return await self._compress(recording, path)

    async def _settled(self, path: Path, settle_s: float) -> WavInfo:
        """``path``'s header once the file is whole, looking again while it is unfinished for up to ``settle_s``."""
        deadline = self._clock.monotonic() + settle_s
        step = _SETTLE_FIRST_S
        while True:
            try:
                return inspect_wav(path)
            except UnfinishedRecording:
                left = deadline - self._clock.monotonic()
                if left <= 0:
                    raise
            await self._sleep(min(step, left))
            step = min(step * 2, _SETTLE_MAX_STEP_S)

    async def _compress(self, recording: Recording, wav: Path) -> Recording:
        if self._compressor is None:
            return recording
        try:
            copy = await self._compressor.compress(wav)
        except CompressionFailed as exc:
            log.error("recording.compress_failed", recording_id=recording.id, error=str(exc))
            return recording
        size, digest = copy.stat().st_size, await asyncio.to_thread(sha256_file, copy)
        updated = await self._store.replace_file(
            recording.id,
            path=PurePosixPath(copy.relative_to(self.root)).as_posix(),
            format=self._compressor.format,
            size_bytes=size,
            sha256=digest,
            at=self._clock.now(),
            actor=SYSTEM_ACTOR,
        )
        await asyncio.to_thread(wav.unlink)
        log.info("recording.compressed", recording_id=recording.id, format=updated.format.value,
                 size_bytes=size, wav_size_bytes=recording.size_bytes)  # fmt: skip
        return updated

    # -- reconciliation ------------------------------------------------------------------

    async def reconcile(self, *, fix: bool = False) -> ReconcileReport:
        """Compare the folder with the registry; with ``fix``, adopt, clean up and stamp what can be settled."""
        rows = await self._store.live_paths()
        files = self._files()
        findings = _Findings()
        for relative in sorted(files - rows.keys()):
            await self._classify_orphan(relative, fix, findings)
        missing: list[Recording] = []
        for relative in sorted(rows.keys() - files):
            recording = await self._store.get(rows[relative])
            if recording is None:
                continue
            missing.append(recording)
            log.error("recording.file_missing", recording_id=recording.id, call_id=recording.call_id, path=relative)
            if fix:
                await self._store.mark_deleted(recording.id, at=self._clock.now(), actor=SYSTEM_ACTOR,
                                               reason="missing: file not found by reconcile", action=AuditAction.MISSING)  # fmt: skip
        for relative in findings.orphan_files:
            log.warning("recording.orphan_file", path=relative)
        report = ReconcileReport(
            orphan_files=tuple(findings.orphan_files),
            in_progress=tuple(findings.in_progress),
            adopted=tuple(findings.adopted),
            superseded=tuple(findings.superseded),
            missing=tuple(missing),
            fixed=fix,
        )
        log.info("recording.reconciled", orphans=len(report.orphan_files), missing=len(report.missing),
                 adopted=len(report.adopted), superseded=len(report.superseded), fixed=fix)  # fmt: skip
        return report

    def _files(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {
            PurePosixPath(p.relative_to(self.root)).as_posix()
            for p in self.root.rglob("*")
            if p.suffix in _RECORDING_SUFFIXES and p.is_file() and not p.is_symlink()
        }

    async def _classify_orphan(self, relative: str, fix: bool, findings: _Findings) -> None:
        call_id = PurePosixPath(relative).stem
        attempt = await self._attempts.get(call_id)
        if attempt is not None and attempt.in_flight:
            findings.in_progress.append(relative)
            return
        row = await self._store.get_by_call(call_id)
        if row is not None:
            if await self._is_superseded(row, relative):
                findings.superseded.append(relative)
                if fix:
                    (self.root / relative).unlink()
                    log.info("recording.superseded_removed", recording_id=row.id, path=relative)
                return
        elif fix and attempt is not None and relative.endswith(".wav"):
            # The call ended long ago: a file still unfinished now was cut short, no use waiting.
            adopted = await self._register(attempt, relative, settle_s=0)
            if adopted is not None:
                findings.adopted.append(adopted)
                return
        findings.orphan_files.append(relative)

    async def _is_superseded(self, row: Recording, relative: str) -> bool:
        """A WAV whose row now points at its verified copy: same name, and the checksum the row kept."""
        if not relative.endswith(".wav") or row.format is AudioFormat.WAV or row.deleted:
            return False
        return (
            PurePosixPath(row.path).with_suffix(".wav").as_posix() == relative
            and (await asyncio.to_thread(sha256_file, self.root / relative)) == row.wav_sha256
        )

    # -- deletion --------------------------------------------------------------------------

    async def purge_expired(self) -> list[Recording]:
        """Delete every recording older than ``recording.retention_days``; returns what was deleted."""
        days = self._settings.retention_days
        cutoff = self._clock.now() - timedelta(days=days)
        deleted: list[Recording] = []
        while True:
            batch = await self._store.expired(cutoff, _RETENTION_BATCH)
            done = [r for r in batch if await self._delete(r, RETENTION_ACTOR, f"retention: older than {days} days")]
            deleted.extend(done)
            # Rows that could not be deleted stay expired; stop rather than fetch them again forever.
            if len(batch) < _RETENTION_BATCH or len(done) < len(batch):
                break
        log.info("recording.retention_done", deleted=len(deleted), retention_days=days, cutoff=cutoff.isoformat())
        return deleted

    async def retention_outlook(self, within: timedelta, limit: int) -> tuple[datetime, list[Recording]]:
        """What retention deletes now and next: the cutoff of a purge run now, and the recordings still on
        disk that a purge run before ``now + within`` would delete, oldest first (each goes when it is
        ``retention_days`` old)."""
        cutoff = self._clock.now() - timedelta(days=self._settings.retention_days)
        return cutoff, await self._store.expired(cutoff + within, limit)

    async def last_purged(self) -> AuditEntry | None:
        """The newest deletion retention made on this node (its time, the recording, why), or None: none yet."""
        trail = await self._store.audit_trail(limit=1, actor=RETENTION_ACTOR, dealers=self._store.node)
        return trail[0] if trail else None

    async def delete(self, recording_id: int, *, actor: str, reason: str) -> Recording:
        """Delete one recording now (the access policy decides who may); returns the stamped row."""
        recording = await self._store.get(recording_id)
        if recording is None:
            raise RecordingNotFound(f"recording {recording_id}: no such recording")
        if not recording.deleted and not await self._delete(recording, actor, reason):
            raise UnsafePath(recording.path, "could not be deleted safely (see the log)")
        stamped = await self._store.get(recording_id)
        assert stamped is not None
        return stamped

    async def _delete(self, recording: Recording, actor: str, reason: str) -> bool:
        try:
            target = self.root.joinpath(*check_relative(recording.path))
            existed = target.exists() or target.is_symlink()
            if existed:
                resolve_inside(self.root, recording.path).unlink()
        except (UnsafePath, OSError) as exc:
            log.error("recording.delete_failed", recording_id=recording.id, path=recording.path, error=str(exc))
            return False
        await self._store.mark_deleted(recording.id, at=self._clock.now(), actor=actor, reason=reason)
        log.info("recording.deleted", recording_id=recording.id, call_id=recording.call_id, path=recording.path,
                 sha256=recording.sha256, actor=actor, reason=reason, file_existed=existed)  # fmt: skip
        return True
