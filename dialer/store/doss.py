"""The DOSS outbox in the store (migration 0020): the only code that reads or writes ``doss_outbox``.

Rows are added inside the caller's transaction (:meth:`DossOutbox.add` takes the
``Tx``), so a change and its outbox row commit or vanish together. Status moves
only forward from ``pending``, and every transition is guarded in SQL
(``WHERE status = 'pending'``), so a slow worker can never undo what another
process decided.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.doss.outbox import DossRecord, OutboxEntry, OutboxKind, OutboxStatus
from dialer.store.database import Database, Row, Tx
from dialer.store.dealers import lead_dealer_sql
from dialer.timestamps import from_db, from_db_or_none, to_db

# How much of a delivery error the row keeps: enough to diagnose, bounded so a
# receiver echoing a huge body cannot bloat the table.
_ERROR_CHARS = 500


# A pending row with no older pending row of the same lead: the next one of that lead to send.
_HEAD_OF_LEAD = (
    "o.status = 'pending' AND NOT EXISTS (SELECT 1 FROM doss_outbox AS e"
    " WHERE e.lead_id = o.lead_id AND e.status = 'pending' AND e.id < o.id)"
)


def _entry(row: Row) -> OutboxEntry:
    return OutboxEntry(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        kind=OutboxKind(row["kind"]),
        record=DossRecord.from_payload(json.loads(row["payload"])),
        created_at=from_db(row["created_at"]),
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=from_db_or_none(row["next_attempt_at"]),
        last_error=row["last_error"],
        delivered_at=from_db_or_none(row["delivered_at"]),
    )


class DossOutbox:
    """The outbox table: add inside a lead change, then hand rows to the push worker and the export."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer; its push worker sends that dealer's rows (each dealer has its
        own DOSS), the others' nodes send theirs."""
        self._db = db
        self._mine = lead_dealer_sql(DealerScope.of(dealer_id), "o.lead_id")

    async def add(
        self,
        tx: Tx,
        *,
        key: str,
        kind: OutboxKind,
        record: DossRecord,
        event_id: int,
        attempt_id: int | None,
        at: datetime,
    ) -> int:
        """Queue one change, due at once; runs in the caller's transaction ``tx``."""
        return await tx.insert(
            "INSERT INTO doss_outbox (idempotency_key, lead_id, attempt_id, event_id, kind, payload, actor,"
            " created_at, status, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            (
                key,
                record.lead.id,
                attempt_id,
                event_id,
                kind.value,
                json.dumps(record.to_payload(), ensure_ascii=False),
                record.actor,
                to_db(at),
                to_db(at),
            ),
        )

    async def get(self, entry_id: int) -> OutboxEntry | None:
        async with self._db.read() as r:
            row = await r.fetchone("SELECT * FROM doss_outbox WHERE id = ?", (entry_id,))
        return None if row is None else _entry(row)

    async def filed(self, attempt_id: int) -> bool:
        """Whether a disposition of this call was recorded (its DOSS row exists, whatever its delivery)."""
        async with self._db.read() as r:
            row = await r.fetchone(
                "SELECT 1 FROM doss_outbox WHERE attempt_id = ? AND kind = 'disposition' LIMIT 1", (attempt_id,)
            )
        return row is not None

    async def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Pending rows due by ``now``, oldest first, at most one per lead.

        A lead's changes must reach DOSS in order (an invitation before the visit),
        so a row waits while an older row of the same lead is still pending.
        """
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT * FROM doss_outbox AS o WHERE {_HEAD_OF_LEAD} AND o.next_attempt_at <= ? AND {self._mine}"
                " ORDER BY o.id LIMIT ?",
                (to_db(now), limit),
            )
        return [_entry(row) for row in rows]

    async def next_due_at(self) -> datetime | None:
        """When the next row :meth:`due` would return becomes due; None when nothing is pending."""
        async with self._db.read() as r:
            value = await r.fetchval(
                f"SELECT MIN(o.next_attempt_at) FROM doss_outbox AS o WHERE {_HEAD_OF_LEAD} AND {self._mine}"
            )
        return from_db_or_none(value)

    async def mark_delivered(self, entry_id: int, at: datetime) -> bool:
        """The receiver acknowledged the row; False if it was no longer pending."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE doss_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?,"
                " next_attempt_at = NULL, last_error = NULL WHERE id = ? AND status = 'pending'",
                (to_db(at), entry_id),
            )
        return changed == 1

    async def mark_failed(self, entry_id: int, error: str, retry_at: datetime | None) -> bool:
        """Count a failed try: pending again at ``retry_at``, or dead when ``retry_at`` is None."""
        retry_text = None if retry_at is None else to_db(retry_at)
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE doss_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, status = ?"
                " WHERE id = ? AND status = 'pending'",
                (error[:_ERROR_CHARS], retry_text, "dead" if retry_at is None else "pending", entry_id),
            )
        return changed == 1

    async def dead_letters(self) -> list[OutboxEntry]:
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM doss_outbox WHERE status = 'dead' ORDER BY id")
        return [_entry(row) for row in rows]

    async def retry(self, entry_id: int, now: datetime) -> bool:
        """Give a dead row a fresh attempt budget, due now; False if the row is not dead.

        The key stays the same, so a row that had in fact arrived is still dropped by the receiver.
        """
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE doss_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ? AND status = 'dead'",
                (to_db(now), entry_id),
            )
        return changed == 1

    async def between(self, start: datetime, end: datetime, dealers: DealerScope = EVERY_DEALER) -> list[OutboxEntry]:
        """Every change created in [start, end) to the leads of the dealers ``dealers`` sees, whatever its
        delivery status: the export's rows (a group's are its dealers' together)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT * FROM doss_outbox AS o WHERE o.created_at >= ? AND o.created_at < ?"
                f" AND {lead_dealer_sql(dealers, 'o.lead_id')} ORDER BY o.id",
                (to_db(start), to_db(end)),
            )
        return [_entry(row) for row in rows]

    async def counts(self) -> dict[OutboxStatus, int]:
        """How many rows are in each status (for ``dialer doss push`` and health pages)."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT status, COUNT(*) AS n FROM doss_outbox GROUP BY status")
        found: dict[str, Any] = {row["status"]: row["n"] for row in rows}
        return {status: int(found.get(status.value, 0)) for status in OutboxStatus}
