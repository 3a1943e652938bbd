"""The store of the listen-in audit log (migration 0060, docs/supervisor.md)."""

from __future__ import annotations

from datetime import datetime

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.supervisor.listen_ins import ListenIn
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.timestamps import from_db, from_db_or_none, to_db

_MODE_SEPARATOR = ","


def _listen_in(row: Row) -> ListenIn:
    return ListenIn(
        id=row["id"],
        supervisor=row["supervisor"],
        agent=row["agent"],
        phone=row["phone"],
        channel_id=row["channel_id"],
        modes=tuple(row["modes"].split(_MODE_SEPARATOR)),
        started_at=from_db(row["started_at"]),
        ended_at=from_db_or_none(row["ended_at"]),
        end_reason=row["end_reason"],
        dealer_id=row["dealer_id"],
    )


class ListenInStore:
    """Opens, amends and closes audit rows; a closed row is never changed again."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose agents its supervisors listen to."""
        self._db = db
        self._dealer_id = dealer_id

    async def open(
        self, *, supervisor: str, agent: str, phone: str, channel_id: str, mode: str, at: datetime
    ) -> ListenIn:
        """Record a listen-in about to start; committed when this returns."""
        async with self._db.write() as tx:
            row_id = await tx.insert(
                "INSERT INTO listen_ins (supervisor, agent, phone, channel_id, modes, started_at, dealer_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (supervisor, agent, phone, channel_id, mode, to_db(at), self._dealer_id),
            )
        return ListenIn(row_id, supervisor, agent, phone, channel_id, (mode,), at, None, None, self._dealer_id)

    async def add_mode(self, listen_in_id: int, mode: str) -> bool:
        """Append a mode switched to; False when the listen-in is unknown or already over."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE listen_ins SET modes = modes || ? || ? WHERE id = ? AND ended_at IS NULL",
                (_MODE_SEPARATOR, mode, listen_in_id),
            )
        return changed == 1

    async def close(self, channel_id: str, at: datetime, reason: str) -> bool:
        """End the listen-in of this supervisor leg; True only for the call that ended it (first wins)."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE listen_ins SET ended_at = ?, end_reason = ? WHERE channel_id = ? AND ended_at IS NULL",
                (to_db(at), reason, channel_id),
            )
        return changed == 1

    async def get(self, listen_in_id: int) -> ListenIn | None:
        """One audit row, or None."""
        async with self._db.read() as r:
            row = await r.fetchone("SELECT * FROM listen_ins WHERE id = ?", (listen_in_id,))
        return None if row is None else _listen_in(row)

    async def open_rows(self) -> list[ListenIn]:
        """Listen-ins without an end, oldest first: what a restarted dialer must reconcile."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM listen_ins WHERE ended_at IS NULL ORDER BY started_at, id")
        return [_listen_in(row) for row in rows]

    async def recent(
        self, since: datetime, *, agent: str | None = None, limit: int = 100, dealers: DealerScope = EVERY_DEALER
    ) -> list[ListenIn]:
        """Listen-ins (of the dealers ``dealers`` sees) started at or after ``since``, newest first, optionally
        of one agent."""
        sql = f"SELECT * FROM listen_ins WHERE started_at >= ? AND {dealer_sql(dealers, 'dealer_id')}"
        params: list[object] = [to_db(since)]
        if agent is not None:
            sql += " AND agent = ?"
            params.append(agent)
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " ORDER BY started_at DESC, id DESC LIMIT ?", [*params, limit])
        return [_listen_in(row) for row in rows]
