from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from dialer.store.database import Database, Tx
from dialer.store.errors import IntegrityError, StoreBusy, StoreError

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)"


@pytest.fixture
async def notes(db: Database) -> Database:
    async with db.write() as tx:
        await tx.execute(SCHEMA)
    return db


async def bodies(db: Database) -> list[str]:
    async with db.read() as r:
        return [row["body"] for row in await r.fetchall("SELECT body FROM notes ORDER BY id")]


async def test_commit_on_success_rollback_on_error(notes: Database) -> None:
    async with notes.write() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES (?)", ("kept",))

    async def failing_write() -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES (?)", ("dropped",))
            raise RuntimeError("caller failed")

    with pytest.raises(RuntimeError, match="caller failed"):
        await failing_write()
    assert await bodies(notes) == ["kept"]


async def test_failed_write_is_not_committed_by_a_concurrent_writer(notes: Database) -> None:
    # The aiosqlite trap: on one shared connection, B's COMMIT would also commit A's insert.
    a_inserted = asyncio.Event()
    a_may_fail = asyncio.Event()

    async def writer_a() -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('from A')")
            a_inserted.set()
            await a_may_fail.wait()
            raise RuntimeError("A failed after inserting")

    async def writer_b() -> None:
        await a_inserted.wait()
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('from B')")

    task_a = asyncio.create_task(writer_a())
    task_b = asyncio.create_task(writer_b())
    await a_inserted.wait()
    for _ in range(5):  # let B reach the writer lock while A's transaction is open
        await asyncio.sleep(0)
    a_may_fail.set()
    results = await asyncio.gather(task_a, task_b, return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert await bodies(notes) == ["from B"]


async def test_cancelled_writer_is_rolled_back(notes: Database) -> None:
    inserted = asyncio.Event()

    async def writer() -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('half done')")
            inserted.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(writer())
    await inserted.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with notes.write() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES ('next')")
    assert await bodies(notes) == ["next"]


async def test_failed_commit_is_rolled_back_and_translated(notes: Database) -> None:
    async with notes.write() as tx:
        await tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY,"
            " parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    async def write_with_bad_child() -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('with bad child')")
            await tx.execute("INSERT INTO child VALUES (1, 42)")  # checked only at COMMIT

    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        await write_with_bad_child()
    async with notes.write() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES ('after')")
    assert await bodies(notes) == ["after"]


async def test_nested_write_is_a_savepoint(notes: Database) -> None:
    async def failing_inner_write() -> None:
        async with notes.write() as inner:
            await inner.execute("INSERT INTO notes (body) VALUES ('inner')")
            raise RuntimeError("inner failed")

    async with notes.write() as outer:
        await outer.execute("INSERT INTO notes (body) VALUES ('outer')")
        with pytest.raises(RuntimeError, match="inner failed"):
            await failing_inner_write()
        async with notes.write() as inner:
            await inner.execute("INSERT INTO notes (body) VALUES ('inner ok')")
    assert await bodies(notes) == ["outer", "inner ok"]


async def test_outer_failure_undoes_nested_writes(notes: Database) -> None:
    async def failing_outer_write() -> None:
        async with notes.write():
            async with notes.write() as inner:
                await inner.execute("INSERT INTO notes (body) VALUES ('inner')")
            raise RuntimeError("outer failed")

    with pytest.raises(RuntimeError, match="outer failed"):
        await failing_outer_write()
    assert await bodies(notes) == []


async def test_read_inside_own_write_sees_own_changes_others_do_not(notes: Database) -> None:
    async with notes.write() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES ('pending')")
        assert await bodies(notes) == ["pending"]
        # Another task (even one spawned here) reads the committed state, without waiting (WAL).
        assert await asyncio.create_task(bodies(notes)) == []
    assert await asyncio.create_task(bodies(notes)) == ["pending"]


async def test_read_is_one_snapshot(notes: Database) -> None:
    async def add(body: str) -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES (?)", (body,))

    await add("first")
    async with notes.read() as r:
        before = await r.fetchval("SELECT count(*) FROM notes")
        await add("second")
        assert await r.fetchval("SELECT count(*) FROM notes") == before == 1
    assert await bodies(notes) == ["first", "second"]


async def test_reader_pool_is_bounded(db_path: Path) -> None:
    async with await Database.open(db_path, readers=1) as db:
        order: list[str] = []
        first_in = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with db.read() as r:
                await r.fetchval("SELECT 1")
                order.append("first in")
                first_in.set()
                await release.wait()
                order.append("first out")

        async def second() -> None:
            async with db.read() as r:
                await r.fetchval("SELECT 1")
                order.append("second in")

        first_task = asyncio.create_task(hold())
        await first_in.wait()
        second_task = asyncio.create_task(second())
        for _ in range(20):  # plenty of chances for the second reader to (wrongly) get in
            await asyncio.sleep(0.005)
        release.set()
        await asyncio.gather(first_task, second_task)
        assert order == ["first in", "first out", "second in"]


async def test_readers_cannot_write(notes: Database) -> None:
    with pytest.raises(StoreError, match="readonly"):
        async with notes.read() as r:
            await r.fetchall("INSERT INTO notes (body) VALUES ('sneaky') RETURNING id")
    assert await bodies(notes) == []


async def test_handle_is_dead_after_its_block(notes: Database) -> None:
    async with notes.write() as tx:
        kept: Tx = tx
    with pytest.raises(StoreError, match="used after its 'async with' block ended"):
        await kept.execute("INSERT INTO notes (body) VALUES ('late')")


async def test_tx_helpers(notes: Database) -> None:
    async with notes.write() as tx:
        first = await tx.insert("INSERT INTO notes (body) VALUES (?)", ("a",))
        assert await tx.executemany("INSERT INTO notes (body) VALUES (?)", [("b",), ("c",)]) == 2
        assert await tx.execute("UPDATE notes SET body = body || '!' WHERE id > ?", (first,)) == 2
        assert await tx.fetchval("SELECT id FROM notes WHERE body = :b", {"b": "a"}) == first
        assert await tx.fetchval("SELECT id FROM notes WHERE body = 'zzz'") is None
        row = await tx.fetchone("SELECT id, body FROM notes ORDER BY id DESC")
        assert row is not None and row["body"] == "c!" and row.keys() == ["id", "body"]
    assert await bodies(notes) == ["a", "b!", "c!"]


async def test_errors_are_translated(notes: Database) -> None:
    async with notes.write() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES ('dup')")
    with pytest.raises(IntegrityError, match=r"UNIQUE constraint failed: notes\.body \(in: INSERT INTO notes") as info:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('dup')")
    assert not isinstance(info.value, sqlite3.Error)
    with pytest.raises(StoreError, match="syntax error") as info2:
        async with notes.read() as r:
            await r.fetchall("SELEC nothing")
    assert not isinstance(info2.value, sqlite3.Error)
    with pytest.raises(StoreError, match="Incorrect number of bindings"):
        async with notes.read() as r:
            await r.fetchone("SELECT ?", (1, 2))


async def test_other_process_holding_the_lock_is_store_busy(db_path: Path) -> None:
    async with await Database.open(db_path) as first, await Database.open(db_path, busy_timeout_s=0) as second:
        async with first.write() as tx:
            await tx.execute(SCHEMA)
            with pytest.raises(StoreBusy, match="locked"):
                async with second.write() as other:
                    await other.execute("INSERT INTO notes (body) VALUES ('blocked')")
        # The busy failure left the second store usable.
        async with second.write() as other:
            await other.execute("INSERT INTO notes (body) VALUES ('later')")
        assert await bodies(first) == ["later"]


async def test_data_survives_close_and_reopen(db_path: Path) -> None:
    async with await Database.open(db_path) as db, db.write() as tx:
        await tx.execute(SCHEMA)
        await tx.execute("INSERT INTO notes (body) VALUES ('durable')")
    async with await Database.open(db_path) as db:
        assert await bodies(db) == ["durable"]


async def test_settings_of_the_connections(db: Database) -> None:
    async with db.read() as r:
        assert await r.fetchval("PRAGMA journal_mode") == "wal"
        assert await r.fetchval("PRAGMA foreign_keys") == 1
        assert await r.fetchval("PRAGMA query_only") == 1
    async with db.write() as tx:
        assert await tx.fetchval("PRAGMA synchronous") == 1  # NORMAL
        assert await tx.fetchval("PRAGMA busy_timeout") == 5000


async def test_close_ends_every_connection_thread(db_path: Path) -> None:
    before = set(threading.enumerate())
    db = await Database.open(db_path, readers=3)
    started = set(threading.enumerate()) - before
    assert len(started) == 4  # one writer and three readers
    await db.close()
    await db.close()  # idempotent
    for thread in started:
        thread.join(timeout=10)
    assert not [t for t in started if t.is_alive()]
    with pytest.raises(StoreError, match="is closed"):
        db.write()
    with pytest.raises(StoreError, match="is closed"):
        db.read()


async def test_close_waits_for_the_running_write(notes: Database) -> None:
    inserted = asyncio.Event()

    async def writer() -> None:
        async with notes.write() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES ('finishing')")
            inserted.set()
            for _ in range(5):
                await asyncio.sleep(0)
            await tx.execute("INSERT INTO notes (body) VALUES ('finished')")

    task = asyncio.create_task(writer())
    await inserted.wait()
    await notes.close()
    await task
    async with await Database.open(notes.path) as reopened:
        assert await bodies(reopened) == ["finishing", "finished"]


async def test_open_refuses_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="needs a file"):
        await Database.open(":memory:")
    with pytest.raises(ValueError, match="at least one reader"):
        await Database.open(tmp_path / "db.sqlite3", readers=0)
    (tmp_path / "blocker").write_text("a file, not a directory")
    with pytest.raises(StoreError, match="cannot create the store's directory"):
        await Database.open(tmp_path / "blocker" / "db.sqlite3")
