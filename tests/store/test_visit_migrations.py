"""A store from before #13's visit follow-through keeps every lead, event, outbox row and reply when the three
rebuilt tables (leads, doss_outbox, sms_inbound) take their new kinds and column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dialer.clock import VirtualClock
from dialer.store.database import Database
from tests.conftest import migrations_before

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
NEW = ("0016_lead_visit_answers.sql", "0042_sms_inbound_declined.sql", "0086_doss_outbox_sms_reply.sql")


async def test_an_older_store_keeps_its_rows_and_takes_the_new_kinds(tmp_path: Path) -> None:
    old = tmp_path / "old"
    migrations_before(old, "0110", also_left_out=NEW)  # 0110 came later still (it drops leads.opt_out_at)
    store = tmp_path / "db.sqlite3"
    at = "2026-11-29T01:00:00.000000Z"
    async with await Database.open(store, clock=VirtualClock(T0), migrations_dir=old) as db, db.write() as tx:
        await tx.execute(
            "INSERT INTO leads (id, name, source, state, created_at, created_by, updated_at, visit_at, due_at, due_kind)"
            " VALUES (1, '张三', 'hq', 'invited', ?, 't', ?, ?, ?, 'visit_reminder')",
            (at, at, at, at),
        )
        await tx.execute("INSERT INTO lead_events (id, lead_id, kind, at, actor) VALUES (7, 1, 'state', ?, 't')", (at,))
        await tx.execute(
            "INSERT INTO doss_outbox (idempotency_key, lead_id, event_id, kind, payload, actor, created_at,"
            " next_attempt_at) VALUES ('k', 1, 7, 'milestone', '{}', 't', ?, ?)",
            (at, at),
        )
        await tx.execute(
            "INSERT INTO sms_inbound (at, sender, text, kind, lead_id) VALUES (?, '+8613800138000', '1', 'interested', 1)",
            (at,),
        )
    async with await Database.open(store, clock=VirtualClock(T0)) as db:
        async with db.write() as tx:
            await tx.execute("UPDATE leads SET due_kind = 'no_show', visit_confirmed_at = ? WHERE id = 1", (at,))
            await tx.execute("UPDATE sms_inbound SET kind = 'declined'")
            await tx.execute("UPDATE doss_outbox SET kind = 'sms_reply'")
        async with db.read() as r:
            lead = (await r.fetchall("SELECT name, visit_at, due_kind FROM leads"))[0]
            assert (lead["name"], lead["visit_at"], lead["due_kind"]) == ("张三", at, "no_show")
            assert await r.fetchval("SELECT COUNT(*) FROM lead_events") == 1
            assert await r.fetchval("SELECT kind FROM doss_outbox") == "sms_reply"
            assert await r.fetchval("SELECT kind FROM sms_inbound") == "declined"
            assert await r.fetchall("PRAGMA foreign_key_check") == []
