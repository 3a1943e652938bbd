"""What ``dialer doctor`` reports about the database: its server, its schema, its nodes, its standby.

A dealer group's nodes share one PostgreSQL (docs/store.md), so its operator needs to see, from
any node: which server and version it is; whether the schema is the one this node's code ships
(a database migrated by a newer dialer, a node left on an older version, is a problem: its SQL may
no longer fit); which node holds which PBX's lease and until when (an expired lease is a node that
died without a successor yet); and, when a streaming-replication standby is configured
(``[store] standby_url``), whether it is replaying and how far behind it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.settings import Settings, without_password
from dialer.store import postgres
from dialer.store.database import Database
from dialer.store.errors import StoreError
from dialer.store.leases import LeaseHolder, LeaseStore
from dialer.store.migrate import MIGRATIONS_DIR, PG_MIGRATIONS_DIR, discover


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """The server, and the migrations: applied here, shipped with this node's code."""

    server: str  # "PostgreSQL 15.8" or "SQLite 3.40.1"
    applied: tuple[str, ...]  # "0170_pbx_leases", lowest first
    shipped: tuple[str, ...]

    @property
    def unknown(self) -> tuple[str, ...]:
        """Applied by a newer dialer than this node's: this node must be upgraded."""
        return tuple(m for m in self.applied if m not in self.shipped)

    @property
    def missing(self) -> tuple[str, ...]:
        """Shipped but not applied (the node's own start-up applies them)."""
        return tuple(m for m in self.shipped if m not in self.applied)


@dataclass(frozen=True, slots=True)
class Streaming:
    """One standby the primary streams to (``pg_stat_replication``)."""

    name: str  # its application_name, or its address
    state: str  # "streaming", "catchup", ...
    replay_lag_s: float | None  # None: the server does not know yet (or this role may not see it)


@dataclass(frozen=True, slots=True)
class StandbyReport:
    """The configured standby, as it sees itself, and the primary's view of its standbys."""

    target: str  # the standby's URL without its password
    error: str  # it could not be reached ("" when it was)
    in_recovery: bool  # a standby replays; False: it is a primary (promoted, or the wrong URL)
    lag_s: float | None  # seconds of the primary's work it has not replayed; 0 when caught up
    streaming: tuple[Streaming, ...]  # what the primary streams to


class StoreHealth:
    """Reads for the doctor; nothing here writes."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def schema(self) -> SchemaReport:
        directory = PG_MIGRATIONS_DIR if self._db.dialect.is_postgresql else MIGRATIONS_DIR
        shipped = tuple(f"{m.version:04d}_{m.name}" for m in discover(directory, split=False))
        async with self._db.read() as r:
            if self._db.dialect.is_postgresql:
                server = "PostgreSQL " + str(await r.fetchval("SHOW server_version")).split()[0]
            else:
                server = "SQLite " + str(await r.fetchval("SELECT sqlite_version()"))
            rows = await r.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        return SchemaReport(server, tuple(f"{row[0]:04d}_{row[1]}" for row in rows), shipped)

    async def leases(self) -> list[LeaseHolder]:
        return await LeaseStore(self._db).holders()

    async def standby(self) -> StandbyReport | None:
        """The configured standby's state; None when none is configured (or the store is SQLite)."""
        url = self._settings.store.standby_url
        if not url or not self._db.dialect.is_postgresql:
            return None
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT coalesce(nullif(application_name, ''), client_addr::text, '?') AS name, state,"
                " EXTRACT(EPOCH FROM replay_lag)::float8 AS lag FROM pg_stat_replication ORDER BY 1"
            )
        streaming = tuple(Streaming(row["name"], row["state"] or "?", row["lag"]) for row in rows)
        target = without_password(url)
        try:
            conn = await postgres.connect(url, 0)
        except StoreError as exc:
            return StandbyReport(target, str(exc), False, None, streaming)
        try:
            row = await conn.fetchone(
                "SELECT pg_is_in_recovery() AS in_recovery, CASE"
                " WHEN NOT pg_is_in_recovery() THEN NULL"
                " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0"
                " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag"
            )
        except StoreError as exc:
            return StandbyReport(target, str(exc), False, None, streaming)
        finally:
            await conn.close()
        assert row is not None  # a SELECT without FROM returns its one row
        return StandbyReport(target, "", bool(row["in_recovery"]), row["lag"], streaming)
