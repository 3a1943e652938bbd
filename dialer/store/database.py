"""The store: one serialised writer connection, a small pool of readers, on SQLite or PostgreSQL.

Why this shape: a connection is ONE transaction shared by every coroutine using it; if coroutine
A's insert fails and coroutine B then commits, A's half-done work is committed with B's. So all
writes go through :meth:`Database.write`, which holds an ``asyncio.Lock`` for the whole
``BEGIN ... COMMIT/ROLLBACK`` (and the driver's begin makes writers of other processes wait:
:mod:`dialer.store.sqlite`, :mod:`dialer.store.postgres`); reads use separate connections that
see the last committed state without waiting for the writer.

A ``write()`` inside another ``write()`` of the same task joins it as a SAVEPOINT, and a
``read()`` inside a task's own ``write()`` reads through the writer (it sees its own uncommitted
changes). That makes repository methods composable: a service can wrap several of them in one
``db.write()`` and get one atomic transaction.

:meth:`Database.open` takes a file path (the embedded SQLite store, the default) or a
``postgresql://`` URL; repositories see the same :class:`Database`, :class:`Tx` and
:class:`Reader` either way, and ``db.dialect`` for the few expressions the two spell differently.
Every driver error crossing the boundary is translated into :mod:`dialer.store.errors`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from dialer.clock import Clock, SystemClock
from dialer.logs import get_logger
from dialer.settings import without_password
from dialer.store import postgres, sqlite
from dialer.store.connection import Connection, Params, Row
from dialer.store.dialect import POSTGRESQL, SQLITE, Dialect
from dialer.store.errors import StoreError
from dialer.store.migrate import MIGRATIONS_DIR, PG_MIGRATIONS_DIR, apply_migrations, run_script
from dialer.tasks import TaskHealth
from dialer.timestamps import from_db, to_db

__all__ = ["Database", "Reader", "Row", "Tx", "from_db", "to_db"]

log = get_logger(__name__)

# How long a connection waits for another process's lock (e.g. the CLI writing while
# the service runs) before the call fails with StoreBusy. Long enough to ride out a
# checkpoint or a short CLI write, short enough that a stuck lock surfaces as an error.
DEFAULT_BUSY_TIMEOUT_S = 5.0
DEFAULT_READERS = 2


class _Session:
    """Queries shared by :class:`Reader` and :class:`Tx`; refuses use after its block ended.

    A handle kept past its ``async with`` block would otherwise run statements on a
    connection that another coroutine now owns: exactly the shared-transaction bug.
    """

    __slots__ = ("_conn", "_open")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._open = True

    @property
    def is_open(self) -> bool:
        """True while the ``async with`` block that produced this handle is running."""
        return self._open

    def _end(self) -> None:
        self._open = False

    def _check(self) -> None:
        if not self._open:
            raise StoreError(f"{type(self).__name__} used after its 'async with' block ended")

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query."""
        self._check()
        return await self._conn.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None; the rest of the result is not read."""
        self._check()
        return await self._conn.fetchone(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None when there is no row (counts, existence checks)."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Reader(_Session):
    """A read-only view of one consistent snapshot, valid inside ``async with db.read()``."""

    __slots__ = ()


class Tx(_Session):
    """The write transaction, valid inside ``async with db.write()``."""

    __slots__ = ("_owner", "_savepoints")

    def __init__(self, conn: Connection, owner: asyncio.Task[Any] | None) -> None:
        super().__init__(conn)
        self._owner = owner
        self._savepoints = itertools.count(1)

    def _owned_by(self, task: asyncio.Task[Any] | None) -> bool:
        return self._open and self._owner is task

    def _next_savepoint(self) -> str:
        return f"sp_{next(self._savepoints)}"

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        self._check()
        return await self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter set (batched by the driver)."""
        self._check()
        await self._conn.executemany(sql, rows)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT into a table keyed by ``id``; returns the new row's id."""
        self._check()
        return await self._conn.insert(sql, params)


class Database:
    """The store: one serialised writer, a bounded pool of readers, migrations applied on open.

    Build it with :meth:`open` and close it (or use ``async with``): every SQLite connection
    owns a non-daemon thread, and an unclosed one keeps the process from exiting.
    """

    def __init__(
        self,
        target: str,
        writer: Connection,
        readers: Sequence[Connection],
        dialect: Dialect,
        path: Path | None = None,
        checkpointer: sqlite.Checkpointer | None = None,
    ) -> None:
        """Use :meth:`open`; this only assembles already-configured connections."""
        self.target = target  # what log lines and messages name: the file, or the URL without its password
        self.path = path  # the SQLite file; None on PostgreSQL
        self.dialect = dialect
        self._writer = writer
        self._all_readers = tuple(readers)
        self._readers: asyncio.Queue[Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._write_lock = asyncio.Lock()
        # Per database, so two stores open in one process never mistake each other's transactions.
        self._current: ContextVar[Tx | None] = ContextVar(f"store_tx_{id(self)}", default=None)
        self._checkpointer = checkpointer  # SQLite's, started once the store is migrated
        self._closed = False

    @classmethod
    async def open(
        cls,
        target: str | Path,
        *,
        readers: int = DEFAULT_READERS,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        clock: Clock | None = None,
        migrations_dir: Path | None = None,
        health: TaskHealth | None = None,
    ) -> Database:
        """Open the store at ``target`` and migrate it: a ``postgresql://`` URL, or a SQLite file
        path (the file and its directory are created if needed).

        ``clock`` stamps ``schema_migrations.applied_at``; ``migrations_dir`` exists for tests. ``health``
        counts the failures of the store's own background task (SQLite's checkpointer), the service's
        (the App's, which ``/metrics`` exports); without it they are logged only.
        """
        if readers < 1:
            raise ValueError(f"readers = {readers}: the store needs at least one reader connection")
        clock = clock or SystemClock()
        if postgres.is_url(target):
            url = str(target)
            db = await cls._assemble(
                without_password(url), lambda _writer: postgres.connect(url, busy_timeout_s), readers, POSTGRESQL
            )
            directory = migrations_dir or PG_MIGRATIONS_DIR
        else:
            path = Path(target)
            sqlite.check_path(path)
            db = await cls._assemble(
                str(path), lambda writer: sqlite.connect(path, busy_timeout_s, writer=writer), readers, SQLITE, path
            )
            directory = migrations_dir or MIGRATIONS_DIR
        try:
            applied = await db._migrate(directory, clock)
        except BaseException:
            await db._close_connections()
            raise
        if db._checkpointer is not None:
            db._checkpointer.start(health or TaskHealth(), db._write_lock)
        log.info("store.opened", store=db.target, readers=readers, migrations_applied=applied)
        return db

    @classmethod
    async def _assemble(
        cls,
        target: str,
        connect: Callable[[bool], Awaitable[Connection]],
        readers: int,
        dialect: Dialect,
        path: Path | None = None,
    ) -> Database:
        writer: Connection = await connect(True)
        opened = [writer]
        try:
            # SQLite: one more read-only connection, the checkpointer's.
            for _ in range(readers + (dialect == SQLITE)):
                opened.append(await connect(False))
        except BaseException:
            for conn in opened:
                await conn.close()
            raise
        if dialect != SQLITE:
            return cls(target, writer, opened[1:], dialect, path)
        checkpointer = sqlite.Checkpointer(cast(sqlite.SqliteConnection, opened.pop()))
        return cls(target, writer, opened[1:], dialect, path, checkpointer)

    async def _migrate(self, directory: Path, clock: Clock) -> list[str]:
        if not isinstance(self._writer, sqlite.SqliteConnection):
            # PostgreSQL runs each file as one script: its function bodies hold semicolons.
            return await apply_migrations(self, directory, clock, run_script)
        # Foreign keys off while migrating: SQLite's documented way to rebuild a table
        # (create new, copy, drop old, rename) would otherwise cascade or fail on DROP.
        # Each migration runs PRAGMA foreign_key_check before its commit instead.
        await self._writer.foreign_keys(False)
        try:
            return await apply_migrations(self, directory, clock)
        finally:
            await self._writer.foreign_keys(True)

    async def _close_connections(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        for conn in (self._writer, *self._all_readers):
            await conn.close()

    async def close(self) -> None:
        """Wait for the running write and the borrowed readers, then close every connection."""
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            pass
        for _ in self._all_readers:
            await (await self._readers.get()).close()
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self._writer.close()
        log.info("store.closed", store=self.target)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.target!r} is closed")

    def _own_tx(self) -> Tx | None:
        tx = self._current.get()
        return tx if tx is not None and tx._owned_by(asyncio.current_task()) else None

    def write(self) -> AbstractAsyncContextManager[Tx]:
        """The one write transaction: COMMIT when the block ends normally, ROLLBACK when it raises.

        Waits while another coroutine writes. Inside a write of the same task it opens
        a SAVEPOINT instead, so a failing inner block undoes only its own changes.
        A task spawned inside a write is another writer: it waits for the block to end,
        so the block must not await that task's write (it would wait for itself).
        """
        self._check_open()
        outer = self._own_tx()
        return self._transaction() if outer is None else self._savepoint(outer)

    def read(self) -> AbstractAsyncContextManager[Reader]:
        """A consistent snapshot of the committed data; waits while all reader connections are busy.

        Keep the block short: an open snapshot stops the WAL file from being recycled.
        Inside the task's own ``write()`` it reads through the writer instead.
        """
        self._check_open()
        outer = self._own_tx()
        return self._pooled_read() if outer is None else self._read_own_writes()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        async with self._write_lock:
            self._check_open()
            tx = Tx(self._writer, asyncio.current_task())
            token = self._current.set(tx)
            committed = False
            try:
                await self._writer.begin_write()
                yield tx
                tx._end()
                await self._writer.execute("COMMIT")
                committed = True
                if self._checkpointer is not None:
                    self._checkpointer.committed()
            finally:
                tx._end()
                self._current.reset(token)
                if not committed:
                    await self._writer.end_quietly("ROLLBACK")

    @asynccontextmanager
    async def _savepoint(self, outer: Tx) -> AsyncIterator[Tx]:
        name = outer._next_savepoint()
        await self._writer.execute(f"SAVEPOINT {name}")
        released = False
        try:
            yield outer
            await self._writer.execute(f"RELEASE {name}")
            released = True
        finally:
            if not released:
                await self._writer.end_quietly(f"ROLLBACK TO {name}", leaves_transaction=False)
                await self._writer.end_quietly(f"RELEASE {name}", leaves_transaction=False)

    @asynccontextmanager
    async def _pooled_read(self) -> AsyncIterator[Reader]:
        conn = await self._readers.get()
        reader = Reader(conn)
        try:
            try:
                self._check_open()
                await conn.begin_read()
                yield reader
            finally:
                reader._end()
                await conn.end_quietly("ROLLBACK")
        finally:
            self._readers.put_nowait(conn)

    @asynccontextmanager
    async def _read_own_writes(self) -> AsyncIterator[Reader]:
        reader = Reader(self._writer)
        try:
            yield reader
        finally:
            reader._end()
