"""No lead is claimed twice across nodes: several claimers, each on a store of its own (its own
connections, as separate processes have), race to empty one campaign; every lead is claimed once.

On PostgreSQL the claim's read-then-mark runs under the writers' advisory lock, and its UPDATE only
takes leads still ``active``; on SQLite ``BEGIN IMMEDIATE`` serialises the same. Run on both backends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections import Counter
from pathlib import Path

from dialer.campaigns.hopper import Hopper
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.settings import PbxSettings
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database

from .conftest import World

LEADS = 600
CLAIMERS = 4
BATCH = 7  # not a divisor of LEADS: the last batches race for a remainder


async def test_concurrent_claimers_on_separate_connections_claim_every_lead_exactly_once(
    world: World, store_target: str | Path
) -> None:
    drafts = [
        LeadDraft(row=i + 2, name=f"客户{i:04d}", phones=(LeadPhone(f"+86139{i:08d}", PhoneKind.MOBILE),),
                  source=LeadSource.HQ)
        for i in range(LEADS)
    ]  # fmt: skip
    sha = hashlib.sha256(b"race").hexdigest()
    await world.leads.import_drafts(drafts, [], ImportSource("race.csv", sha, LeadSource.HQ, LEADS, "电话"), "tester")
    campaign = await world.campaign(lines=BATCH)
    now = world.clock.now()

    # Opening a store takes long enough on a loaded machine for the first claimer to empty the
    # campaign alone; so all open first and start together, and each takes its first batch before
    # any takes a second: every claimer races, whatever the machine's load.
    opened = asyncio.Barrier(CLAIMERS)
    first_taken = asyncio.Barrier(CLAIMERS)

    async def claimer(n: int) -> list[int]:
        settings = dataclasses.replace(world.settings, pbx=PbxSettings(name=f"site-{n}"))
        async with await Database.open(store_target, clock=world.clock) as db:
            hopper = Hopper(CampaignStore(db, settings), settings)
            await opened.wait()
            claimed = [p.lead_id for p in await hopper.next_batch(campaign.id, BATCH, now)]
            await first_taken.wait()
            while picks := await hopper.next_batch(campaign.id, BATCH, now):
                claimed += [p.lead_id for p in picks]
                await asyncio.sleep(0)  # let the others in between batches
            return claimed

    results = await asyncio.gather(*(claimer(n) for n in range(CLAIMERS)))
    every = Counter(lead for claimed in results for lead in claimed)
    assert len(every) == LEADS, "every lead was claimed"
    assert max(every.values()) == 1, f"claimed twice: {[lead for lead, n in every.items() if n > 1]}"
    async with world.db.read() as r:
        rows = await r.fetchall("SELECT claimed_pbx FROM campaign_leads WHERE status = 'claimed'")
    by_pbx = Counter(row[0] for row in rows)
    assert by_pbx == Counter({f"site-{n}": len(claimed) for n, claimed in enumerate(results)})
