"""The test session's private PostgreSQL: a :class:`~dialer.lab.postgres.PostgresCluster` (a cluster in
a temporary folder on a free loopback port, stopped and deleted at the end) that hands out fresh
migrated databases.

Each test gets a fresh database copied from a template that the store's PostgreSQL migrations were
applied to once (``CREATE DATABASE ... TEMPLATE`` copies files: a few milliseconds, where migrating
takes a few hundred), and dropped afterwards.
"""

from __future__ import annotations

import itertools

import asyncpg

from dialer.lab.postgres import PostgresCluster
from dialer.store.database import Database

TEMPLATE = "dialer_template"


class PostgresServer(PostgresCluster):
    """A running private cluster; :meth:`create_database` hands out fresh migrated databases."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._names = itertools.count(1)
        self._template = False  # made by the first create_database(), inside the tests' event loop

    async def _make_template(self) -> None:
        await self._admin(f"CREATE DATABASE {TEMPLATE}")
        async with await Database.open(self.url(TEMPLATE)):
            pass
        self._template = True

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, *, empty: bool = False) -> str:
        """A new database with the store's schema (``empty``: without); its URL."""
        if not self._template and not empty:
            await self._make_template()
        name = f"test_{next(self._names)}"
        # FILE_COPY: copying the template's few files beats writing them through the WAL (WAL_LOG, the default).
        template = "template0" if empty else TEMPLATE
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
