"""Versioned schema migrations: numbered SQL files applied once, in order, each atomically.

Files live in ``dialer/store/migrations/`` (SQLite) and ``dialer/store/migrations_pg/`` (their
PostgreSQL twins: the same numbers and names, the same tables, columns, keys and indexes, which
``tests/store/test_schema_twins.py`` checks) and are named ``NNNN_name.sql``. Number
ranges are reserved per team (0001-0009 calls/attempts, 0010-0019 leads, 0020-0029
DOSS/outbox/KPI, 0030-0039 campaigns), so files arrive independently; the runner
simply applies every file not yet recorded, lowest number first, even when a
higher number was applied earlier.

Each file runs in its own transaction together with its row in
``schema_migrations`` (version, name, applied_at, checksum), so a failing file
leaves no trace and is retried on the next start. An applied file must never
change: a different checksum stops the start-up with a :class:`MigrationError`
naming the file, because the database would silently differ from what the code
describes. Write a new migration instead.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dialer.clock import Clock
from dialer.logs import get_logger
from dialer.store.errors import MigrationError, StoreError
from dialer.timestamps import to_db

if TYPE_CHECKING:
    from dialer.store.database import Database, Tx

log = get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PG_MIGRATIONS_DIR = Path(__file__).with_name("migrations_pg")

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# The runner owns the transaction; a file that commits halfway would break atomicity.
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK"})

# Whitespace, a "-- line comment" or a "/* block comment */" before a statement.
_LEADING_NOISE = re.compile(r"\s+|--[^\n]*(?:\n|$)|/\*.*?\*/", re.DOTALL)

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    checksum   TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement of a migration file and the line it starts on (for error messages)."""

    line: int
    sql: str


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file, read and checked but not yet applied."""

    version: int
    name: str
    filename: str
    checksum: str
    text: str
    statements: tuple[Statement, ...]  # SQLite's statements; empty when the file runs as one script


RunFile = Callable[["Tx", Migration], Awaitable[None]]
"""How a backend runs one migration file inside its transaction (None: SQLite's statement by statement)."""


def checksum(text: str) -> str:
    """SHA-256 of a migration's text.

    Files are read in text mode, which turns CRLF into LF, so a Windows checkout is
    the same migration, not a changed one.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_statements(text: str, filename: str) -> tuple[Statement, ...]:
    """Cut a script into single statements, the way SQLite itself would.

    ``sqlite3.complete_statement`` knows about quotes, comments and trigger bodies
    (``BEGIN ... END;``), so a ``;`` only ends a statement where SQLite agrees.
    """
    statements: list[Statement] = []
    start = 0
    for index, char in enumerate(text):
        if char != ";":
            continue
        chunk = text[start : index + 1]
        if sqlite3.complete_statement(chunk):
            _append(statements, text, start, chunk, filename)
            start = index + 1
    tail = text[start:]
    if _strip_comments(tail).strip():
        line = _line_of_code(text, start)
        raise MigrationError(f"{filename} line {line}: statement does not end with ';'")
    return tuple(statements)


def _append(statements: list[Statement], text: str, start: int, chunk: str, filename: str) -> None:
    body = _strip_comments(chunk).strip().rstrip(";").strip()
    if not body:
        return
    line = _line_of_code(text, start)
    keyword = body.split(None, 1)[0].upper()
    if keyword in _TRANSACTION_CONTROL:
        raise MigrationError(
            f"{filename} line {line}: {keyword} is not allowed; the runner wraps each file in one transaction"
        )
    statements.append(Statement(line, chunk.strip()))


def _line_of_code(text: str, start: int) -> int:
    """The line where SQL (not blank space or a leading comment) begins at or after ``start``."""
    position = start
    while True:
        rest = _LEADING_NOISE.match(text, position)
        if rest is None or rest.end() == position:
            break
        position = rest.end()
    return text.count("\n", 0, position) + 1


def _strip_comments(sql: str) -> str:
    # Only to judge whether a chunk is empty or what its first keyword is; the
    # statement itself goes to SQLite untouched.
    without_block = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    return "\n".join(line.split("--", 1)[0] for line in without_block.splitlines())


def discover(directory: Path, *, split: bool = True) -> list[Migration]:
    """Every migration file in ``directory``, ordered by version; misnamed or duplicate files are errors.

    ``split``: cut each file into SQLite statements (PostgreSQL runs a file as one script, since its
    function bodies hold semicolons that only its own parser understands).
    """
    by_version: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: a migration file must be named NNNN_lowercase_name.sql")
        version = int(match["version"])
        if version in by_version:
            raise MigrationError(
                f"{path.name}: version {version:04d} is already used by {by_version[version].filename}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MigrationError(f"{path.name}: cannot read: {exc}") from exc
        by_version[version] = Migration(
            version=version,
            name=match["name"],
            filename=path.name,
            checksum=checksum(text),
            text=text,
            statements=split_statements(text, path.name) if split else (),
        )
    return [by_version[v] for v in sorted(by_version)]


def _verify(migration: Migration, name: str, recorded_checksum: str) -> None:
    if name != migration.name:
        raise MigrationError(
            f"{migration.filename}: version {migration.version:04d} was applied as '{name}'; "
            "an applied migration must not be renamed"
        )
    if recorded_checksum != migration.checksum:
        raise MigrationError(
            f"{migration.filename}: changed after it was applied (checksum differs); "
            "restore it and put the change in a new migration"
        )


async def apply_migrations(db: Database, directory: Path, clock: Clock, run: RunFile | None = None) -> list[str]:
    """Bring the schema up to date; returns the file names applied now (empty when current)."""
    migrations = discover(directory, split=run is None)
    async with db.write() as tx:
        await tx.execute(_CREATE_TABLE)
        rows = await tx.fetchall("SELECT version, name, checksum FROM schema_migrations")
    recorded = {row["version"]: row for row in rows}
    known = {m.version: m for m in migrations}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        names = ", ".join(f"{v:04d}_{recorded[v]['name']}.sql" for v in unknown)
        raise MigrationError(f"the database has migration(s) {names} that this code does not have; is it newer?")
    applied: list[str] = []
    for migration in migrations:
        if migration.version in recorded:
            seen = recorded[migration.version]
            _verify(migration, seen["name"], seen["checksum"])
            continue
        async with db.write() as tx:
            # Another process may have applied it since the check above; the write lock
            # (BEGIN IMMEDIATE) makes this second look authoritative.
            row = await tx.fetchone(
                "SELECT name, checksum FROM schema_migrations WHERE version = ?", (migration.version,)
            )
            if row is not None:
                _verify(migration, row["name"], row["checksum"])
                continue
            await (run or _apply_statements)(tx, migration)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (?, ?, ?, ?)",
                (migration.version, migration.name, to_db(clock.now()), migration.checksum),
            )
        applied.append(migration.filename)
        log.info("store.migration_applied", migration=migration.filename)
    return applied


async def _apply_statements(tx: Tx, migration: Migration) -> None:
    for statement in migration.statements:
        try:
            await tx.execute(statement.sql)
        except StoreError as exc:
            raise MigrationError(f"{migration.filename} line {statement.line}: {exc}") from exc
    violations = await tx.fetchall("PRAGMA foreign_key_check")
    if violations:
        first = violations[0]
        raise MigrationError(
            f"{migration.filename}: leaves {len(violations)} foreign key violation(s), "
            f"first in table {first['table']} rowid {first['rowid']} -> {first['parent']}"
        )


async def run_script(tx: Tx, migration: Migration) -> None:
    """PostgreSQL's way: the whole file in one call; an error names the line the server points at."""
    try:
        await tx.execute(migration.text)
    except StoreError as exc:
        position = getattr(exc.__cause__, "position", None)
        where = f" line {migration.text.count(chr(10), 0, int(position) - 1) + 1}" if position else ""
        raise MigrationError(f"{migration.filename}{where}: {exc}") from exc
