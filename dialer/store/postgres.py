"""The PostgreSQL driver of the store (asyncpg), for a dealer group's shared database.

It serves the same :class:`~dialer.store.database.Database` as SQLite, so every repository runs
unchanged: ``?`` and ``:name`` placeholders become ``$1, $2, ...`` here (string literals, quoted
names, comments and ``::`` casts are left alone); an INSERT through ``insert()`` gets
``RETURNING id``; errors come out as :mod:`dialer.store.errors` (a unique, CHECK or foreign key
violation, SQLSTATE class 23, is an :class:`IntegrityError`; a lock wait past the busy timeout,
a deadlock or a serialisation failure is :class:`StoreBusy`).

Transactions keep SQLite's semantics, which the repositories rely on (a claim reads then marks,
an import numbers its rows from ``MAX(id)``): every write transaction first takes one
transaction-scoped advisory lock (:data:`WRITER_LOCK`), so writers of every process on the
database are serialised exactly as ``BEGIN IMMEDIATE`` serialises them on a SQLite file, waiting
at most the busy timeout (``lock_timeout``). Readers run ``REPEATABLE READ READ ONLY``: one
consistent snapshot, and a reader that tried to write fails.

Several dialer nodes share one database, one per PBX: each holds its PBX's lease
(:mod:`dialer.store.leases`), and the writers' lock keeps their claims apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit

import asyncpg

from dialer.logs import get_logger
from dialer.settings import without_password
from dialer.store.connection import Params, Row, excerpt
from dialer.store.errors import IntegrityError, StoreBusy, StoreError

log = get_logger(__name__)

URL_SCHEMES = ("postgresql", "postgres")
# Advisory lock keys (any 64-bit numbers, the same in every process): "DCC" + what is locked.
WRITER_LOCK = 0x4443_4300_0000_0001
# How long opening a connection may take before the store reports the server unreachable.
CONNECT_TIMEOUT_S = 10.0
# Waits on another process's lock, deadlocks and serialisation failures: retrying later may work.
_BUSY_STATES = frozenset({"55P03", "40P01", "40001"})

# What a placeholder is not: literals, quoted names, comments, dollar-quoted bodies, casts.
_TOKENS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$|::|(\?)|:([A-Za-z_][A-Za-z0-9_]*)",
    re.DOTALL,
)
_Driver = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def is_url(target: object) -> bool:
    """True when ``target`` names a PostgreSQL database (``postgresql://...``) rather than a SQLite file."""
    return isinstance(target, str) and urlsplit(target).scheme in URL_SCHEMES


@lru_cache(maxsize=512)
def _numbered(sql: str) -> tuple[str, tuple[int | str, ...]]:
    """``sql`` with ``$n`` placeholders, and what each ``$n`` takes: a position, or a name."""
    order: list[int | str] = []
    names: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        if match.group(1):
            order.append(len(order))
            return f"${len(order)}"
        name = match.group(2)
        if name is None:
            return match.group(0)
        if name not in names:
            order.append(name)
            names[name] = len(order)
        return f"${names[name]}"

    text = _TOKENS.sub(placeholder, sql)
    if any(isinstance(o, int) for o in order) and names:
        raise StoreError(f"a statement mixes ? and :name placeholders (in: {excerpt(sql)})")
    return text, tuple(order)


def translate_sql(sql: str, params: Params) -> tuple[str, Sequence[Any]]:
    """The statement and argument list asyncpg takes for a repository's ``sql`` and ``params``."""
    text, order = _numbered(sql)
    if isinstance(params, Mapping):
        try:
            return text, [params[cast(str, name)] for name in order]
        except KeyError as exc:
            raise StoreError(f"no value for placeholder :{exc.args[0]} (in: {excerpt(sql)})") from None
    if len(params) != len(order):
        raise StoreError(f"{len(order)} placeholders but {len(params)} values (in: {excerpt(sql)})")
    return text, params


def translate(exc: BaseException, sql: str) -> StoreError:
    """Turn a driver exception into the store's own error, naming the statement that failed."""
    # The server's DETAIL line (which key, which row) is kept, on the same line as the message.
    message = f"{' '.join(str(exc).split())} (in: {excerpt(sql)})"
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("23"):
        return IntegrityError(message)
    if state in _BUSY_STATES:
        return StoreBusy(message)
    return StoreError(message)


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag such as ``INSERT 0 3``, ``UPDATE 2`` or ``CREATE TABLE``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresConnection:
    """One asyncpg connection behind :class:`~dialer.store.connection.Connection`."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def begin_write(self) -> None:
        # One round trip; lock_timeout (the busy timeout) bounds the wait for another writer.
        await self.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})")

    async def begin_read(self) -> None:
        await self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            if not params:
                # Without arguments asyncpg uses the simple protocol: a migration's whole script runs.
                return _rowcount(await self._conn.execute(sql))
            text, args = translate_sql(sql, params)
            return _rowcount(await self._conn.execute(text, *args))
        except _Driver as exc:
            raise translate(exc, sql) from exc

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        args = [translate_sql(sql, row)[1] for row in rows]
        if not args:
            return
        try:
            await self._conn.executemany(_numbered(sql)[0], args)
        except _Driver as exc:
            raise translate(exc, sql) from exc

    async def insert(self, sql: str, params: Params = ()) -> int:
        text, args = translate_sql(sql, params)
        try:
            new_id = await self._conn.fetchval(f"{text} RETURNING id", *args)
        except _Driver as exc:
            raise translate(exc, sql) from exc
        if new_id is None:
            raise StoreError(f"no row id after insert (in: {excerpt(sql)})")
        return int(new_id)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, args = translate_sql(sql, params)
        try:
            return cast(list[Row], await self._conn.fetch(text, *args))
        except _Driver as exc:
            raise translate(exc, sql) from exc

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        text, args = translate_sql(sql, params)
        try:
            return cast(Row | None, await self._conn.fetchrow(text, *args))
        except _Driver as exc:
            raise translate(exc, sql) from exc

    async def end_quietly(self, sql: str, *, leaves_transaction: bool = True) -> None:
        try:
            await self._conn.execute(sql)
        except _Driver as exc:
            if not leaves_transaction or self._conn.is_in_transaction():
                log.error("store.rollback_failed", statement=sql, error=str(exc))

    async def close(self) -> None:
        try:
            await self._conn.close(timeout=CONNECT_TIMEOUT_S)
        except (*_Driver, TimeoutError):
            self._conn.terminate()


async def _raw(url: str, busy_timeout_s: float) -> asyncpg.Connection:
    # lock_timeout 0 would mean "wait forever": a zero busy timeout is the shortest real wait.
    lock_ms = max(1, round(busy_timeout_s * 1000))
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            url,
            timeout=CONNECT_TIMEOUT_S,
            server_settings={"lock_timeout": f"{lock_ms}ms", "application_name": "dcc-dialer", "TimeZone": "UTC"},
        )
    except (*_Driver, TimeoutError) as exc:
        raise StoreError(f"cannot open the store at {without_password(url)}: {exc}") from exc
    return conn


async def connect(url: str, busy_timeout_s: float) -> PostgresConnection:
    """Open one connection to the database at ``url``."""
    return PostgresConnection(await _raw(url, busy_timeout_s))
