"""The due query with its per-campaign values written into the statement (so that PostgreSQL's one
plan for it knows them) returns exactly what it returned with them as parameters: same rows, same
order, on a varied store (HQ deadlines, callbacks, opt-outs, DNC, calls in flight, claims, attempts
and per-day caps, consent, lead states), for several limits, caps and state sets. Both backends.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from bench.hopper import NOW, fill_sqlite
from dialer.domain.campaigns.definition import OPEN_STATES, parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.progress import DueQuery
from dialer.domain.leads.model import LeadState
from dialer.settings import Settings
from dialer.store.campaigns import _DUE_TIERS, CampaignStore, _due_sql
from dialer.store.database import Database
from dialer.store.suppressions import SUPPRESSED
from dialer.timestamps import to_db

LEADS = 1500


async def varied_store(db: Database) -> int:
    """The bench's mix of leads, enrolled in a running campaign, then varied; the campaign's id."""
    await fill_sqlite(db, LEADS)
    settings = Settings()
    store = CampaignStore(db, settings)
    definition = parse_definition(
        {"name": "due", "kind": "hq", "filter": {"sources": ["hq", "base_customer"]}}, "t", settings
    )
    campaign = await store.create(definition, "t", NOW, "tester")
    await store.transition(campaign.id, Command.START, NOW, "tester")
    await store.enrol(await store.get(campaign.id), NOW)
    today = NOW.date().isoformat()
    async with db.write() as tx:
        await tx.execute(
            "UPDATE campaign_leads SET attempts = lead_id % 5, attempts_today = lead_id % 3,"
            " attempts_day = CASE WHEN lead_id % 2 = 0 THEN ? ELSE '2026-11-29' END,"
            " next_attempt_at = CASE WHEN lead_id % 7 = 0 THEN ? ELSE next_attempt_at END,"
            " promised = CASE WHEN lead_id % 9 = 0 THEN 1 ELSE promised END",
            (today, to_db(NOW + timedelta(hours=1))),
        )
        await tx.execute(
            "UPDATE campaign_leads SET status = 'claimed', claimed_at = ? WHERE lead_id % 11 = 0", (to_db(NOW),)
        )
        await tx.execute("UPDATE leads SET consent = CASE WHEN id % 3 = 0 THEN 1 WHEN id % 3 = 1 THEN 0 END")
        await tx.execute("UPDATE leads SET state = ? WHERE id % 13 = 0", (LeadState.DEAL.value,))
        await tx.execute("UPDATE leads SET state = ? WHERE id % 17 = 0", (LeadState.FOLLOWING.value,))
    return campaign.id


async def test_the_due_query_with_its_values_written_in_returns_what_it_did(db: Database) -> None:
    campaign_id = await varied_store(db)
    suppressed = SUPPRESSED.format(number="p.e164")
    compared = 0
    async with db.read() as r:
        for limit, max_attempts, max_per_day, consent, states in itertools.product(
            (3, 8, 40), (1, 3, 6), (1, 2), (False, True), (OPEN_STATES, (LeadState.NEW,))
        ):
            query = DueQuery(campaign_id, NOW, NOW.date(), max_attempts, max_per_day, states, limit)
            old_params = {
                "campaign": campaign_id, "now": to_db(NOW), "today": query.today.isoformat(),
                "max_attempts": max_attempts, "max_per_day": max_per_day, "limit": limit,
                "consent_required": int(consent), **{f"s{i}": s.value for i, s in enumerate(states)},
            }  # fmt: skip
            # The same statement with every value a parameter (as it was before they were written in).
            old_sql = _DUE_TIERS.format(
                max_attempts=":max_attempts", max_per_day=":max_per_day", consent_required=":consent_required",
                limit=":limit", states=", ".join(f":s{i}" for i in range(len(states))), suppressed=suppressed,
            )  # fmt: skip
            old = [tuple(row) for row in await r.fetchall(old_sql, old_params)]
            new_params = {"campaign": campaign_id, "now": to_db(NOW), "today": query.today.isoformat()}
            new = [tuple(row) for row in await r.fetchall(_due_sql(query, consent), new_params)]
            assert new == old, (limit, max_attempts, max_per_day, consent, states)
            compared += bool(old)
    assert compared > 48  # most variants pick something: the comparison is not of empty lists
