"""A private PostgreSQL for the bench's PostgreSQL rows (hopper, store writes).

The same throw-away cluster as the tests' (:class:`dialer.lab.postgres.PostgresCluster`: a
temporary folder, a free loopback port, no fsync), started for one part of a run and deleted after
it, with more memory for its caches than the tests need: a million leads' tables and indexes are
about 600 MB, so 1 GB of shared buffers keeps a claim's pages in memory as SQLite's page cache
and the OS keep the SQLite file's.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from dialer.lab.postgres import PostgresCluster

_BENCH_OPTIONS = "-c shared_buffers=1GB -c maintenance_work_mem=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchPostgres:
    """A running cluster that makes empty databases."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self._cluster = cluster

    async def create_database(self, name: str) -> str:
        """A new empty database ``name`` (dropped first if a run left one); its URL."""
        conn = await asyncpg.connect(self._cluster.url("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self._cluster.url(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self._cluster.url("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


@asynccontextmanager
async def postgres() -> AsyncIterator[BenchPostgres]:
    """A private cluster for the duration of the block."""
    cluster = PostgresCluster(_free_port(), options=_BENCH_OPTIONS)
    try:
        cluster.start()  # setup, before anything is timed
        yield BenchPostgres(cluster)
    finally:
        cluster.stop()
