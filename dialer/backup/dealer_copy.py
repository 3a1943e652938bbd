"""Moving a dealer in: its SQLite store copied into the group's PostgreSQL database (docs/store.md
"Moving a dealer in"; the SQL and the table-by-table rules are in :mod:`dialer.store.dealer_copy`).

A sibling of backup and restore: the dealer's file is read through SQLite's backup API into a private
copy (never written, consistent while its node runs), that copy is migrated to this dialer's schema, and
the group database is opened, and so migrated, as every node opens it. A run that wrote anything ends
with one audit row on the group's chain saying who copied which dealer and how many rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from dialer.audit.service import AuditService, ChainReport
from dialer.clock import Clock
from dialer.domain.audit.model import AuditAction
from dialer.settings import without_password
from dialer.store import postgres
from dialer.store.audit import AuditStore
from dialer.store.database import Database
from dialer.store.dealer_copy import CopyError, DealerCopy, Progress, TableResult, check_dealer_code, private_copy
from dialer.store.dealers import DealerStore
from dialer.store.errors import MigrationError

__all__ = ["Copied", "CopyError", "copy_dealer"]


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy did and found: per table, rows written and the verification; the group's chain."""

    tables: tuple[TableResult, ...]
    chain: ChainReport

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables) and self.chain.broken is None

    @property
    def written(self) -> int:
        return sum(t.inserted + t.updated + t.deleted for t in self.tables)


async def copy_dealer(
    source: Path, target: str, dealer: str, *, actor: str, clock: Clock, progress: Progress | None = None
) -> Copied:
    """Copy the dealer's store file ``source`` into the group database ``target`` (a ``postgresql://`` URL)
    as dealer ``dealer``; :class:`CopyError` (naming what and where) when it cannot."""
    check_dealer_code(dealer)
    if not postgres.is_url(target):
        raise CopyError(f"--to {target}: the group database must be a postgresql:// URL")
    with tempfile.TemporaryDirectory(prefix="dialer-copy-") as folder:
        private = Path(folder) / "dealer.sqlite3"
        await private_copy(source, private)
        try:
            src = await Database.open(private, clock=clock)
        except MigrationError as exc:
            raise CopyError(f"--from {source}: {exc}") from None
        async with src:
            try:
                dst = await Database.open(target, clock=clock)
            except MigrationError as exc:
                raise CopyError(f"--to {without_password(target)}: {exc}") from None
            async with dst:
                job = DealerCopy(src, dst, dealer, clock, progress)
                tables = tuple(await job.verify(await job.run()))
                audit = AuditService(AuditStore(dst), clock)
                copied = Copied(tables, await audit.verify())
                if copied.written:
                    moved_in = await DealerStore(dst).by_code(dealer)
                    await audit.record(
                        actor,
                        AuditAction.STORE_COPY,
                        dealer,
                        {"source": source.name, "written": copied.written, "verified": copied.ok},
                        dealer_id=None if moved_in is None else moved_in.id,
                    )
                    copied = Copied(tables, await audit.verify())
    return copied
