"""The store of a call's handovers (migration 0180, :mod:`dialer.domain.calls.handovers`)."""

from __future__ import annotations

from datetime import datetime

from dialer.domain.calls.handovers import Handover, HandoverKind
from dialer.store.database import Database, Row
from dialer.timestamps import from_db, to_db


def _handover(row: Row) -> Handover:
    return Handover(
        id=row["id"],
        call_id=row["call_id"],
        at=from_db(row["at"]),
        kind=HandoverKind(row["kind"]),
        from_party=row["from_party"],
        to_party=row["to_party"],
        actor=row["actor"],
    )


class HandoverStore:
    """Appends handovers; they are never changed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, call_id: str, at: datetime, kind: HandoverKind, from_party: str, to_party: str, actor: str
    ) -> Handover:
        async with self._db.write() as tx:
            row_id = await tx.insert(
                "INSERT INTO call_handovers (call_id, at, kind, from_party, to_party, actor) VALUES (?, ?, ?, ?, ?, ?)",
                (call_id, to_db(at), kind.value, from_party, to_party, actor),
            )
        return Handover(row_id, call_id, at, kind, from_party, to_party, actor)

    async def of_call(self, call_id: str) -> list[Handover]:
        """The call's handovers, in order."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM call_handovers WHERE call_id = ? ORDER BY id", (call_id,))
        return [_handover(r) for r in rows]
