"""What only the PostgreSQL store has: the placeholder translation, ``[store] url``, one node per PBX."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dialer.app import open_app, open_store
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.phone import normalize
from dialer.settings import (
    BackupSettings,
    PbxSettings,
    RecordingSettings,
    Settings,
    StoreSettings,
    problems,
    without_password,
)
from dialer.store.database import Database
from dialer.store.errors import MigrationError, StoreError
from dialer.store.leases import LeaseStore, NodeLease
from dialer.store.postgres import translate_sql
from dialer.store.process_lock import LeaseHeld
from tests.ami.fake_ami import FakeAmi
from tests.conftest import REPO, START, write_config
from tests.pgserver import PostgresServer
from tests.web.conftest import CHEAP


def test_placeholders_become_numbered_outside_literals_names_comments_and_casts() -> None:
    sql = "SELECT '?', \"a?\", x::text, y -- why?\n FROM t WHERE a = ? AND b IN (?, ?) /* :c? */"
    text, args = translate_sql(sql, (1, 2, 3))
    assert text == "SELECT '?', \"a?\", x::text, y -- why?\n FROM t WHERE a = $1 AND b IN ($2, $3) /* :c? */"
    assert args == (1, 2, 3)
    text, args = translate_sql("SELECT :a, :b, :a, 'it''s :a'", {"b": 2, "a": 1})
    assert (text, list(args)) == ("SELECT $1, $2, $1, 'it''s :a'", [1, 2])


def test_placeholder_mistakes_name_the_statement() -> None:
    with pytest.raises(StoreError, match=r"2 placeholders but 1 values \(in: SELECT \?, \?\)"):
        translate_sql("SELECT ?, ?", (1,))
    with pytest.raises(StoreError, match="no value for placeholder :b"):
        translate_sql("SELECT :a, :b", {"a": 1})
    with pytest.raises(StoreError, match="mixes"):
        translate_sql("SELECT ?, :a", (1,))


def test_the_password_never_leaves_in_messages() -> None:
    assert without_password("postgresql://dialer:s3cret@db1:5432/dialer") == "postgresql://dialer:***@db1:5432/dialer"
    assert without_password("postgresql://dialer@db1/dialer") == "postgresql://dialer@db1/dialer"
    assert "s3cret" not in repr(StoreSettings(url="postgresql://dialer:s3cret@db1/dialer"))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", None),
        ("postgresql://dialer:pw@db1:5432/dialer", None),
        ("postgres://db1/dialer", None),
        ("mysql://db1/dialer", "must start with postgresql://"),
        ("postgresql://db1", "needs a host and the dialer's own database"),
        ("postgresql:///dialer", "needs a host"),
        ("postgresql://db1/postgres", "the dialer's own database"),
        ("postgresql://db1:99999/dialer", "not a URL"),
    ],
)
def test_store_url_is_checked(url: str, problem: str | None) -> None:
    found = [p for p in problems(Settings(store=StoreSettings(url=url))) if p.startswith("store.url")]
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0] and "pw" not in found[0]


def test_settings_open_the_url_else_the_file(tmp_path: Path) -> None:
    assert Settings(base_dir=str(tmp_path)).store_target() == tmp_path / "var" / "dialer.sqlite3"
    url = "postgresql://dialer@db1/dialer"
    assert Settings(base_dir=str(tmp_path), store=StoreSettings(url=url)).store_target() == url


@pytest.fixture
async def group_db(postgres_server: PostgresServer) -> str:
    return await postgres_server.create_database()


@pytest.mark.postgresql
async def test_the_composition_root_builds_every_service_on_postgresql(tmp_path: Path, group_db: str) -> None:
    settings = Settings(
        base_dir=str(REPO),  # the shipped DOSS mapping and QA form; everything written goes below tmp_path
        store=StoreSettings(url=group_db),
        recording=RecordingSettings(dir=str(tmp_path / "recordings")),
        backup=BackupSettings(dir=str(tmp_path / "backups")),
    )
    clock = VirtualClock(START)
    async with open_store(settings, clock, password_cost=CHEAP) as app:
        assert app.db.dialect.is_postgresql and app.db.path is None
        user = await app.auth.add_user("boss", "admin", "a long enough password")
        assert user.name == "boss"
    async with open_store(settings, clock, password_cost=CHEAP) as app:
        assert [u.name for u in await app.auth.users()] == ["boss"]


@pytest.mark.postgresql
async def test_open_app_refuses_a_second_node_for_the_same_pbx_before_touching_it(group_db: str) -> None:
    settings = Settings(store=StoreSettings(url=group_db), pbx=PbxSettings(name="site-01"))
    clock = VirtualClock(START)
    async with await Database.open(group_db, clock=clock) as db:
        await NodeLease.take(db, "site-01", settings.store.lease_s, clock, node="elsewhere/1")
    with pytest.raises(LeaseHeld, match=r"PBX 'site-01' is driven by another live dialer node \(elsewhere/1"):
        async with open_app(settings, clock):
            pass


@pytest.mark.postgresql
async def test_a_node_that_lost_its_lease_lets_go_of_its_pbx_at_once(tmp_path: Path, group_db: str) -> None:
    ami = FakeAmi()
    await ami.start()
    settings = Settings(
        store=StoreSettings(url=group_db, lease_s=3.0),
        pbx=PbxSettings(name="site-01", ami_port=ami.port, ami_user=ami.user, ami_secret=ami.secret),
        recording=RecordingSettings(dir=str(tmp_path / "recordings")),
    )
    clock = VirtualClock(START)
    try:
        async with open_app(settings, clock) as app:
            assert app.lease is not None and app.ami is not None and app.ami.connected
            assert not app.pbx_lost.is_set()
            # Paused past its lease (the database out of reach, the machine frozen): on its own clock
            # the lease has run out, and a successor may already drive the PBX.
            clock.advance(4)
            await asyncio.wait_for(app.pbx_lost.wait(), 10)  # the next renewal (1 s of real time) finds it lost
            await ami.wait_for(lambda: not app.ami.connected)
            assert app.calls is not None
            attempt = await app.calls.dial(normalize("13800000001"), agent="agent1")
            assert attempt.outcome is Outcome.FAILED  # refused here: the link is closed, nothing reached the PBX
            assert "Originate" not in ami.names()
            async with await Database.open(group_db, clock=clock) as db:  # the successor takes the PBX
                await NodeLease.take(db, "site-01", 3.0, clock, node="successor/2")
        async with await Database.open(group_db, clock=clock) as db:  # stopping gave back nothing of the successor's
            assert [h.node for h in await LeaseStore(db).holders()] == ["successor/2"]
    finally:
        await ami.close()


@pytest.mark.postgresql
def test_backup_and_restore_leave_a_postgresql_store_to_the_servers_tools(
    tmp_path: Path, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = asyncio.run(postgres_server.create_database())
    cfg = str(write_config(tmp_path, store={"url": url}))
    assert main(["--config", cfg, "--lang", "en", "backup"], clock=VirtualClock(START)) != 0
    assert "back it up with the server's tools (pg_dump" in capsys.readouterr().err
    assert main(["--config", cfg, "--lang", "en", "restore", str(tmp_path), "--force"]) == 2
    assert "restore it with pg_restore" in capsys.readouterr().err


@pytest.mark.postgresql
async def test_a_failing_postgresql_migration_names_its_file_and_line_and_leaves_no_trace(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.create_database(empty=True)
    folder = tmp_path / "migrations_pg"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE a (id BIGINT PRIMARY KEY);\n", encoding="utf-8")
    (folder / "0002_broken.sql").write_text(
        "-- one good statement, then a typo\nCREATE TABLE b (id BIGINT PRIMARY KEY);\nCREATE TABLEX c (id BIGINT);\n",
        encoding="utf-8",
    )
    with pytest.raises(MigrationError, match=r"^0002_broken\.sql line 3: syntax error"):
        await Database.open(url, migrations_dir=folder)
    (folder / "0002_broken.sql").unlink()
    async with await Database.open(url, migrations_dir=folder) as db, db.read() as r:
        assert await r.fetchval("SELECT string_agg(version::text, ',') FROM schema_migrations") == "1"
        assert await r.fetchval("SELECT to_regclass('b') IS NULL")  # the failed file's first table was rolled back
