from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.store.database import Database
from dialer.store.errors import MigrationError
from dialer.store.migrate import MIGRATIONS_DIR, checksum, discover, split_statements
from dialer.timestamps import to_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def write(directory: Path, name: str, sql: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(sql, encoding="utf-8")
    return path


async def applied(db: Database) -> list[tuple[int, str, str]]:
    async with db.read() as r:
        rows = await r.fetchall("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    return [(row["version"], row["name"], row["applied_at"]) for row in rows]


async def tables(db: Database) -> set[str]:
    async with db.read() as r:
        rows = await r.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in rows}


async def test_fresh_database_gets_every_shipped_migration(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "db.sqlite3", clock=VirtualClock(T0)) as db:
        rows = await applied(db)
        assert [(v, n) for v, n, _ in rows] == [(m.version, m.name) for m in discover(MIGRATIONS_DIR)]
        assert (1, "attempts", to_db(T0)) in rows
        assert {"schema_migrations", "attempts"} <= await tables(db)


async def test_reopen_applies_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await Database.open(path, clock=VirtualClock(T0)) as db:
        first = await applied(db)
    async with await Database.open(path, clock=VirtualClock(LATER)) as db:
        assert await applied(db) == first


async def test_checksum_is_recorded(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    text = "CREATE TABLE a (x INTEGER);\n"
    write(mig, "0001_a.sql", text)
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig) as db, db.read() as r:
        assert await r.fetchval("SELECT checksum FROM schema_migrations WHERE version = 1") == checksum(text)


async def test_changed_applied_file_is_refused_and_named(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    path = write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig):
        pass
    path.write_text("CREATE TABLE a (x INTEGER, y TEXT);\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"0001_a\.sql: changed after it was applied"):
        await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig)


async def test_line_endings_do_not_count_as_a_change(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    path = write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n-- note\n")
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig):
        pass
    path.write_bytes(b"CREATE TABLE a (x INTEGER);\r\n-- note\r\n")
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig) as db:
        assert [v for v, _, _ in await applied(db)] == [1]


async def test_renamed_applied_file_is_refused(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    path = write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig):
        pass
    path.rename(mig / "0001_b.sql")
    with pytest.raises(MigrationError, match=r"0001_b\.sql: version 0001 was applied as 'a'"):
        await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig)


async def test_migration_missing_from_code_is_refused(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    write(mig, "0002_b.sql", "CREATE TABLE b (x INTEGER);\n")
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig):
        pass
    (mig / "0002_b.sql").unlink()
    with pytest.raises(MigrationError, match=r"0002_b\.sql that this code does not have"):
        await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig)


async def test_failing_migration_rolls_back_and_is_retried(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    path = tmp_path / "db.sqlite3"
    write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    bad = write(
        mig, "0002_b.sql", "CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\n\nINSERT INTO nowhere VALUES (1);\n"
    )
    with pytest.raises(MigrationError, match=r"0002_b\.sql line 4: no such table: nowhere"):
        await Database.open(path, migrations_dir=mig)
    bad.write_text("CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\n", encoding="utf-8")
    async with await Database.open(path, migrations_dir=mig) as db:
        # Table b was rolled back with the failing file, otherwise CREATE TABLE b would fail now.
        assert [v for v, _, _ in await applied(db)] == [1, 2]
        async with db.read() as r:
            assert await r.fetchval("SELECT count(*) FROM b") == 1


async def test_lower_number_added_later_is_applied(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    path = tmp_path / "db.sqlite3"
    write(mig, "0010_leads.sql", "CREATE TABLE leads (id INTEGER PRIMARY KEY);\n")
    async with await Database.open(path, migrations_dir=mig):
        pass
    write(mig, "0002_more.sql", "CREATE TABLE more (id INTEGER PRIMARY KEY);\n")
    async with await Database.open(path, migrations_dir=mig) as db:
        assert [v for v, _, _ in await applied(db)] == [2, 10]
        assert "more" in await tables(db)


async def test_foreign_key_violation_left_by_a_migration_is_refused(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    write(
        mig,
        "0001_fk.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));\n"
        "INSERT INTO child VALUES (1, 99);\n",
    )
    with pytest.raises(MigrationError, match=r"0001_fk\.sql: leaves 1 foreign key violation.*child"):
        await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig)


async def test_foreign_keys_are_enforced_again_after_migrating(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    write(
        mig,
        "0001_fk.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));\n",
    )
    async with await Database.open(tmp_path / "db.sqlite3", migrations_dir=mig) as db:
        async with db.read() as r:
            assert await r.fetchval("PRAGMA foreign_keys") == 1
        with pytest.raises(Exception, match="FOREIGN KEY"):
            async with db.write() as tx:
                await tx.execute("INSERT INTO child VALUES (1, 99)")


def test_transaction_control_in_a_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER);\nCOMMIT;\n")
    with pytest.raises(MigrationError, match=r"0001_a\.sql line 2: COMMIT is not allowed"):
        discover(tmp_path)


def test_misnamed_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "12_leads.sql", "CREATE TABLE a (x INTEGER);\n")
    with pytest.raises(MigrationError, match=r"12_leads\.sql: a migration file must be named"):
        discover(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0011_a.sql", "CREATE TABLE a (x INTEGER);\n")
    write(tmp_path, "0011_b.sql", "CREATE TABLE b (x INTEGER);\n")
    with pytest.raises(MigrationError, match=r"0011_b\.sql: version 0011 is already used by 0011_a\.sql"):
        discover(tmp_path)


def test_other_files_in_the_folder_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    write(tmp_path, "README.md", "notes")
    assert [m.filename for m in discover(tmp_path)] == ["0001_a.sql"]


def test_statements_split_like_sqlite_does() -> None:
    text = (
        "-- header; with a semicolon\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "/* block; comment */\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET x = 'c' WHERE rowid = new.rowid;\n"
        "END;\n"
    )
    statements = split_statements(text, "0001_t.sql")
    assert [s.line for s in statements] == [2, 4]
    assert statements[0].sql.endswith("DEFAULT 'a;b');")
    assert statements[1].sql.endswith("END;")


def test_unterminated_statement_is_refused() -> None:
    with pytest.raises(MigrationError, match=r"0001_t\.sql line 2: statement does not end with ';'"):
        split_statements("CREATE TABLE a (x);\nCREATE TABLE b (x)\n", "0001_t.sql")


async def test_two_processes_opening_a_new_file_apply_each_migration_once(tmp_path: Path) -> None:
    mig = tmp_path / "mig"
    write(mig, "0001_a.sql", "CREATE TABLE a (x INTEGER);\n")
    write(mig, "0002_b.sql", "CREATE TABLE b (x INTEGER);\n")
    # Many new files: SQLite refused one opener's switch to WAL in about one race of eight.
    for n in range(40):
        path = tmp_path / f"db{n}.sqlite3"
        first, second = await asyncio.gather(
            Database.open(path, migrations_dir=mig), Database.open(path, migrations_dir=mig)
        )
        try:
            assert [v for v, _, _ in await applied(first)] == [1, 2]
        finally:
            await first.close()
            await second.close()
