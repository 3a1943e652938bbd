"""What the store's transaction logic needs from a database driver: one connection, its statements, its errors.

:class:`~dialer.store.database.Database` (one serialised writer, a pool of readers, savepoints for
nested writes) is written once against :class:`Connection`; :mod:`dialer.store.sqlite` (aiosqlite)
and :mod:`dialer.store.postgres` (asyncpg) implement it. Repositories write one SQL text for both,
with ``?`` (or ``:name``) placeholders and the portable subset of SQL; where the two dialects really
differ, they ask :attr:`Database.dialect <dialer.store.database.Database.dialect>`
(:mod:`dialer.store.dialect`). Every driver error leaves a connection translated into
:mod:`dialer.store.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

Params = Sequence[Any] | Mapping[str, Any]

# How much of a failing statement an error message quotes: enough to recognise it.
_SQL_EXCERPT_CHARS = 80


class Row(Protocol):
    """A result row: index by column name (``row["call_id"]``) or position; ``row.keys()`` lists the names."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


def excerpt(sql: str) -> str:
    """A statement on one line, cut to a recognisable length, for error messages."""
    where = " ".join(sql.split())
    return where if len(where) <= _SQL_EXCERPT_CHARS else where[: _SQL_EXCERPT_CHARS - 3] + "..."


class Connection(Protocol):
    """One driver connection; every method raises only :mod:`dialer.store.errors` types."""

    async def begin_write(self) -> None:
        """Start the one write transaction: waits (up to the busy timeout) while another process writes."""

    async def begin_read(self) -> None:
        """Start a read-only transaction that sees one consistent committed state."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement that returns no rows; the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter set."""

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT into a table whose key is ``id``; the new row's id."""

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""

    async def end_quietly(self, sql: str, *, leaves_transaction: bool = True) -> None:
        """Run ROLLBACK (or ROLLBACK TO / RELEASE of a savepoint) on a path that is already failing.

        Nothing is raised: the error that got us here is the one the caller must see. With
        ``leaves_transaction``, "no transaction is active" is expected and ignored; a connection
        left inside a transaction is logged, because every later statement on it would fail.
        """

    async def close(self) -> None:
        """Close the connection (waits for its statement in progress)."""
