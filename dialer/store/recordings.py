"""The recordings registry and its audit trail (migration 0050, docs/recording.md).

Every change to a row and its audit entry are written in one transaction, so the
audit trail can never miss a deletion that happened, nor show one that did not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.outcome import Direction
from dialer.domain.recording.model import AudioFormat, AuditAction, AuditEntry, Recording
from dialer.store.database import Database, Row, Tx
from dialer.store.dealers import dealer_sql
from dialer.store.errors import IntegrityError
from dialer.timestamps import from_db, from_db_or_none, to_db

_SELECT = (
    "SELECT r.id, r.call_id, r.lead_id, r.campaign_id, r.agent, r.direction, r.path, r.format, r.started_at,"
    " r.duration_s, r.size_bytes, r.sha256, r.wav_sha256, r.registered_at, r.deleted_at, r.delete_reason,"
    " a.number, r.dealer_id FROM recordings r LEFT JOIN attempts a ON a.call_id = r.call_id"
)
# Call ids per IN (...) query: well under SQLite's limit on bound parameters.
_IN_BATCH = 500


def _recording(row: Row) -> Recording:
    return Recording(
        id=row["id"],
        call_id=row["call_id"],
        lead_id=row["lead_id"],
        campaign_id=row["campaign_id"],
        agent=row["agent"],
        direction=Direction(row["direction"]),
        path=row["path"],
        format=AudioFormat(row["format"]),
        started_at=from_db(row["started_at"]),
        duration_s=row["duration_s"],
        size_bytes=row["size_bytes"],
        sha256=row["sha256"],
        wav_sha256=row["wav_sha256"],
        registered_at=from_db(row["registered_at"]),
        deleted_at=from_db_or_none(row["deleted_at"]),
        delete_reason=row["delete_reason"],
        number=row["number"],
        dealer_id=row["dealer_id"],
    )


@dataclass(frozen=True, slots=True)
class NewRecording:
    """What the registry learns about a finished call's WAV before it is stored."""

    call_id: str
    lead_id: int | None
    campaign_id: int | None
    agent: str | None
    direction: Direction
    path: str
    started_at: datetime
    duration_s: float
    size_bytes: int
    sha256: str


async def _audit(
    tx: Tx, recording_id: int | None, action: AuditAction, actor: str, at: datetime, detail: Mapping[str, Any]
) -> None:
    await tx.execute(
        "INSERT INTO recording_audit (recording_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)",
        (recording_id, action.value, actor, to_db(at), json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )


class RecordingStore:
    """Recordings and their audit trail in the embedded store."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose a recording of a call with no attempt or lead is."""
        self._db = db
        self._dealer_id = dealer_id

    async def add(self, new: NewRecording, *, at: datetime, actor: str) -> Recording:
        """Register a WAV; a second row for the same call or path is an :class:`IntegrityError`."""
        try:
            async with self._db.write() as tx:
                recording_id = await tx.insert(
                    "INSERT INTO recordings (call_id, lead_id, campaign_id, agent, direction, path, format, started_at,"
                    " duration_s, size_bytes, sha256, wav_sha256, registered_at, dealer_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE("
                    "(SELECT a.dealer_id FROM attempts a WHERE a.call_id = ? ORDER BY a.id LIMIT 1),"
                    " (SELECT l.dealer_id FROM leads l WHERE l.id = ?), ?))",
                    (new.call_id, new.lead_id, new.campaign_id, new.agent, new.direction.value, new.path,
                     AudioFormat.WAV.value, to_db(new.started_at), new.duration_s, new.size_bytes, new.sha256,
                     new.sha256, to_db(at), new.call_id, new.lead_id, self._dealer_id),
                )  # fmt: skip
                detail = {
                    "path": new.path,
                    "sha256": new.sha256,
                    "size_bytes": new.size_bytes,
                    "duration_s": new.duration_s,
                }
                await _audit(tx, recording_id, AuditAction.REGISTERED, actor, at, detail)
        except IntegrityError as exc:
            raise IntegrityError(f"recording call_id={new.call_id!r} path={new.path!r}: {exc}") from exc
        found = await self.get(recording_id)
        assert found is not None  # just committed
        return found

    async def replace_file(
        self,
        recording_id: int,
        *,
        path: str,
        format: AudioFormat,
        size_bytes: int,
        sha256: str,
        at: datetime,
        actor: str,
    ) -> Recording:
        """The file was converted (compression): point the row at the new file; the WAV's checksum stays."""
        async with self._db.write() as tx:
            old = await tx.fetchone("SELECT path, sha256, size_bytes FROM recordings WHERE id = ?", (recording_id,))
            if old is None:
                raise IntegrityError(f"recording id={recording_id}: no such recording")
            await tx.execute(
                "UPDATE recordings SET path = ?, format = ?, size_bytes = ?, sha256 = ? WHERE id = ?",
                (path, format.value, size_bytes, sha256, recording_id),
            )
            detail = {"from": old["path"], "from_sha256": old["sha256"], "from_size_bytes": old["size_bytes"],
                      "to": path, "sha256": sha256, "size_bytes": size_bytes}  # fmt: skip
            await _audit(tx, recording_id, AuditAction.COMPRESSED, actor, at, detail)
        found = await self.get(recording_id)
        assert found is not None
        return found

    async def mark_deleted(
        self, recording_id: int, *, at: datetime, actor: str, reason: str, action: AuditAction = AuditAction.DELETED
    ) -> bool:
        """Stamp the row as gone (the file was deleted, or found missing); False if it already was."""
        async with self._db.write() as tx:
            row = await tx.fetchone(
                "SELECT path, sha256 FROM recordings WHERE id = ? AND deleted_at IS NULL", (recording_id,)
            )
            if row is None:
                return False
            await tx.execute(
                "UPDATE recordings SET deleted_at = ?, delete_reason = ? WHERE id = ?",
                (to_db(at), reason, recording_id),
            )
            await _audit(
                tx, recording_id, action, actor, at, {"path": row["path"], "sha256": row["sha256"], "reason": reason}
            )
        return True

    async def get(self, recording_id: int, dealers: DealerScope = EVERY_DEALER) -> Recording | None:
        """The recording with this id (deleted or not), or None (also when ``dealers`` does not see it)."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"{_SELECT} WHERE r.id = ? AND {dealer_sql(dealers, 'r.dealer_id')}", (recording_id,)
            )
        return None if row is None else _recording(row)

    async def get_by_call(self, call_id: str) -> Recording | None:
        """The recording of one call, or None: a call has at most one."""
        async with self._db.read() as r:
            row = await r.fetchone(f"{_SELECT} WHERE r.call_id = ?", (call_id,))
        return None if row is None else _recording(row)

    async def by_calls(self, call_ids: Sequence[str]) -> dict[str, Recording]:
        """Call id -> its recording (deleted or not), for the calls that have one."""
        found: dict[str, Recording] = {}
        async with self._db.read() as r:
            for start in range(0, len(call_ids), _IN_BATCH):
                batch = list(call_ids[start : start + _IN_BATCH])
                marks = ", ".join("?" * len(batch))
                rows = await r.fetchall(f"{_SELECT} WHERE r.call_id IN ({marks})", batch)
                found.update((row["call_id"], _recording(row)) for row in rows)
        return found

    @property
    def node(self) -> DealerScope:
        """This node's dealer: whose recordings are in this node's folder (another dealer's are on theirs)."""
        return DealerScope.of(self._dealer_id)

    async def expired(self, before: datetime, limit: int) -> list[Recording]:
        """This node's dealer's recordings still on disk that started before ``before``, oldest first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"{_SELECT} WHERE r.deleted_at IS NULL AND r.started_at < ? AND {dealer_sql(self.node, 'r.dealer_id')}"
                " ORDER BY r.started_at LIMIT ?",
                (to_db(before), limit),
            )
        return [_recording(row) for row in rows]

    async def live_paths(self) -> dict[str, int]:
        """Path -> id of every recording of this node's dealer whose file should exist (in this node's folder)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT path, id FROM recordings WHERE deleted_at IS NULL AND {dealer_sql(self.node, 'dealer_id')}"
            )
        return {row["path"]: row["id"] for row in rows}

    async def search(
        self,
        *,
        number: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[Recording]:
        """Evidence search, newest first: exact E.164 number, agent, and [since, until) on the start time;
        only the recordings ``dealers`` sees."""
        where: list[str] = [dealer_sql(dealers, "r.dealer_id")]
        params: list[Any] = []
        for clause, value in (("a.number = ?", number), ("r.agent = ?", agent)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if since is not None:
            where.append("r.started_at >= ?")
            params.append(to_db(since))
        if until is not None:
            where.append("r.started_at < ?")
            params.append(to_db(until))
        if not include_deleted:
            where.append("r.deleted_at IS NULL")
        sql = (
            _SELECT
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
        )
        async with self._db.read() as r:
            rows = await r.fetchall(sql, (*params, limit))
        return [_recording(row) for row in rows]

    async def audit_trail(
        self,
        recording_id: int | None = None,
        limit: int = 100,
        *,
        actor: str | None = None,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[AuditEntry]:
        """Newest first: one recording's history, or every entry; only ``actor``'s when given; only of the
        recordings ``dealers`` sees (an entry takes its dealer through its recording)."""
        where = [(c, v) for c, v in (("recording_id", recording_id), ("actor", actor)) if v is not None]
        clauses = [f"{c} = ?" for c, _ in where]
        if dealers.dealer_id is not None:  # (an orphan file's entry, of no recording, is the group's)
            clauses.append(
                f"recording_id IN (SELECT d.id FROM recordings d WHERE {dealer_sql(dealers, 'd.dealer_id')})"
            )
        sql = "SELECT recording_id, action, actor, at, detail FROM recording_audit"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        params: tuple[Any, ...] = (*(v for _, v in where), limit)
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " ORDER BY id DESC LIMIT ?", params)
        return [
            AuditEntry(
                row["recording_id"],
                AuditAction(row["action"]),
                row["actor"],
                from_db(row["at"]),
                json.loads(row["detail"]),
            )
            for row in rows
        ]
