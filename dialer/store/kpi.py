"""Read-only queries that feed the KPI maths (dialer/domain/kpi/metrics.py) from the lead tables.

The events that count are the leads package's own history kinds (docs/kpi.md):
``contact`` with channel ``phone`` is a phone follow-up, ``state`` carries the new
state in ``data.to``, and every ``contact`` or ``attempt`` by phone is one call
made by its ``actor``. Nothing here writes.
"""

from __future__ import annotations

from datetime import datetime

from dialer.actors import SYSTEM_ACTOR
from dialer.domain.kpi.metrics import CallFact, ContactFact, KpiInput, LeadFact, StateFact
from dialer.domain.leads.model import LeadEventKind, LeadSource, LeadState
from dialer.store.database import Database
from dialer.timestamps import from_db, from_db_or_none, to_db


async def kpi_input(db: Database, calls_from: datetime, until: datetime) -> KpiInput:
    """Every lead and lead event before ``until``; calls only from ``calls_from`` (the month's start).

    Leads and events go back to the beginning because "carried over un-followed"
    and "first follow-up" depend on a lead's whole history, not just the month.
    """
    end = to_db(until)
    phone = f"{db.dialect.json_text('data', 'channel')} = 'phone'"
    async with db.read() as r:
        lead_rows = await r.fetchall(
            "SELECT id, source, created_at, owner, issued_at, handed_over_at FROM leads WHERE created_at < ?", (end,)
        )
        contact_rows = await r.fetchall(
            f"SELECT lead_id, at FROM lead_events WHERE kind = ? AND {phone} AND at < ?",
            (LeadEventKind.CONTACT.value, end),
        )
        state_rows = await r.fetchall(
            f"SELECT lead_id, at, {db.dialect.json_text('data', 'to')} AS state FROM lead_events WHERE kind = ? AND at < ?",
            (LeadEventKind.STATE.value, end),
        )
        # Calls per agent: the dialer's own filings (unanswered calls no agent took) are not an agent's calls.
        call_rows = await r.fetchall(
            f"SELECT actor, at FROM lead_events WHERE kind IN (?, ?) AND {phone} AND at >= ? AND at < ? AND actor != ?",
            (LeadEventKind.CONTACT.value, LeadEventKind.ATTEMPT.value, to_db(calls_from), end, SYSTEM_ACTOR),
        )
    return KpiInput(
        leads=[
            LeadFact(
                id=row["id"],
                source=LeadSource(row["source"]),
                created_at=from_db(row["created_at"]),
                owner=row["owner"],
                issued_at=from_db_or_none(row["issued_at"]),
                handed_over_at=from_db_or_none(row["handed_over_at"]),
            )
            for row in lead_rows
        ],
        contacts=[ContactFact(row["lead_id"], from_db(row["at"])) for row in contact_rows],
        states=[StateFact(row["lead_id"], from_db(row["at"]), LeadState(row["state"])) for row in state_rows],
        calls=[CallFact(row["actor"], from_db(row["at"])) for row in call_rows],
    )
