"""The embedded SQLite store: one writer connection, a small pool of readers.

Why this shape: aiosqlite runs each connection on its own thread, so a connection
is ONE transaction shared by every coroutine using it; if coroutine A's insert
fails and coroutine B then commits, A's half-done work is committed with B's.
So all writes go through :meth:`Database.write`, which holds an ``asyncio.Lock``
for the whole ``BEGIN IMMEDIATE ... COMMIT/ROLLBACK``; reads use separate
connections that, thanks to WAL, see the last committed state without waiting for
the writer.

A ``write()`` inside another ``write()`` of the same task joins it as a SAVEPOINT,
and a ``read()`` inside a task's own ``write()`` reads through the writer (it sees
its own uncommitted changes). That makes repository methods composable: a service
can wrap several of them in one ``db.write()`` and get one atomic transaction.

This module and its siblings are the only importers of aiosqlite and sqlite3;
everything crossing the boundary is translated into :mod:`dialer.store.errors`.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from dialer.clock import Clock, SystemClock
from dialer.logs import get_logger
from dialer.store.errors import IntegrityError, StoreBusy, StoreError
from dialer.store.migrate import MIGRATIONS_DIR, apply_migrations
from dialer.timestamps import from_db, to_db

__all__ = ["Database", "Reader", "Row", "Tx", "from_db", "to_db"]

log = get_logger(__name__)

Row = sqlite3.Row
"""A result row: index by column name (``row["call_id"]``) or position; ``row.keys()`` lists the names."""

Params = Sequence[Any] | Mapping[str, Any]

# How long a connection waits for another process's lock (e.g. the CLI writing while
# the service runs) before the call fails with StoreBusy. Long enough to ride out a
# checkpoint or a short CLI write, short enough that a stuck lock surfaces as an error.
DEFAULT_BUSY_TIMEOUT_S = 5.0
DEFAULT_READERS = 2

# SQLite primary result codes (the low byte of an extended code) that mean "locked by someone else".
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# How much of a failing statement an error message quotes: enough to recognise it.
_SQL_EXCERPT_CHARS = 80


def _excerpt(sql: str) -> str:
    where = " ".join(sql.split())
    return where if len(where) <= _SQL_EXCERPT_CHARS else where[: _SQL_EXCERPT_CHARS - 3] + "..."


def translate(exc: sqlite3.Error, sql: str) -> StoreError:
    """Turn a sqlite3 exception into the store's own error, naming the statement that failed."""
    message = f"{exc} (in: {_excerpt(sql)})"
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(message)
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY_CODES:
        return StoreBusy(message)
    return StoreError(message)


async def _exec(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run one statement that returns no rows; its rowcount; errors come out translated.

    The cursor is not closed on purpose: sqlite3 resets a statement that returned no
    rows as soon as it ran, and a close would cost a second trip to the connection's
    thread for every statement (about a fifth fewer writes per second in bench/store_writes.py).
    """
    try:
        cursor = await conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise translate(exc, sql) from exc
    return cursor.rowcount


async def _end_quietly(conn: aiosqlite.Connection, sql: str, *, leaves_transaction: bool = True) -> None:
    """Run ROLLBACK (or ROLLBACK TO / RELEASE of a savepoint) on a path that is already failing.

    The statement is queued on the connection's thread before the first await, so
    it runs after anything queued earlier (a BEGIN still in flight) and before
    anything a later writer queues, even if this coroutine is cancelled meanwhile.
    For a ROLLBACK, "no transaction is active" is expected (SQLite may have rolled
    back already, or BEGIN failed) and ignored; a connection left inside a
    transaction is logged, because every later write on it would fail. Nothing is
    raised: the error that got us here is the one the caller must see.
    """
    try:
        async with conn.execute(sql):
            pass
    except sqlite3.Error as exc:
        if not leaves_transaction or conn.in_transaction:
            log.error("store.rollback_failed", statement=sql, error=str(exc))


class _Session:
    """Queries shared by :class:`Reader` and :class:`Tx`; refuses use after its block ended.

    A handle kept past its ``async with`` block would otherwise run statements on a
    connection that another coroutine now owns: exactly the shared-transaction bug.
    """

    __slots__ = ("_conn", "_open")

    def __init__(self, conn: aiosqlite.Connection) -> None:
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
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None; the rest of the result is not read."""
        self._check()
        try:
            async with self._conn.execute(sql, params) as cursor:
                row: Row | None = await cursor.fetchone()
                return row
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

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

    def __init__(self, conn: aiosqlite.Connection, owner: asyncio.Task[Any] | None) -> None:
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
        return await _exec(self._conn, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run one statement for each parameter set; returns the total rows changed."""
        self._check()
        try:
            async with self._conn.executemany(sql, rows) as cursor:
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT; returns the new row's id (its INTEGER PRIMARY KEY)."""
        self._check()
        try:
            row = await self._conn.execute_insert(sql, params)
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc
        if row is None:
            raise StoreError(f"no row id after insert (in: {_excerpt(sql)})")
        return int(row[0])


# How often a refused switch to WAL is tried again while another process holds the file.
_WAL_RETRY_S = 0.02


async def _switch_to_wal(conn: aiosqlite.Connection, busy_timeout_s: float) -> object:
    """``PRAGMA journal_mode = WAL``, tried again while another connection holds the file.

    SQLite answers SQLITE_BUSY to this pragma at once, without its busy handler, when another
    connection is in the middle of its own switch or first read: two processes opening a new
    store together (``dialer web`` and a command) failed about one time in eight. So the wait
    that the busy timeout gives every other statement is given here by hand.
    """
    waited = 0.0
    while True:
        try:
            return await Reader(conn).fetchval("PRAGMA journal_mode = WAL")
        except StoreBusy:
            if waited >= busy_timeout_s:
                raise
            await asyncio.sleep(_WAL_RETRY_S)
            waited += _WAL_RETRY_S


async def _connect(path: Path, busy_timeout_s: float, *, writer: bool) -> aiosqlite.Connection:
    try:
        # isolation_level=None: the sqlite3 module must not open transactions on its
        # own; every BEGIN is ours, so a transaction never spans two callers by accident.
        # timeout= is SQLite's busy timeout: how long to wait for another process's lock.
        conn = await aiosqlite.connect(path, timeout=busy_timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {str(path)!r}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        await _exec(conn, "PRAGMA foreign_keys = ON")
        if writer:
            # WAL: readers never wait for the writer and the writer never waits for
            # readers. The mode is stored in the file, so readers opened later use it too.
            mode = await _switch_to_wal(conn, busy_timeout_s)
            if str(mode).lower() != "wal":
                raise StoreError(f"the store at {str(path)!r} cannot use WAL journaling (got {mode!r})")
            # NORMAL instead of FULL: in WAL mode a commit is then not fsync'ed; the WAL is
            # synced at checkpoints. A crash of the dialer loses nothing; only a power cut
            # or OS crash can lose the last commits, and never corrupts the file. It keeps
            # a slow disk's fsync out of every call-state write (on the development VM
            # bench/store_writes.py showed no difference, as thread hops dominate there);
            # attempts lost that way are what reconciliation (outcome UNKNOWN) is for.
            await _exec(conn, "PRAGMA synchronous = NORMAL")
        else:
            # A reader that tried to write would bypass the writer lock; make it impossible.
            await _exec(conn, "PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


class Database:
    """The store: one serialised writer, a bounded pool of readers, migrations applied on open.

    Build it with :meth:`open` and close it (or use ``async with``): every connection
    owns a non-daemon thread, and an unclosed one keeps the process from exiting.
    """

    def __init__(self, path: Path, writer: aiosqlite.Connection, readers: Sequence[aiosqlite.Connection]) -> None:
        """Use :meth:`open`; this only assembles already-configured connections."""
        self.path = path
        self._writer = writer
        self._all_readers = tuple(readers)
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._write_lock = asyncio.Lock()
        # Per database, so two stores open in one process never mistake each other's transactions.
        self._current: ContextVar[Tx | None] = ContextVar(f"store_tx_{id(self)}", default=None)
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        readers: int = DEFAULT_READERS,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        clock: Clock | None = None,
        migrations_dir: Path = MIGRATIONS_DIR,
    ) -> Database:
        """Open (creating it and its directory if needed) the store at ``path`` and migrate it.

        ``clock`` stamps ``schema_migrations.applied_at``; ``migrations_dir`` exists for tests.
        """
        if readers < 1:
            raise ValueError(f"readers = {readers}: the store needs at least one reader connection")
        db_path = Path(path)
        if str(db_path) == ":memory:" or str(db_path).startswith("file:"):
            raise StoreError(
                f"store path {str(path)!r}: needs a file, since readers and writer are separate connections"
            )
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store's directory {str(db_path.parent)!r}: {exc}") from exc
        writer = await _connect(db_path, busy_timeout_s, writer=True)
        opened = [writer]
        try:
            for _ in range(readers):
                opened.append(await _connect(db_path, busy_timeout_s, writer=False))
            db = cls(db_path, writer, opened[1:])
            applied = await db._migrate(migrations_dir, clock or SystemClock())
        except BaseException:
            for conn in opened:
                await conn.close()
            raise
        log.info("store.opened", path=str(db_path), readers=readers, migrations_applied=applied)
        return db

    async def _migrate(self, directory: Path, clock: Clock) -> list[str]:
        # Foreign keys off while migrating: SQLite's documented way to rebuild a table
        # (create new, copy, drop old, rename) would otherwise cascade or fail on DROP.
        # Each migration runs PRAGMA foreign_key_check before its commit instead.
        await _exec(self._writer, "PRAGMA foreign_keys = OFF")
        try:
            return await apply_migrations(self, directory, clock)
        finally:
            await _exec(self._writer, "PRAGMA foreign_keys = ON")

    async def close(self) -> None:
        """Wait for the running write and the borrowed readers, then close every connection."""
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            pass
        for _ in self._all_readers:
            await (await self._readers.get()).close()
        await self._writer.close()
        log.info("store.closed", path=str(self.path))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {str(self.path)!r} is closed")

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
                await _exec(self._writer, "BEGIN IMMEDIATE")
                yield tx
                tx._end()
                await _exec(self._writer, "COMMIT")
                committed = True
            finally:
                tx._end()
                self._current.reset(token)
                if not committed:
                    await _end_quietly(self._writer, "ROLLBACK")

    @asynccontextmanager
    async def _savepoint(self, outer: Tx) -> AsyncIterator[Tx]:
        name = outer._next_savepoint()
        await _exec(self._writer, f"SAVEPOINT {name}")
        released = False
        try:
            yield outer
            await _exec(self._writer, f"RELEASE {name}")
            released = True
        finally:
            if not released:
                await _end_quietly(self._writer, f"ROLLBACK TO {name}", leaves_transaction=False)
                await _end_quietly(self._writer, f"RELEASE {name}", leaves_transaction=False)

    @asynccontextmanager
    async def _pooled_read(self) -> AsyncIterator[Reader]:
        conn = await self._readers.get()
        reader = Reader(conn)
        try:
            try:
                self._check_open()
                await _exec(conn, "BEGIN")
                yield reader
            finally:
                reader._end()
                await _end_quietly(conn, "ROLLBACK")
        finally:
            self._readers.put_nowait(conn)

    @asynccontextmanager
    async def _read_own_writes(self) -> AsyncIterator[Reader]:
        reader = Reader(self._writer)
        try:
            yield reader
        finally:
            reader._end()
