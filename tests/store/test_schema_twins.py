"""The PostgreSQL migrations are twins of the SQLite ones: same files, and the same schema once applied.

Every SQLite migration (``dialer/store/migrations/NNNN_name.sql``) needs its PostgreSQL twin
(``dialer/store/migrations_pg/NNNN_name.sql``); applied, the two must give the same tables, the same
columns (and which may be NULL), the same primary keys and unique constraints, and the same named
indexes over the same columns. A migration added on one side only fails here, naming what is missing.
Column types are not compared: they are the dialects' own (INTEGER ids are BIGINT identities, JSON
text is jsonb), and the repositories' tests on both backends prove they hold what the code writes.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialer.store.database import Database
from dialer.store.migrate import MIGRATIONS_DIR, PG_MIGRATIONS_DIR
from tests.pgserver import PostgresServer


@dataclass
class Table:
    columns: dict[str, bool] = field(default_factory=dict)  # name -> NOT NULL
    primary_key: tuple[str, ...] = ()
    unique: set[tuple[str, ...]] = field(default_factory=set)  # unique constraints (not named indexes)
    indexes: dict[str, tuple[bool, tuple[str, ...], bool]] = field(default_factory=dict)  # (unique, columns, partial)


async def sqlite_schema(db: Database) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    async with db.read() as r:
        names = await r.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        for name in [row["name"] for row in names]:
            table = tables[name] = Table()
            info = await r.fetchall(f"PRAGMA table_info({name})")
            keyed = sorted((row["pk"], row["name"]) for row in info if row["pk"])
            table.primary_key = tuple(column for _, column in keyed)
            table.columns = {row["name"]: bool(row["notnull"] or row["pk"]) for row in info}
            for index in await r.fetchall(f"PRAGMA index_list({name})"):
                columns = tuple(row["name"] for row in await r.fetchall(f"PRAGMA index_info({index['name']})"))
                if index["origin"] == "u":
                    table.unique.add(columns)
                elif index["origin"] == "c":
                    table.indexes[index["name"]] = (bool(index["unique"]), columns, bool(index["partial"]))
    return tables


async def postgres_schema(db: Database) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    async with db.read() as r:
        for row in await r.fetchall(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ):
            tables.setdefault(row["table_name"], Table()).columns[row["column_name"]] = row["is_nullable"] == "NO"
        for row in await r.fetchall(
            "SELECT c.conrelid::regclass::text AS tab, c.contype::text AS kind,"
            " array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)"
            "       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.pos) AS columns"
            " FROM pg_constraint c WHERE c.contype IN ('p', 'u') AND c.connamespace = 'public'::regnamespace"
        ):
            if row["kind"] == "p":
                tables[row["tab"]].primary_key = tuple(row["columns"])
            else:
                tables[row["tab"]].unique.add(tuple(row["columns"]))
        for row in await r.fetchall(
            "SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS tab, i.indisunique AS uniq,"
            " i.indpred IS NOT NULL AS partial,"
            " array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(num, pos)"
            "       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.pos) AS columns"
            " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relnamespace = 'public'::regnamespace"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ):
            tables[row["tab"]].indexes[row["name"]] = (row["uniq"], tuple(row["columns"]), row["partial"])
    return tables


async def has_rowid(db: Database, table: str) -> bool:
    """Whether the SQLite table has the implicit rowid (every table not declared WITHOUT ROWID)."""
    try:
        async with db.read() as r:
            await r.fetchall(f"SELECT rowid FROM {table} LIMIT 0")
    except Exception:
        return False
    return True


async def differences(lite: Database, pg: Database) -> list[str]:
    """What differs between the two applied schemas, one line per difference naming the table and what."""
    a, b = await sqlite_schema(lite), await postgres_schema(pg)
    found: list[str] = []
    for name in sorted(a.keys() - b.keys()):
        found.append(f"table {name}: in SQLite only (add it to a migration in dialer/store/migrations_pg/)")
    for name in sorted(b.keys() - a.keys()):
        found.append(f"table {name}: in PostgreSQL only")
    for name in sorted(a.keys() & b.keys()):
        x, y = a[name], b[name]
        pg_columns = dict(y.columns)
        # SQLite's implicit rowid (insertion order) is an explicit identity column on PostgreSQL.
        if "rowid" in pg_columns and "rowid" not in x.columns and await has_rowid(lite, name):
            del pg_columns["rowid"]
        for column in sorted(x.columns.keys() - pg_columns.keys()):
            found.append(f"table {name}: column {column} in SQLite only")
        for column in sorted(pg_columns.keys() - x.columns.keys()):
            found.append(f"table {name}: column {column} in PostgreSQL only")
        for column in sorted(x.columns.keys() & pg_columns.keys()):
            if x.columns[column] != pg_columns[column]:
                found.append(
                    f"table {name}: column {column} is {'NOT NULL' if x.columns[column] else 'nullable'} in SQLite,"
                    f" {'NOT NULL' if pg_columns[column] else 'nullable'} in PostgreSQL"
                )
        if x.primary_key != y.primary_key:
            found.append(f"table {name}: primary key {x.primary_key} in SQLite, {y.primary_key} in PostgreSQL")
        if x.unique != y.unique:
            found.append(
                f"table {name}: unique constraints {sorted(x.unique)} in SQLite, {sorted(y.unique)} in PostgreSQL"
            )
        for index in sorted(x.indexes.keys() - y.indexes.keys()):
            found.append(f"table {name}: index {index} {x.indexes[index][1]} in SQLite only")
        for index in sorted(y.indexes.keys() - x.indexes.keys()):
            found.append(f"table {name}: index {index} {y.indexes[index][1]} in PostgreSQL only")
        for index in sorted(x.indexes.keys() & y.indexes.keys()):
            if x.indexes[index] != y.indexes[index]:
                found.append(
                    f"table {name}: index {index} is {x.indexes[index]} in SQLite,"
                    f" {y.indexes[index]} in PostgreSQL (unique, columns, partial)"
                )
    return found


def missing_twins(sqlite_dir: Path, pg_dir: Path) -> list[str]:
    lite = {p.name for p in sqlite_dir.glob("*.sql")}
    pg = {p.name for p in pg_dir.glob("*.sql")}
    return [f"migrations/{n} has no twin migrations_pg/{n}" for n in sorted(lite - pg)] + [
        f"migrations_pg/{n} has no twin migrations/{n}" for n in sorted(pg - lite)
    ]


async def test_every_sqlite_migration_has_its_postgresql_twin() -> None:
    assert missing_twins(MIGRATIONS_DIR, PG_MIGRATIONS_DIR) == []


@pytest.mark.postgresql
async def test_the_two_schemas_agree(tmp_path: Path, store_target_pg: str) -> None:
    async with await Database.open(tmp_path / "store.sqlite3") as lite, await Database.open(store_target_pg) as pg:
        assert await differences(lite, pg) == []


@pytest.mark.postgresql
async def test_a_migration_on_one_side_only_is_named(tmp_path: Path, store_target_pg: str) -> None:
    # A later SQLite migration without its twin: the check names the file, the table and the column.
    ahead = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, ahead)
    (ahead / "9999_ahead.sql").write_text(
        "ALTER TABLE leads ADD COLUMN showroom TEXT;\nCREATE TABLE showrooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
        "CREATE INDEX leads_showroom ON leads (showroom);\n",
        encoding="utf-8",
    )
    assert missing_twins(ahead, PG_MIGRATIONS_DIR) == [
        "migrations/9999_ahead.sql has no twin migrations_pg/9999_ahead.sql"
    ]
    async with (
        await Database.open(tmp_path / "store.sqlite3", migrations_dir=ahead) as lite,
        await Database.open(store_target_pg) as pg,
    ):
        assert await differences(lite, pg) == [
            "table showrooms: in SQLite only (add it to a migration in dialer/store/migrations_pg/)",
            "table leads: column showroom in SQLite only",
            "table leads: index leads_showroom ('showroom',) in SQLite only",
        ]


@pytest.fixture
async def store_target_pg(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh migrated database on the session's PostgreSQL."""
    url = await postgres_server.create_database()
    yield url
    await postgres_server.drop_database(url)
