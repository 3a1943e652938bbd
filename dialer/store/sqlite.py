"""The embedded SQLite driver of the store (aiosqlite): a file, WAL journaling, one writer at a time.

aiosqlite runs each connection on its own thread, so a connection is ONE transaction shared by
every coroutine using it; :class:`~dialer.store.database.Database` makes sure only one coroutine
writes at a time. ``BEGIN IMMEDIATE`` takes SQLite's write lock at the start of every write, so
writers of other processes (a command while the service runs) are serialised too; readers use
separate connections that, thanks to WAL, see the last committed state without waiting.

This module, :mod:`dialer.store.backup` and :mod:`dialer.store.migrate` are the only importers of
aiosqlite and sqlite3; every error crossing the boundary is translated into :mod:`dialer.store.errors`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import aiosqlite

from dialer.logs import get_logger
from dialer.store.connection import Params, Row, excerpt
from dialer.store.errors import IntegrityError, StoreBusy, StoreError
from dialer.tasks import TaskHealth, supervised

log = get_logger(__name__)

# SQLite primary result codes (the low byte of an extended code) that mean "locked by someone else".
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# How often a refused switch to WAL is tried again while another process holds the file.
_WAL_RETRY_S = 0.02
# Commits between two of the checkpointer's checkpoints: about SQLite's own 1,000 pages of WAL at the
# hopper's 25-35 pages per claim (bench/hopper.py, 1M leads: one automatic checkpoint every ~33 batches).
COMMITS_PER_CHECKPOINT = 32
# The writer's own automatic checkpoint, at this many WAL pages (40 MB at 4 KiB pages): only a
# backstop for a checkpointer that fell behind (SQLite's default is 1,000 pages).
BACKSTOP_CHECKPOINT_PAGES = 10_000
# The log's bound, in pages (4 MB at 4 KiB pages, SQLite's own default checkpoint size): a checkpoint that
# finds more in the log follows itself with one that restarts it, and the writer cuts the file back to this
# size when it starts the log over. SQLite restarts the log only at a write that begins after a checkpoint
# copied every frame; under back-to-back commits a passive checkpoint never gets there (the writer commits
# while it runs), and the log grew to 5,791 pages (23 MB) in one bench run and to the backstop in longer ones.
WAL_RESTART_PAGES = 1_000
# How long the restarting checkpoint waits for a reader still on the log before it gives up until the
# next checkpoint: the writer waits for it meanwhile, so short.
RESTART_BUSY_TIMEOUT_MS = 10
# The checkpointer thread's nice value (Linux): the lowest, so the writer's and the event loop's threads get
# a core before a checkpoint does (docs/bench.md, "Hopper p99 at 1M: the checkpoint's share of the tail").
CHECKPOINT_NICE = 19
CHECKPOINT_TASK = "store-checkpoint"
"""The checkpointer's name among the supervised background tasks (logs, ``/metrics``)."""


def translate(exc: sqlite3.Error, sql: str) -> StoreError:
    """Turn a sqlite3 exception into the store's own error, naming the statement that failed."""
    message = f"{exc} (in: {excerpt(sql)})"
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(message)
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY_CODES:
        return StoreBusy(message)
    return StoreError(message)


class SqliteConnection:
    """One aiosqlite connection behind :class:`~dialer.store.connection.Connection`."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def begin_write(self) -> None:
        await self.execute("BEGIN IMMEDIATE")

    async def begin_read(self) -> None:
        await self.execute("BEGIN")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """The cursor is not closed on purpose: sqlite3 resets a statement that returned no
        rows as soon as it ran, and a close would cost a second trip to the connection's
        thread for every statement (about a fifth fewer writes per second in bench/store_writes.py).
        """
        try:
            cursor = await self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            async with self._conn.executemany(sql, rows):
                pass
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

    async def insert(self, sql: str, params: Params = ()) -> int:
        try:
            row = await self._conn.execute_insert(sql, params)
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc
        if row is None:
            raise StoreError(f"no row id after insert (in: {excerpt(sql)})")
        return int(row[0])

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return cast(list[Row], list(await self._conn.execute_fetchall(sql, params)))
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        try:
            async with self._conn.execute(sql, params) as cursor:
                row: Row | None = await cursor.fetchone()
                return row
        except sqlite3.Error as exc:
            raise translate(exc, sql) from exc

    async def end_quietly(self, sql: str, *, leaves_transaction: bool = True) -> None:
        """The statement is queued on the connection's thread before the first await, so it runs
        after anything queued earlier (a BEGIN still in flight) and before anything a later writer
        queues, even if this coroutine is cancelled meanwhile. SQLite may have rolled back already,
        or BEGIN failed: "no transaction is active" is then expected."""
        try:
            async with self._conn.execute(sql):
                pass
        except sqlite3.Error as exc:
            if not leaves_transaction or self._conn.in_transaction:
                log.error("store.rollback_failed", statement=sql, error=str(exc))

    async def close(self) -> None:
        await self._conn.close()

    async def lower_priority(self, nice: int) -> None:
        """Give the connection's thread the nice value ``nice`` (Linux only: elsewhere the call would
        renice the whole process, so it does nothing). SQLite calls a function of the connection on
        the connection's own thread, which is how the thread reaches ``setpriority``."""
        if not sys.platform.startswith("linux"):
            return

        def renice() -> str | None:
            """None, or why not (SQLite would only say that the function raised)."""
            try:
                # On Linux a nice value is a thread's own: the event loop's and the writer's keep theirs.
                os.setpriority(os.PRIO_PROCESS, 0, nice)
            except OSError as exc:
                return str(exc)
            return None

        try:
            await self._conn.create_function("dialer_renice_thread", 0, renice)
            refused = (await self.fetchall("SELECT dialer_renice_thread()"))[0][0]
        except (sqlite3.Error, StoreError) as exc:
            refused = str(exc)
        if refused is not None:
            log.warning("store.renice_failed", nice=nice, error=refused)

    async def foreign_keys(self, on: bool) -> None:
        """Foreign key enforcement on or off (off only while migrating: see :func:`migrating`)."""
        await self.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


async def _switch_to_wal(conn: SqliteConnection, busy_timeout_s: float) -> object:
    """``PRAGMA journal_mode = WAL``, tried again while another connection holds the file.

    SQLite answers SQLITE_BUSY to this pragma at once, without its busy handler, when another
    connection is in the middle of its own switch or first read: two processes opening a new
    store together (``dialer web`` and a command) failed about one time in eight. So the wait
    that the busy timeout gives every other statement is given here by hand.
    """
    waited = 0.0
    while True:
        try:
            row = await conn.fetchone("PRAGMA journal_mode = WAL")
            return None if row is None else row[0]
        except StoreBusy:
            if waited >= busy_timeout_s:
                raise
            await asyncio.sleep(_WAL_RETRY_S)
            waited += _WAL_RETRY_S


def check_path(path: Path) -> None:
    """Refuse what cannot work and create the store's directory."""
    if str(path) == ":memory:" or str(path).startswith("file:"):
        raise StoreError(f"store path {str(path)!r}: needs a file, since readers and writer are separate connections")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the store's directory {str(path.parent)!r}: {exc}") from exc


async def connect(path: Path, busy_timeout_s: float, *, writer: bool) -> SqliteConnection:
    """Open and configure one connection to the store file ``path``."""
    try:
        # isolation_level=None: the sqlite3 module must not open transactions on its
        # own; every BEGIN is ours, so a transaction never spans two callers by accident.
        # timeout= is SQLite's busy timeout: how long to wait for another process's lock.
        raw = await aiosqlite.connect(path, timeout=busy_timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {str(path)!r}: {exc}") from exc
    raw.row_factory = sqlite3.Row
    conn = SqliteConnection(raw)
    try:
        await conn.foreign_keys(True)
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
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints are the Checkpointer's, on its own connection (below); this is the backstop.
            await conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            # The writer is the connection that starts the log over: it then cuts the file back to this.
            page_bytes = int((await conn.fetchall("PRAGMA page_size"))[0][0])
            await conn.execute(f"PRAGMA journal_size_limit = {WAL_RESTART_PAGES * page_bytes}")
        else:
            # A reader that tried to write would bypass the writer lock; make it impossible.
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await raw.close()
        raise
    return conn


class Checkpointer:
    """Copies the write-ahead log into the store file on a connection of its own, beside the writer.

    SQLite checkpoints by itself inside the COMMIT that takes the log past 1,000 pages, on the
    committing connection: the writer. That COMMIT then copies ~4 MB into the file and syncs it
    twice: 13-23 ms where a COMMIT took 0.3 ms (bench/hopper.py at 1M leads, one claim in ~33, which
    made the claims' p99). A passive checkpoint needs no lock a writer takes, so run here, on the
    checkpointer's own thread, it leaves every write's path; the writer keeps a far larger
    automatic checkpoint (:data:`BACKSTOP_CHECKPOINT_PAGES`) for when this one cannot keep up.
    Beside the writer is not out of its way on a machine of two cores: a checkpoint (~4 ms, half of it
    in the kernel, two syncs) took the core the writer's or the event loop's thread was waking up for,
    and the batches it overlapped were most of the claims' p99 at 1M leads. So its thread runs at the
    lowest priority (:data:`CHECKPOINT_NICE`): it still gets every idle core, and a starved one is
    what the backstop is for.
    A passive checkpoint copies what was committed when it began; when the writer commits back to back
    the log is never wholly copied at a write's start, so SQLite never starts it over. A checkpoint that
    finds more than :data:`WAL_RESTART_PAGES` in the log is therefore followed by a second passive one
    (what was committed while the first ran, still beside the writer) and then a ``RESTART`` one between
    two writes, holding the store's write lock: it copies what came in during the second (a commit or
    two, and two syncs), waits at most :data:`RESTART_BUSY_TIMEOUT_MS` for readers still on the log, and
    the next write starts the log over. When a reader outlasts the wait, the next checkpoint tries again:
    during a long read (a backup) a write can so wait up to that long once per checkpoint.
    A checkpoint that fails is logged, counted as a failure of :data:`CHECKPOINT_TASK` in the
    :class:`TaskHealth` it was started with (``/metrics`` for the service's store), and the next one
    tried after the next commits; should the loop itself die, :func:`supervised` logs and counts that
    and starts it again (the backstop checkpoints meanwhile).
    """

    def __init__(self, conn: SqliteConnection) -> None:
        self._conn = conn
        self._commits = 0
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._health = TaskHealth()
        self._write_lock = asyncio.Lock()
        self._configured = False

    def start(self, health: TaskHealth, write_lock: asyncio.Lock) -> None:
        """Checkpoint after every :data:`COMMITS_PER_CHECKPOINT` commits from now on; failures counted in
        ``health``; ``write_lock`` is the one every write of the store holds (a restart goes between two)."""
        self._commits = 0
        self._due.clear()
        self._health = health
        self._write_lock = write_lock
        self._task = asyncio.get_running_loop().create_task(
            supervised(CHECKPOINT_TASK, self._run, health), name=CHECKPOINT_TASK
        )

    def committed(self) -> None:
        """The writer committed: every :data:`COMMITS_PER_CHECKPOINT` commits make a checkpoint due."""
        self._commits += 1
        if self._commits >= COMMITS_PER_CHECKPOINT:
            self._commits = 0
            self._due.set()

    async def _run(self) -> None:
        if not self._configured:  # once: the thread and the connection keep it when the loop is restarted
            await self._conn.lower_priority(CHECKPOINT_NICE)
            # Only the restarting checkpoint waits (a passive one never does).
            await self._conn.execute(f"PRAGMA busy_timeout = {RESTART_BUSY_TIMEOUT_MS}")
            self._configured = True
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                # A row: busy, the pages in the log, the pages copied into the file.
                reply = await self._conn.fetchone("PRAGMA wal_checkpoint(PASSIVE)")
                if reply is not None and reply[1] > WAL_RESTART_PAGES:
                    await self._conn.fetchone("PRAGMA wal_checkpoint(PASSIVE)")
                    async with self._write_lock:
                        await self._conn.fetchone("PRAGMA wal_checkpoint(RESTART)")
            except StoreError as exc:
                self._health.failed(CHECKPOINT_TASK)
                log.warning("store.checkpoint_failed", error=str(exc))

    async def close(self) -> None:
        """Stop checkpointing (a checkpoint under way finishes first) and close the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._conn.close()
