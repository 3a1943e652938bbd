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
from dialer.store.campaigns import CampaignStore, _due_sql
from dialer.store.database import Database
from dialer.store.suppressions import SUPPRESSED
from dialer.timestamps import to_db

LEADS = 1500

# The statement as it was before (main, 2026-12-03): every value a parameter.
_OLD_SELECT = """
SELECT cl.lead_id, cl.next_attempt_at, cl.promised, cl.callback_owner, cl.handoff, cl.attempts, l.owner,
       cl.callback_at IS NOT NULL AND cl.callback_at = l.callback_at AS callback,
       CASE WHEN l.due_kind = 'first_follow_up' THEN l.due_at END AS deadline,
       (SELECT p.e164 FROM lead_phones p
         WHERE p.lead_id = cl.lead_id AND NOT {suppressed}
         ORDER BY p.kind != 'mobile', p.rowid LIMIT 1) AS phone
  FROM campaign_leads cl JOIN leads l ON l.id = cl.lead_id
 WHERE cl.campaign_id = :campaign AND cl.status = 'active' AND cl.next_attempt_at <= :now
   AND cl.attempts < :max_attempts
   AND (cl.attempts_day IS DISTINCT FROM :today OR cl.attempts_today < :max_per_day)
   AND (:consent_required = 0 OR l.consent = 1) AND l.state IN ({states})
   AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.lead_id = cl.lead_id AND a.outcome IS NULL)
   AND NOT EXISTS (SELECT 1 FROM campaign_leads o WHERE o.lead_id = cl.lead_id AND o.status = 'claimed')
   AND EXISTS (SELECT 1 FROM lead_phones p WHERE p.lead_id = cl.lead_id AND NOT {suppressed})
"""
_OLD_TIERS = " UNION ALL ".join(
    f"SELECT * FROM ({_OLD_SELECT}{tier}) AS tier{n}"
    for n, tier in enumerate(
        (
            "AND cl.deadline_at IS NOT NULL ORDER BY cl.deadline_at LIMIT :limit",
            "AND cl.promised = 1 ORDER BY cl.next_attempt_at LIMIT :limit",
            "ORDER BY cl.next_attempt_at LIMIT :limit",
        )
    )
)


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
            old_sql = _OLD_TIERS.format(states=", ".join(f":s{i}" for i in range(len(states))), suppressed=suppressed)
            old = [tuple(row) for row in await r.fetchall(old_sql, old_params)]
            new_params = {"campaign": campaign_id, "now": to_db(NOW), "today": query.today.isoformat()}
            new = [tuple(row) for row in await r.fetchall(_due_sql(query, consent), new_params)]
            assert new == old, (limit, max_attempts, max_per_day, consent, states)
            compared += bool(old)
    assert compared > 48  # most variants pick something: the comparison is not of empty lists
