"""The lead import service: file -> rows -> drafts -> one store transaction -> report.

A file whose bytes were imported before with the same recipe (rules version, --source,
--owner, region, time zone, cell limit, the owner directory: ``import_recipe``) is recognised by its SHA-256
and skipped before a row is read; ``force`` reads it anyway, through the same merge rules,
so a forced re-import fills only what is empty and never undoes an agent's work.

Reading and parsing (CPU-bound: phone validation dominates) runs in a worker
thread so a service's event loop keeps serving while a big file is read; the
store then matches and writes everything in one transaction.

Owners (负责人) are people's names as the file writes them; each is filed under the identity of the
agent who goes by it (login, identity or the manager's alias: dialer.domain.auth.owners). A name
nobody goes by is not kept: the lead is imported without an owner and the report names the row.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

from dialer.clock import Clock
from dialer.domain.auth.owners import OwnerDirectory
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.merge import NameMismatch, OwnershipConflict, RowMerge
from dialer.domain.leads.model import LeadSource
from dialer.domain.leads.records import ImportSource, PreviousImport
from dialer.domain.leads.template import (
    Column,
    LeadDraft,
    Rejection,
    RowContext,
    RowReader,
    UnknownOwner,
    import_recipe,
    is_blank,
    map_headers,
)
from dialer.leads.sheets import file_sha256, open_sheet
from dialer.logs import get_logger
from dialer.store.leads import LeadStore

log = get_logger(__name__)


class Phase(StrEnum):
    """Which step of an import a progress report is about."""

    READ = "read"  # rows read and checked so far
    WRITE = "write"  # matching and writing (one step; reported once)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import got; handed to the progress callback."""

    phase: Phase
    rows: int
    total: int | None = None  # about how many data rows the file has (None: unknown)


ImportProgressCallback = Callable[[ImportProgress], None]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did, row by row where it matters (rejections, merges, conflicts)."""

    file: str
    import_id: int | None
    rows: int  # data rows read (blank rows not counted)
    created: int
    updated: int
    unchanged: int
    merged: tuple[RowMerge, ...]
    rejections: tuple[Rejection, ...]
    conflicts: tuple[OwnershipConflict, ...]
    name_mismatches: tuple[NameMismatch, ...]
    ignored_headers: tuple[str, ...]
    unknown_owners: tuple[UnknownOwner, ...] = ()  # rows whose owner nobody goes by: imported without one
    previous: PreviousImport | None = None  # the latest earlier import of these bytes
    skipped: bool = False  # imported before with the same recipe: not read again (``previous`` says when)
    rejected_rows: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected_rows", len({r.row for r in self.rejections}))

    @property
    def nothing_changed(self) -> bool:
        """The store is exactly as before (e.g. the same file imported again)."""
        return self.import_id is None

    def to_json(self) -> dict[str, Any]:
        """The full report as JSON-ready data (``--json``)."""
        data = asdict(self)
        data["nothing_changed"] = self.nothing_changed
        if self.previous is not None:
            data["previous"]["at"] = self.previous.at.isoformat()
        return data


class LeadImporter:
    """Imports CSV/XLSX lead files into the store."""

    def __init__(
        self,
        store: LeadStore,
        clock: Clock,
        *,
        region: str,
        tz: tzinfo,
        progress_rows: int,
        max_cell_chars: int,
        max_unpacked_mb: int,
        owners: Callable[[], Awaitable[OwnerDirectory]],
    ) -> None:
        self._store = store
        self._owners = owners
        self._max_cell_chars = max_cell_chars
        self._max_unpacked_bytes = max_unpacked_mb * 1024 * 1024
        self._clock = clock
        self._region = region
        self._tz = tz
        self._progress_rows = progress_rows

    async def import_file(
        self,
        path: Path,
        *,
        actor: str,
        source: LeadSource | None = None,
        owner: str | None = None,
        progress: ImportProgressCallback | None = None,
        force: bool = False,
    ) -> ImportReport:
        """Import ``path``; ``source``/``owner`` apply to rows that leave those columns empty.

        The same bytes imported before with the same recipe are skipped unless ``force``.
        :class:`ImportFileError` if ``owner`` is nobody's name.
        """
        directory = await self._owners()
        if owner is not None and directory.resolve(owner) is None:
            raise ImportFileError(f"owner {owner!r}: not an agent's login, identity or alias (dialer users alias add)")
        ctx = RowContext(
            region=self._region,
            tz=self._tz,
            now=self._clock.now(),
            source=source,
            owner=owner,
            max_cell_chars=self._max_cell_chars,
        )
        recipe = import_recipe(ctx, directory.names)
        if not force and (skipped := await self._skipped(path, recipe)):
            return skipped
        with _collector_paused():
            # The rows, drafts and plan live in _import's frame only, so they are freed (by reference
            # counting) before the collector resumes: its first pass then has only the report to look at.
            return await self._import(path, ctx, directory, recipe, actor, source, progress)

    async def _import(
        self,
        path: Path,
        ctx: RowContext,
        directory: OwnerDirectory,
        recipe: str,
        actor: str,
        source: LeadSource | None,
        progress: ImportProgressCallback | None,
    ) -> ImportReport:
        parsed = await asyncio.to_thread(self._read, path, ctx, directory, progress)
        unknown = parsed.unknown_owners
        if unknown:
            log.warning("leads.unknown_owners", file=path.name, rows=len(unknown), first_row=unknown[0].row)
        if progress:
            progress(ImportProgress(Phase.WRITE, parsed.rows, parsed.rows))
        src = ImportSource(path.name, parsed.sha256, source, parsed.rows, parsed.phone_field, recipe)
        run = await self._store.import_drafts(parsed.drafts, parsed.rejections, src, actor)
        plan = run.plan
        return ImportReport(
            file=str(path),
            import_id=run.import_id,
            rows=parsed.rows,
            created=len(plan.created),
            updated=len(plan.updated_rows),
            unchanged=len(plan.unchanged_rows),
            merged=plan.merged_rows,
            rejections=tuple(sorted([*parsed.rejections, *plan.rejections], key=lambda r: r.row)),
            conflicts=plan.conflicts,
            name_mismatches=plan.name_mismatches,
            ignored_headers=parsed.ignored_headers,
            unknown_owners=unknown,
            previous=run.previous,
        )

    async def _skipped(self, path: Path, recipe: str) -> ImportReport | None:
        """The report of skipping ``path`` if its bytes were imported before with ``recipe``; else None."""
        try:
            sha256 = await asyncio.to_thread(file_sha256, path)
        except OSError:
            return None  # reading it says what is wrong, in the words every other file error uses
        previous = await self._store.find_import(sha256, recipe)
        if previous is None:
            return None
        log.info("leads.import_skipped", file=path.name, previous_import_id=previous.id)
        return ImportReport(
            file=str(path),
            import_id=None,
            rows=0,
            created=0,
            updated=0,
            unchanged=0,
            merged=(),
            rejections=(),
            conflicts=(),
            name_mismatches=(),
            ignored_headers=(),
            previous=previous,
            skipped=True,
        )

    def _read(
        self, path: Path, ctx: RowContext, directory: OwnerDirectory, progress: ImportProgressCallback | None
    ) -> _Parsed:
        with open_sheet(path, self._max_unpacked_bytes) as sheet:
            parsed = _Parsed(sha256=sheet.sha256)
            total = sheet.rows_estimate
            headers = map_headers(sheet.headers)
            reader = RowReader(headers, ctx, directory.resolve)
            parsed.ignored_headers = headers.ignored
            parsed.phone_field = "/".join(
                headers.header[c] for c in (Column.MOBILE, Column.LANDLINE) if c in headers.header
            )
            for row, cells in sheet.rows:
                if is_blank(cells):
                    continue
                parsed.rows += 1
                result = reader.read(row, cells)
                if isinstance(result, LeadDraft):
                    parsed.drafts.append(result)
                else:
                    parsed.rejections.extend(result)
                if progress and parsed.rows % self._progress_rows == 0:
                    progress(ImportProgress(Phase.READ, parsed.rows, total))
            parsed.unknown_owners = tuple(reader.unknown_owners)
        log.info(
            "leads.file_read",
            file=path.name,
            rows=parsed.rows,
            valid=len(parsed.drafts),
            ignored_headers=list(headers.ignored),
        )
        return parsed


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a file's rows become leads.

    An import allocates a few objects per cell and keeps them all until it is written (drafts,
    leads, rows, events: millions for 100 000 rows), none of them in a reference cycle; the
    collector's full passes over that growing heap cost about a tenth of the import. Reference
    counting still frees everything as usual; the collector resumes when the import ends, error
    or not (or stays off if something else had turned it off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class _Parsed:
    sha256: str
    rows: int = 0
    drafts: list[LeadDraft] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ignored_headers: tuple[str, ...] = ()
    phone_field: str = ""
    unknown_owners: tuple[UnknownOwner, ...] = ()
