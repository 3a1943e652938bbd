"""The store's side of backups: an online copy through SQLite's backup API, and reading a copy.

Why the backup API and never a file copy: the service writes all day, and in WAL mode the
committed data lives in two files (the store and its ``-wal``) that a copy would catch at
different moments. :func:`snapshot` copies every page in ONE step of ``sqlite3.Connection.backup``
(``pages=-1``), inside one read transaction, so the copy is exactly one committed state while
the writer goes on (a WAL reader never blocks it). A step-by-step copy would restart each time
another connection writes, and on a busy store might never finish.

The copy is switched to ``journal_mode=DELETE``: one self-contained file, checksummed in the
manifest, that opens read-only without a ``-wal`` or ``-shm`` beside it. The store turns WAL back
on when it opens a restored file (:meth:`Database.open`). A PostgreSQL store is refused here: it is
backed up with the server's own tools (docs/store.md); its ``pg_dump`` could come here later, behind
the same three functions.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from dialer.store.database import DEFAULT_BUSY_TIMEOUT_S, Database
from dialer.store.errors import StoreError


@dataclass(frozen=True, slots=True)
class StoreCopy:
    """What a store file holds, read without changing it."""

    integrity: str  # "ok", or what PRAGMA integrity_check found
    schema_version: int  # the highest applied migration
    tables: dict[str, int]  # rows per table
    recordings: tuple[str, ...]  # the files of the recordings not deleted, relative to the recordings folder


async def snapshot(db: Database, target: Path) -> None:
    """Copy the live store ``db`` into the new file ``target``: one consistent committed state."""
    if db.path is None:
        raise StoreError(
            f"the store {db.target} is a PostgreSQL database: back it up with the server's tools (pg_dump, docs/store.md)"
        )
    await asyncio.to_thread(_snapshot, db.path, target)


async def inspect(path: Path) -> StoreCopy:
    """Check and count a store file (a backup copy) opened read-only; :class:`StoreError` when it is no database."""
    return await asyncio.to_thread(_inspect, path)


async def restore(source: Path, target: Path) -> None:
    """Write the store copy ``source`` into ``target`` (created or replaced) through the backup API.

    Through the API rather than a file copy so that an old ``target`` with its own ``-wal`` beside
    it is replaced as a whole: a stale WAL left next to a copied file would be replayed onto it.
    """
    await asyncio.to_thread(_restore, source, target)


def _snapshot(source: Path, target: Path) -> None:
    if target.exists():
        raise StoreError(f"backup target {target} already exists")
    try:
        src = sqlite3.connect(source, timeout=DEFAULT_BUSY_TIMEOUT_S)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode = DELETE").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot copy the store {source} to {target}: {exc}") from exc


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write ``path``: a copy made from it leaves the source as it was, even a
    store whose schema is older than this version's (no migration runs); :class:`StoreError` when the
    file does not exist (SQLite would create it)."""
    if not path.is_file():
        raise StoreError(f"{path}: no such store file")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def copy_pages(source: sqlite3.Connection, target: Path) -> None:
    """Every page of ``source`` into the file ``target`` through SQLite's backup API (one consistent
    state of the source, whatever its writers do meanwhile)."""
    dst = sqlite3.connect(target, timeout=DEFAULT_BUSY_TIMEOUT_S)
    try:
        source.backup(dst, pages=-1)
    finally:
        dst.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _inspect(path: Path) -> StoreCopy:
    try:
        conn = read_only(path)
        try:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            integrity = "ok" if found == ["ok"] else "; ".join(str(f) for f in found[:5])
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = {name: conn.execute(f"SELECT COUNT(*) FROM {_quoted(name)}").fetchone()[0] for name in names}
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            recordings = tuple(
                row[0] for row in conn.execute("SELECT path FROM recordings WHERE deleted_at IS NULL ORDER BY path")
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read it as a dialer store: {exc}") from exc
    return StoreCopy(integrity, int(version), tables, recordings)


def _restore(source: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        src = read_only(source)
        try:
            copy_pages(src, target)
        finally:
            src.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot restore the store copy {source} into {target}: {exc}") from exc
