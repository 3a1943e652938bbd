"""SMS in the store: the only code that reads or writes the sms_* tables (migration 0040).

The outbox protocol lives here as small transactions, each committed before the next
network step, so a crash at any point leaves rows that say exactly what is known:
``queued`` (not sent), ``sending`` (a submit may be in flight: ambiguous after a crash),
``sent`` (the gateway took it, with its id), ``delivered``/``failed`` (the receipt came).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.store.database import Database, Row, Tx
from dialer.store.dealers import dealer_sql
from dialer.store.suppressions import SUPPRESSED
from dialer.timestamps import from_db, from_db_or_none, to_db

MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "dead")


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to write to the outbox (already rendered and segmented)."""

    to_e164: str
    body: str
    coding: int
    parts: int
    promotional: bool
    template: str | None
    lead_id: int | None
    wave_id: int | None
    dedupe_key: str | None
    actor: str
    not_before: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message as the outbox holds it."""

    id: int
    to_e164: str
    body: str
    coding: int
    parts: int
    promotional: bool
    template: str | None
    lead_id: int | None
    wave_id: int | None
    status: str
    ambiguous: bool
    attempts: int
    created_at: datetime
    not_before: datetime
    last_error: str | None
    sent_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class PartRow:
    """One SMS part of a message."""

    message_id: int
    seq: int
    client_ref: int
    status: str
    smsc_id: str | None


@dataclass(frozen=True, slots=True)
class InboundRow:
    """A stored inbound SMS."""

    id: int
    at: datetime
    sender: str
    text: str
    kind: str
    lead_id: int | None
    reply_to: int | None


@dataclass(frozen=True, slots=True)
class CallTaskRow:
    """A hand-off to calling: the hopper calls ``lead_id`` from ``due_at`` on, higher priority first."""

    id: int
    lead_id: int
    priority: int
    due_at: datetime
    reason: str
    wave_id: int | None
    created_at: datetime
    taken_at: datetime | None


@dataclass(frozen=True, slots=True)
class BaseCustomer:
    """What a repurchase wave needs to know about one existing owner."""

    lead_id: int
    name: str
    model: str | None
    current_car: str | None
    purchase_date: date | None
    owner: str | None
    mobile: str


@dataclass(frozen=True, slots=True)
class WaveRow:
    """A repurchase wave and its cadence parameters."""

    id: int
    name: str
    template: str
    created_at: datetime
    selection: Mapping[str, Any]
    wait_hours: float
    min_reply_rate: float
    handoff: str
    phase: str
    sent_at: datetime | None
    decide_at: datetime | None
    decided_at: datetime | None
    reply_rate: float | None


def client_ref(message_id: int) -> int:
    """The 16-bit reference of a message's parts (receipts echo it; reconciliation matches on it)."""
    return message_id & 0xFFFF


def _message(row: Row) -> OutboxMessage:
    return OutboxMessage(
        row["id"],
        row["to_e164"],
        row["body"],
        row["coding"],
        row["parts"],
        bool(row["promotional"]),
        row["template"],
        row["lead_id"],
        row["wave_id"],
        row["status"],
        bool(row["ambiguous"]),
        row["attempts"],
        from_db(row["created_at"]),
        from_db(row["not_before"]),
        row["last_error"],
        from_db_or_none(row["sent_at"]),
        from_db_or_none(row["delivered_at"]),
    )


def _wave(row: Row) -> WaveRow:
    return WaveRow(
        row["id"],
        row["name"],
        row["template"],
        from_db(row["created_at"]),
        json.loads(row["selection"]),
        row["wait_hours"],
        row["min_reply_rate"],
        row["handoff"],
        row["phase"],
        from_db_or_none(row["sent_at"]),
        from_db_or_none(row["decide_at"]),
        from_db_or_none(row["decided_at"]),
        row["reply_rate"],
    )


class SmsStore:
    """Reads and writes the SMS tables; every method is one transaction (or joins the caller's)."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer. Its SMS worker sends, recovers and reminds that dealer's
        messages and leads only (each dealer's node has its own SMSC account and signature); a message
        or reply is its lead's dealer's, else this node's."""
        self._db = db
        self._dealer_id = dealer_id

    # -- outbox: writing --------------------------------------------------------------------

    async def add_message(self, msg: NewMessage, at: datetime) -> tuple[int, bool]:
        """Write a message and its parts; returns (id, created). A known dedupe_key returns the old id."""
        async with self._db.write() as tx:
            if msg.dedupe_key is not None:
                old = await tx.fetchval("SELECT id FROM sms_messages WHERE dedupe_key = ?", (msg.dedupe_key,))
                if old is not None:
                    return int(old), False
            message_id = await tx.insert(
                "INSERT INTO sms_messages (template, promotional, lead_id, wave_id, to_e164, body, coding, parts, status,"
                " dedupe_key, actor, created_at, updated_at, not_before, dealer_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?,"
                " COALESCE((SELECT l.dealer_id FROM leads l WHERE l.id = ?), ?))",
                (
                    msg.template,
                    int(msg.promotional),
                    msg.lead_id,
                    msg.wave_id,
                    msg.to_e164,
                    msg.body,
                    msg.coding,
                    msg.parts,
                    msg.dedupe_key,
                    msg.actor,
                    to_db(at),
                    to_db(at),
                    to_db(msg.not_before),
                    msg.lead_id,
                    self._dealer_id,
                ),
            )
            await tx.executemany(
                "INSERT INTO sms_parts (message_id, seq, client_ref, status) VALUES (?, ?, ?, 'queued')",
                [(message_id, seq, client_ref(message_id)) for seq in range(1, msg.parts + 1)],
            )
            return message_id, True

    async def ready(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Queued messages whose time has come, oldest first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT * FROM sms_messages WHERE status = 'queued' AND not_before <= ? AND dealer_id = ?"
                " ORDER BY not_before, id LIMIT ?",
                (to_db(now), self._dealer_id, limit),
            )
        return [_message(row) for row in rows]

    async def parts(self, message_id: int) -> list[PartRow]:
        """The parts of a message in order."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM sms_parts WHERE message_id = ? ORDER BY seq", (message_id,))
        return [PartRow(x["message_id"], x["seq"], x["client_ref"], x["status"], x["smsc_id"]) for x in rows]

    async def mark_sending(self, message_id: int, seq: int, at: datetime) -> bool:
        """Claim a queued part for submission; committed BEFORE submit_sm.

        After a crash this row says "a submit may be out there". The claim is a compare-and-set
        on 'queued', so two workers (the service and a CLI ``send --wait``) never submit the same
        part: False means someone else has it.
        """
        async with self._db.write() as tx:
            claimed = await tx.execute(
                "UPDATE sms_parts SET status = 'sending', submitted_at = ? WHERE message_id = ? AND seq = ? AND status = 'queued'",
                (to_db(at), message_id, seq),
            )
            if claimed:
                await tx.execute(
                    "UPDATE sms_messages SET status = 'sending', updated_at = ? WHERE id = ?", (to_db(at), message_id)
                )
            return claimed == 1

    async def defer(self, message_id: int, until: datetime, at: datetime) -> None:
        """Not now (outside the sending window): the message waits, its parts untouched."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_messages SET not_before = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
                (to_db(until), to_db(at), message_id),
            )

    async def mark_sent(self, message_id: int, seq: int, smsc_id: str, at: datetime) -> None:
        """The gateway took the part and named it ``smsc_id``.

        Only a part still ``sending`` becomes ``sent``: a fast SMSC's receipt can arrive (and be
        applied by number and reference) before this runs, and its final state must stand.
        """
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_parts SET status = 'sent', smsc_id = ? WHERE message_id = ? AND seq = ? AND status = 'sending'",
                (smsc_id, message_id, seq),
            )
            await self._settle(tx, message_id, at)

    async def release(
        self, message_id: int, seq: int, error: str, retry_at: datetime, at: datetime, *, count: bool, dead: bool
    ) -> None:
        """The part did not go out (link down, or refused): back to queued, or dead after too many refusals."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_parts SET status = 'queued', submitted_at = NULL WHERE message_id = ? AND seq = ?",
                (message_id, seq),
            )
            await tx.execute(
                "UPDATE sms_messages SET status = ?, attempts = attempts + ?, not_before = ?, last_error = ?, updated_at = ?"
                " WHERE id = ?",
                ("dead" if dead else "queued", int(count), to_db(retry_at), error, to_db(at), message_id),
            )

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Give a message up (e.g. the customer opted out while it waited)."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_messages SET status = 'dead', last_error = ?, updated_at = ? WHERE id = ?",
                (error, to_db(at), message_id),
            )

    async def mark_ambiguous(self, message_id: int, error: str, at: datetime) -> None:
        """A submit got no answer: hold the message (status sending) until a receipt reconciles it."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_messages SET ambiguous = 1, last_error = ?, updated_at = ? WHERE id = ?",
                (error, to_db(at), message_id),
            )

    async def recover(self, at: datetime) -> int:
        """At start-up: a part left in 'sending' was interrupted mid-submit; flag its message ambiguous."""
        async with self._db.write() as tx:
            return await tx.execute(
                "UPDATE sms_messages SET ambiguous = 1, status = 'sending', last_error = 'interrupted during submit', updated_at = ?"
                " WHERE id IN (SELECT message_id FROM sms_parts WHERE status = 'sending') AND ambiguous = 0"
                " AND dealer_id = ?",
                (to_db(at), self._dealer_id),
            )

    async def requeue_ambiguous(self, older_than: datetime, at: datetime) -> int:
        """Resend ambiguous messages no receipt reconciled since ``older_than`` (only if the dealer chose so)."""
        async with self._db.write() as tx:
            ids = [
                r["id"]
                for r in await tx.fetchall(
                    "SELECT id FROM sms_messages WHERE ambiguous = 1 AND status = 'sending' AND updated_at <= ?"
                    " AND dealer_id = ?",
                    (to_db(older_than), self._dealer_id),
                )
            ]
            for message_id in ids:
                await tx.execute(
                    "UPDATE sms_parts SET status = 'queued', submitted_at = NULL WHERE message_id = ? AND status = 'sending'",
                    (message_id,),
                )
                await tx.execute(
                    "UPDATE sms_messages SET ambiguous = 0, status = 'queued', not_before = ?, updated_at = ?,"
                    " last_error = 'ambiguous submit not confirmed: resent' WHERE id = ?",
                    (to_db(at), to_db(at), message_id),
                )
            return len(ids)

    async def apply_receipt(
        self, smsc_id: str, handset: str, ref: int | None, delivered: bool, state: str, at: datetime
    ) -> int | None:
        """Record a receipt; returns the message id, or None when no part matches.

        A receipt for an unknown id is matched to the part held ambiguous for that
        number and client reference: the gateway did take it, so it is adopted, not resent.
        """
        async with self._db.write() as tx:
            row = await tx.fetchone(
                "SELECT message_id, seq FROM sms_parts WHERE smsc_id = ? ORDER BY message_id DESC LIMIT 1", (smsc_id,)
            )
            if row is None and ref is not None:
                row = await tx.fetchone(
                    "SELECT p.message_id, p.seq FROM sms_parts p JOIN sms_messages m ON m.id = p.message_id"
                    " WHERE p.status = 'sending' AND p.client_ref = ? AND m.to_e164 = ? ORDER BY p.message_id DESC LIMIT 1",
                    (ref, handset),
                )
            if row is None:
                return None
            message_id, seq = row["message_id"], row["seq"]
            await tx.execute(
                "UPDATE sms_parts SET status = ?, smsc_id = ?, receipt_at = ?, receipt_state = ? WHERE message_id = ? AND seq = ?",
                ("delivered" if delivered else "failed", smsc_id, to_db(at), state, message_id, seq),
            )
            await self._settle(tx, message_id, at)
            return int(message_id)

    async def _settle(self, tx: Tx, message_id: int, at: datetime) -> None:
        """Derive the message status from its parts."""
        counts = {
            r["status"]: r["n"]
            for r in await tx.fetchall(
                "SELECT status, COUNT(*) AS n FROM sms_parts WHERE message_id = ? GROUP BY status", (message_id,)
            )
        }
        total = sum(counts.values())
        if counts.get("failed"):
            status = "failed"
        elif counts.get("delivered") == total:
            status = "delivered"
        elif counts.get("sending"):
            status = "sending"
        elif counts.get("queued"):
            status = "queued"
        else:
            status = "sent"
        ambiguous = 1 if counts.get("sending") else 0
        await tx.execute(
            "UPDATE sms_messages SET status = ?, ambiguous = ambiguous * ?, updated_at = ?,"
            " sent_at = CASE WHEN ? IN ('sent', 'delivered', 'failed') THEN COALESCE(sent_at, ?) ELSE sent_at END,"
            " delivered_at = CASE WHEN ? = 'delivered' THEN COALESCE(delivered_at, ?) ELSE delivered_at END"
            " WHERE id = ? AND status != 'dead'",
            (status, ambiguous, to_db(at), status, to_db(at), status, to_db(at), message_id),
        )

    # -- outbox: reading --------------------------------------------------------------------

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One message, or None."""
        async with self._db.read() as r:
            row = await r.fetchone("SELECT * FROM sms_messages WHERE id = ?", (message_id,))
        return None if row is None else _message(row)

    async def messages(
        self,
        *,
        status: str | None = None,
        wave_id: int | None = None,
        ambiguous: bool | None = None,
        limit: int = 100,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[OutboxMessage]:
        """Messages newest first, filtered; those ``dealers`` sees."""
        sql = f"SELECT * FROM sms_messages WHERE {dealer_sql(dealers, 'dealer_id')}"
        params: list[Any] = []
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if wave_id is not None:
            sql += " AND wave_id = ?"
            params.append(wave_id)
        if ambiguous is not None:
            sql += " AND ambiguous = ?"
            params.append(int(ambiguous))
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_message(row) for row in rows]

    async def status_counts(self, wave_id: int | None = None) -> dict[str, int]:
        """Messages per status (every status listed, zero included), plus 'ambiguous'."""
        where, params = ("WHERE wave_id = ?", (wave_id,)) if wave_id is not None else ("", ())
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT status, COUNT(*) AS n, SUM(ambiguous) AS a FROM sms_messages {where} GROUP BY status", params
            )
        counts = dict.fromkeys(MESSAGE_STATUSES, 0)
        counts["ambiguous"] = 0
        for row in rows:
            counts[row["status"]] = row["n"]
            counts["ambiguous"] += row["a"] or 0
        return counts

    async def part_counts(self) -> dict[str, int]:
        """SMS parts per status: what the gateway was asked to carry and what it confirmed."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT status, COUNT(*) AS n FROM sms_parts GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def promo_times(self, to_e164: str, since: datetime) -> list[datetime]:
        """When promotional messages to this number were queued since ``since`` (dead ones did not go out)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT created_at FROM sms_messages WHERE to_e164 = ? AND promotional = 1 AND status != 'dead' AND created_at >= ?",
                (to_e164, to_db(since)),
            )
        return [from_db(row["created_at"]) for row in rows]

    # -- inbound, hand-off ------------------------------------------------------------------

    async def latest_outbound(self, e164: str, since: datetime) -> OutboxMessage | None:
        """Our latest message to a number since ``since``: what an inbound SMS from it replies to."""
        async with self._db.read() as r:
            row = await r.fetchone(
                "SELECT * FROM sms_messages WHERE to_e164 = ? AND created_at >= ? AND status != 'dead' ORDER BY id DESC LIMIT 1",
                (e164, to_db(since)),
            )
        return None if row is None else _message(row)

    async def add_inbound(
        self, at: datetime, sender: str, text: str, kind: str, lead_id: int | None, reply_to: int | None
    ) -> int:
        """Keep an inbound SMS, matched or not."""
        async with self._db.write() as tx:
            return await tx.insert(
                "INSERT INTO sms_inbound (at, sender, text, kind, lead_id, reply_to, dealer_id)"
                " VALUES (?, ?, ?, ?, ?, ?, COALESCE((SELECT l.dealer_id FROM leads l WHERE l.id = ?), ?))",
                (to_db(at), sender, text, kind, lead_id, reply_to, lead_id, self._dealer_id),
            )

    async def inbound(
        self,
        *,
        unmatched: bool = False,
        since: datetime | None = None,
        limit: int = 100,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[InboundRow]:
        """Inbound messages newest first (those ``dealers`` sees); ``unmatched`` keeps those no lead claimed."""
        sql = f"SELECT * FROM sms_inbound WHERE {dealer_sql(dealers, 'dealer_id')}"
        params: list[Any] = []
        if unmatched:
            sql += " AND lead_id IS NULL"
        if since is not None:
            sql += " AND at >= ?"
            params.append(to_db(since))
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            InboundRow(x["id"], from_db(x["at"]), x["sender"], x["text"], x["kind"], x["lead_id"], x["reply_to"])
            for x in rows
        ]

    async def add_call_tasks(
        self, tasks: Sequence[tuple[int, int, str]], due_at: datetime, wave_id: int | None, at: datetime
    ) -> int:
        """Hand leads to calling: (lead_id, priority, reason) rows; a lead with an open task of that reason keeps it."""
        async with self._db.write() as tx:
            added = 0
            for lead_id, priority, reason in tasks:
                added += await tx.execute(
                    "INSERT INTO sms_call_tasks (lead_id, priority, due_at, reason, wave_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (lead_id, priority, to_db(due_at), reason, wave_id, to_db(at)),
                )
            return added

    async def call_tasks(
        self, *, open_only: bool = True, limit: int = 1000, dealers: DealerScope = EVERY_DEALER
    ) -> list[CallTaskRow]:
        """The hand-off queue (of the leads ``dealers`` sees), highest priority first, then earliest due."""
        where = "AND taken_at IS NULL" if open_only else ""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT * FROM sms_call_tasks WHERE lead_id IN (SELECT l.id FROM leads l"
                f" WHERE {dealer_sql(dealers, 'l.dealer_id')}) {where} ORDER BY priority DESC, due_at, id LIMIT ?",
                (limit,),
            )
        return [
            CallTaskRow(
                x["id"],
                x["lead_id"],
                x["priority"],
                from_db(x["due_at"]),
                x["reason"],
                x["wave_id"],
                from_db(x["created_at"]),
                from_db_or_none(x["taken_at"]),
            )
            for x in rows
        ]

    async def take_call_task(self, task_id: int, by: str, at: datetime) -> bool:
        """The hopper took the task; False if someone else took it first."""
        async with self._db.write() as tx:
            return (
                await tx.execute(
                    "UPDATE sms_call_tasks SET taken_at = ?, taken_by = ? WHERE id = ? AND taken_at IS NULL",
                    (to_db(at), by, task_id),
                )
                == 1
            )

    # -- waves ------------------------------------------------------------------------------

    async def add_wave(
        self,
        name: str,
        template: str,
        selection: Mapping[str, Any],
        wait_hours: float,
        min_reply_rate: float,
        handoff: str,
        actor: str,
        at: datetime,
    ) -> int:
        """Create a wave in phase 'sending'."""
        async with self._db.write() as tx:
            return await tx.insert(
                "INSERT INTO sms_waves (name, template, created_at, created_by, selection, wait_hours, min_reply_rate,"
                " handoff, phase, dealer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?)",
                (
                    name,
                    template,
                    to_db(at),
                    actor,
                    json.dumps(selection, ensure_ascii=False),
                    wait_hours,
                    min_reply_rate,
                    handoff,
                    self._dealer_id,
                ),
            )

    async def update_wave(
        self,
        wave_id: int,
        phase: str,
        *,
        sent_at: datetime | None = None,
        decide_at: datetime | None = None,
        decided_at: datetime | None = None,
        reply_rate: float | None = None,
    ) -> None:
        """Store what the cadence decided (unchanged fields keep their value)."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE sms_waves SET phase = ?, sent_at = COALESCE(?, sent_at), decide_at = COALESCE(?, decide_at),"
                " decided_at = COALESCE(?, decided_at), reply_rate = COALESCE(?, reply_rate) WHERE id = ?",
                (phase, _opt(sent_at), _opt(decide_at), _opt(decided_at), reply_rate, wave_id),
            )

    async def waves(self, *, phase: str | None = None, dealers: DealerScope = EVERY_DEALER) -> list[WaveRow]:
        """Waves ``dealers`` sees, newest first."""
        mine = dealer_sql(dealers, "dealer_id")
        sql, params = (
            (f"SELECT * FROM sms_waves WHERE phase = ? AND {mine} ORDER BY id DESC", (phase,))
            if phase
            else (f"SELECT * FROM sms_waves WHERE {mine} ORDER BY id DESC", ())
        )
        async with self._db.read() as r:
            return [_wave(row) for row in await r.fetchall(sql, params)]

    async def wave(self, wave_id: int, dealers: DealerScope = EVERY_DEALER) -> WaveRow | None:
        """One wave, or None (also one ``dealers`` does not see)."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT * FROM sms_waves WHERE id = ? AND {dealer_sql(dealers, 'dealer_id')}", (wave_id,)
            )
        return None if row is None else _wave(row)

    async def wave_members(self, wave_id: int) -> list[int]:
        """Leads the wave's SMS was queued for (dead messages did not reach anyone)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT DISTINCT lead_id FROM sms_messages WHERE wave_id = ? AND status != 'dead' AND lead_id IS NOT NULL",
                (wave_id,),
            )
        return [row["lead_id"] for row in rows]

    async def wave_replies(self, wave_id: int) -> list[tuple[int, str, datetime]]:
        """(lead_id, kind, at) of every inbound SMS that replied to one of the wave's messages, oldest first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT i.lead_id, i.kind, i.at FROM sms_inbound i JOIN sms_messages m ON m.id = i.reply_to"
                " WHERE m.wave_id = ? AND i.lead_id IS NOT NULL ORDER BY i.id",
                (wave_id,),
            )
        return [(row["lead_id"], row["kind"], from_db(row["at"])) for row in rows]

    # -- lead selection (read-only) -----------------------------------------------------------

    async def base_customers(self, *, include_suppressed: bool = False) -> list[BaseCustomer]:
        """Open base customers with a mobile number not on the suppression list: the repurchase wave's candidates.
        With ``include_suppressed`` also those whose every mobile is on it (with the first of them), so a
        preview can name them; a customer with a free mobile gets that one either way.

        Read-only over the lead tables; the lead package offers no such selection yet.
        """
        suppressed = SUPPRESSED.format(number="p.e164")
        pick = f"ORDER BY {suppressed}, p.rowid" if include_suppressed else f"AND NOT {suppressed} ORDER BY p.rowid"
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT l.id, l.name, l.model, l.current_car, l.purchase_date, l.owner,"
                f" (SELECT p.e164 FROM lead_phones p WHERE p.lead_id = l.id AND p.kind = 'mobile' {pick} LIMIT 1)"
                " AS mobile"
                " FROM leads l WHERE l.source = 'base_customer' AND l.dealer_id = ?"
                " AND l.state NOT IN ('deal', 'defeated', 'invalid') ORDER BY l.id",
                (self._dealer_id,),
            )
        return [
            BaseCustomer(
                x["id"],
                x["name"],
                x["model"],
                x["current_car"],
                None if x["purchase_date"] is None else date.fromisoformat(x["purchase_date"]),
                x["owner"],
                x["mobile"],
            )
            for x in rows
            if x["mobile"] is not None
        ]

    async def visits_between(self, start: datetime, end: datetime) -> list[int]:
        """Open leads with a visit booked in [start, end), no reminder sent yet and a number not on the
        suppression list."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT id FROM leads WHERE visit_at >= ? AND visit_at < ? AND visit_reminded_at IS NULL"
                " AND EXISTS (SELECT 1 FROM lead_phones p WHERE p.lead_id = leads.id"
                f" AND NOT {SUPPRESSED.format(number='p.e164')})"
                " AND state NOT IN ('deal', 'defeated', 'invalid') AND dealer_id = ? ORDER BY visit_at, id",
                (to_db(start), to_db(end), self._dealer_id),
            )
        return [row["id"] for row in rows]


def _opt(value: datetime | None) -> str | None:
    return None if value is None else to_db(value)
