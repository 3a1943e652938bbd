"""The store of the audit log (migration 0140, docs/audit.md).

An append reads the last row's hash and inserts the next row in ONE write transaction
(:meth:`Database.write`: an asyncio lock in this process, ``BEGIN IMMEDIATE`` or the writers'
advisory lock against others), so two writers can never chain onto the same row. The id is chosen
here, not by the database, because it is part of what the hash covers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from dialer.domain.audit.model import GENESIS, AuditEntry, AuditQuery, ChainRow, Encoding, row_hash
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.timestamps import from_db, to_db

# Rows read at a time while the chain is walked: memory stays flat however long the log grows.
_CHAIN_PAGE = 1000

CHAIN_COLUMNS = "id, at, actor, action, target, detail, prev_hash, hash, dealer_id, encoding"
"""What the chain check reads of a row, in :data:`dialer.domain.audit.model.ChainRow`'s order."""


def chain_row(row: Row) -> ChainRow:
    """A row read with :data:`CHAIN_COLUMNS`, as the chain check takes it."""
    return (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=from_db(row["at"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        detail=row["detail"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        dealer_id=row["dealer_id"],
        encoding=Encoding(row["encoding"]),
    )


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    clauses = [dealer_sql(query.dealers, "dealer_id")]
    params: list[Any] = []
    if query.action is not None:
        clauses.append("action = ?")
        params.append(query.action.value)
    if query.actor is not None:
        clauses.append("actor = ?")
        params.append(query.actor)
    if query.since is not None:
        clauses.append("at >= ?")
        params.append(to_db(query.since))
    if query.until is not None:
        clauses.append("at < ?")
        params.append(to_db(query.until))
    return " WHERE " + " AND ".join(clauses), params


class AuditStore:
    """Appends chained rows, pages through them, and hands the whole chain out in id order."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self, *, at: datetime, actor: str, action: str, target: str, detail: str, dealer_id: int | None
    ) -> AuditEntry:
        """Chain one row of ``dealer_id`` (None: group-level) onto the last; committed when this returns."""
        async with self._db.write() as tx:
            last = await tx.fetchone("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            row_id, prev = (1, GENESIS) if last is None else (last["id"] + 1, last["hash"])
            stamp = to_db(at)
            digest = row_hash(id=row_id, at=stamp, actor=actor, action=action, target=target, detail=detail,
                              prev_hash=prev, dealer_id=dealer_id, encoding=Encoding.DEALER)  # fmt: skip
            await tx.execute(
                "INSERT INTO audit_log (id, at, actor, action, target, detail, prev_hash, hash, dealer_id, encoding)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row_id, stamp, actor, action, target, detail, prev, digest, dealer_id, Encoding.DEALER.value),
            )
        return AuditEntry(row_id, at, actor, action, target, detail, prev, digest, dealer_id, Encoding.DEALER)

    async def page(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """The rows matching ``query``, newest first, and how many match in all (for paging)."""
        where, params = _where(query)
        async with self._db.read() as r:
            total = await r.fetchval("SELECT COUNT(*) FROM audit_log" + where, params)
            rows = await r.fetchall(
                "SELECT * FROM audit_log" + where + " ORDER BY id DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
        return [_entry(row) for row in rows], int(total)

    async def chain(self) -> AsyncIterator[list[ChainRow]]:
        """Every row in id order, as stored, a page at a time."""
        after = -1
        while True:
            async with self._db.read() as r:
                rows = await r.fetchall(
                    f"SELECT {CHAIN_COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (after, _CHAIN_PAGE)
                )
            if not rows:
                return
            yield [chain_row(row) for row in rows]
            after = rows[-1][0]
