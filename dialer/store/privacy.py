"""A person's rows, found, exported and anonymized (migrations 0110, 0111): PIPL articles 45 and 47.

"A person" is a number and, when a lead owns it, that lead with all its numbers: every row the
dialer keeps about them is found through those numbers or that lead id. Anonymizing keeps the rows
(KPIs, the DOSS record count, campaign progress stay true) and removes what names or describes the
person: name, numbers, notes, message text. The suppression list is kept as it is: a person who
asked not to be contacted must stay uncontacted after their erasure (PIPL art. 47 allows keeping
what a legal duty needs).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialer.domain.privacy.erasure import ERASED, Erasure, ErasureCounts
from dialer.store.database import Database, Reader, Row, Tx
from dialer.timestamps import from_db, to_db

# Keys of lead_events.data that can carry what a person said or who they are: the only change the
# append-only trigger of migration 0111 lets through.
_EVENT_TEXT_KEYS = ("reason", "text", "note", "name", "phones_added", "defeat_reason", "reply")
# Tables and the rows about a person, for the export: (table, condition on :numbers / :lead).
_ABOUT = (
    ("leads", "id = :lead"),
    ("lead_phones", "lead_id = :lead OR e164 IN ({numbers})"),
    ("lead_events", "lead_id = :lead"),
    ("campaign_leads", "lead_id = :lead"),
    ("attempts", "lead_id = :lead OR number IN ({numbers})"),
    ("recordings", "lead_id = :lead OR call_id IN (SELECT call_id FROM attempts WHERE number IN ({numbers}))"),
    ("sms_messages", "lead_id = :lead OR to_e164 IN ({numbers})"),
    ("sms_inbound", "lead_id = :lead OR sender IN ({numbers})"),
    ("sms_call_tasks", "lead_id = :lead"),
    ("doss_outbox", "lead_id = :lead"),
    ("suppressions", "lead_id = :lead OR e164 IN ({numbers})"),
)


@dataclass(frozen=True, slots=True)
class Person:
    """The numbers and the lead (if any) a request names."""

    numbers: tuple[str, ...]
    lead_id: int | None


@dataclass(frozen=True, slots=True)
class DueRecording:
    """A recording whose deletion is due (an erased person's, once past its evidence period)."""

    recording_id: int
    started_at: datetime


def _numbered(numbers: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = {f"n{i}": n for i, n in enumerate(numbers)}
    return ", ".join(f":{k}" for k in names), names


def _plain(row: Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}


class PrivacyStore:
    """Finds, exports and anonymizes a person's rows; records erasures; applies retention."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def person(self, e164: str) -> Person:
        """The number and, when a lead owns it, the lead with all its numbers."""
        async with self._db.read() as r:
            return await self._person(r, e164)

    async def _person(self, r: Reader | Tx, e164: str) -> Person:
        lead_id = await r.fetchval("SELECT lead_id FROM lead_phones WHERE e164 = ?", (e164,))
        if lead_id is None:
            # An erased lead has no numbers left; its suppression entries still name it.
            lead_id = await r.fetchval(
                "SELECT lead_id FROM suppressions WHERE e164 = ? AND lead_id IS NOT NULL ORDER BY id DESC LIMIT 1",
                (e164,),
            )
        numbers = [e164]
        if lead_id is not None:
            rows = await r.fetchall("SELECT e164 FROM lead_phones WHERE lead_id = ? ORDER BY rowid", (lead_id,))
            numbers += [row[0] for row in rows if row[0] != e164]
        return Person(tuple(numbers), lead_id)

    async def rows_about(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        """Every row about the person, by table, in id order (one snapshot)."""
        marks, names = _numbered(person.numbers)
        params = {**names, "lead": person.lead_id}
        out: dict[str, list[dict[str, Any]]] = {}
        async with self._db.read() as r:
            for table, where in _ABOUT:
                sql = f"SELECT * FROM {table} WHERE {where.format(numbers=marks)} ORDER BY 1"
                out[table] = [_plain(row) for row in await r.fetchall(sql, params)]
        return out

    async def erase(
        self, person: Person, at: datetime, actor: str, salt: bytes, number_digest: str, evidence: timedelta
    ) -> tuple[int, ErasureCounts, list[DueRecording]]:
        """Anonymize the person's rows and record the erasure, in one transaction.

        Returns the erasure's id, what was changed, and the recordings old enough to delete now;
        the younger ones are scheduled (``recording_erasures``) for the retention run.
        """
        marks, names = _numbered(person.numbers)
        async with self._db.write() as tx:
            lead = await self._anonymize_lead(tx, person.lead_id) if person.lead_id is not None else (0, 0)
            recordings = await tx.fetchall(
                f"SELECT id, started_at FROM recordings WHERE deleted_at IS NULL AND (lead_id = :lead OR call_id IN"
                f" (SELECT call_id FROM attempts WHERE number IN ({marks}) OR lead_id = :lead))",
                {**names, "lead": person.lead_id},
            )
            attempts = await tx.execute(
                f"UPDATE attempts SET number = NULL, detail = NULL WHERE (number IN ({marks}) OR lead_id = :lead)"
                " AND outcome IS NOT NULL",
                {**names, "lead": person.lead_id},
            )
            sms = await tx.execute(
                f"UPDATE sms_messages SET to_e164 = '', body = :erased WHERE to_e164 IN ({marks}) OR lead_id = :lead",
                {**names, "lead": person.lead_id, "erased": ERASED},
            )
            inbound = await tx.execute(
                f"UPDATE sms_inbound SET sender = '', text = :erased WHERE sender IN ({marks}) OR lead_id = :lead",
                {**names, "lead": person.lead_id, "erased": ERASED},
            )
            now_due = [DueRecording(row["id"], from_db(row["started_at"])) for row in recordings]
            delete_now = [d for d in now_due if d.started_at + evidence <= at]
            later = [d for d in now_due if d.started_at + evidence > at]
            counts = ErasureCounts(
                leads=lead[0],
                lead_events=lead[1],
                attempts=attempts,
                sms_messages=sms,
                sms_inbound=inbound,
                recordings_deleted=len(delete_now),
                recordings_scheduled=len(later),
            )
            erasure_id = await tx.insert(
                "INSERT INTO erasures (at, actor, salt, number_digest, counts) VALUES (?, ?, ?, ?, ?)",
                (to_db(at), actor, salt.hex(), number_digest, json.dumps(dataclasses.asdict(counts))),
            )
            await tx.executemany(
                "INSERT INTO recording_erasures (recording_id, erasure_id, due_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(d.recording_id, erasure_id, to_db(d.started_at + evidence)) for d in later],
            )
        return erasure_id, counts, delete_now

    async def _anonymize_lead(self, tx: Tx, lead_id: int) -> tuple[int, int]:
        """Blank what names or describes the person on the lead, its history and its DOSS rows."""
        leads = await tx.execute(
            "UPDATE leads SET name = ?, current_car = NULL, purchase_date = NULL, note = NULL, defeat_reason = NULL"
            " WHERE id = ?",
            (ERASED, lead_id),
        )
        await tx.execute("DELETE FROM lead_phones WHERE lead_id = ?", (lead_id,))
        dialect = self._db.dialect
        events = await tx.execute(
            f"UPDATE lead_events SET data = {dialect.json_without('data', _EVENT_TEXT_KEYS)} WHERE lead_id = ?",
            (lead_id,),
        )
        payload = dialect.json_replaced("payload", {"lead.name": "?", "lead.phone": None, "note": None, "text": "?"})
        await tx.execute(
            f"UPDATE doss_outbox SET payload = {payload} WHERE lead_id = ?",
            (ERASED, ERASED, lead_id),
        )
        return leads, events

    async def erasures(self) -> list[Erasure]:
        """Every erasure, oldest first (to answer "was I erased?")."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM erasures ORDER BY id")
        return [
            Erasure(row["id"], from_db(row["at"]), row["actor"], bytes.fromhex(row["salt"]), row["number_digest"],
                    ErasureCounts(**json.loads(row["counts"])))
            for row in rows
        ]  # fmt: skip

    # -- retention -------------------------------------------------------------------------------

    async def stale_leads(self, cutoff: datetime, limit: int) -> list[int]:
        """Leads no one touched since ``cutoff`` that still carry personal data."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT id FROM leads WHERE updated_at < ? AND (name != ? OR EXISTS"
                " (SELECT 1 FROM lead_phones p WHERE p.lead_id = leads.id)) ORDER BY id LIMIT ?",
                (to_db(cutoff), ERASED, limit),
            )
        return [row[0] for row in rows]

    async def expire_lead(self, lead_id: int) -> None:
        """Anonymize one lead past its retention (its calls and SMS follow their own periods)."""
        async with self._db.write() as tx:
            await self._anonymize_lead(tx, lead_id)

    async def expire_sms(self, cutoff: datetime) -> int:
        """Anonymize SMS sent or received before ``cutoff``; returns how many."""
        async with self._db.write() as tx:
            sent = await tx.execute(
                "UPDATE sms_messages SET to_e164 = '', body = ? WHERE created_at < ? AND body != ?"
                " AND status IN ('sent', 'delivered', 'failed', 'dead')",
                (ERASED, to_db(cutoff), ERASED),
            )
            received = await tx.execute(
                "UPDATE sms_inbound SET sender = '', text = ? WHERE at < ? AND text != ?",
                (ERASED, to_db(cutoff), ERASED),
            )
        return sent + received

    async def expire_attempts(self, cutoff: datetime) -> int:
        """Remove the number (and free-text detail) of finished attempts made before ``cutoff``."""
        async with self._db.write() as tx:
            return await tx.execute(
                "UPDATE attempts SET number = NULL, detail = NULL"
                " WHERE created_at < ? AND number IS NOT NULL AND outcome IS NOT NULL",
                (to_db(cutoff),),
            )

    async def due_recordings(self, now: datetime) -> list[int]:
        """Recordings of erased people whose evidence period is over."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT recording_id FROM recording_erasures WHERE due_at <= ? ORDER BY due_at", (to_db(now),)
            )
        return [row[0] for row in rows]

    async def recording_erased(self, recording_id: int) -> None:
        """A scheduled recording was deleted: forget the schedule."""
        async with self._db.write() as tx:
            await tx.execute("DELETE FROM recording_erasures WHERE recording_id = ?", (recording_id,))
