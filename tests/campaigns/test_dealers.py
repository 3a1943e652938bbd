"""Campaigns are a dealer's (docs/store.md "Dealers"): a campaign enrols and dials its dealer's leads only,
even a lead of another dealer with the same number; another dealer's scope finds no such campaign.
Runs on both backends."""

from __future__ import annotations

import dataclasses

import pytest

from dialer.domain.access.dealers import MAIN_DEALER_ID, DealerScope
from dialer.domain.campaigns.definition import parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.progress import CampaignNotFound
from dialer.domain.leads.deadlines import DueRules
from dialer.store.dealers import DealerStore
from dialer.store.leads import LeadStore
from tests.campaigns.conftest import PHONES, TZ, World


async def test_a_campaign_dials_its_dealers_leads_only(world: World) -> None:
    b = await DealerStore(world.db).ensure("b", "B 店", world.clock.now())
    main_lead = await world.lead(PHONES[1])
    b_world = dataclasses.replace(world, leads=LeadStore(world.db, DueRules(world.settings.leads, TZ), world.clock,
                                                         dealer_id=b.id))  # fmt: skip
    b_same_number, b_other = await b_world.lead(PHONES[1]), await b_world.lead(PHONES[2])
    assert b_same_number != main_lead

    definition = parse_definition({"name": "B 活动", "kind": "hq", "agents": ["b1"]}, "b.toml", world.settings)
    b_campaign = await world.store.create(definition, "b.toml", world.clock.now(), "tester", b.id)
    _record, enrolled = await world.service.command(b_campaign.id, Command.START, "tester")
    assert enrolled == 2
    picks = await world.hopper.next_batch(b_campaign.id, 10, world.clock.now())
    assert sorted(p.lead_id for p in picks) == sorted([b_same_number, b_other])
    main_campaign = await world.campaign()
    assert [p.lead_id for p in await world.hopper.next_batch(main_campaign.id, 10, world.clock.now())] == [main_lead]

    # Dealer main's scope (and a node of dealer main's runner) finds no campaign of dealer b's.
    main_only = DealerScope.of(MAIN_DEALER_ID)
    assert [c.id for c in await world.service.all(main_only)] == [main_campaign.id]
    with pytest.raises(CampaignNotFound):
        await world.store.get(b_campaign.id, main_only)
    with pytest.raises(CampaignNotFound):
        await world.service.command(b_campaign.id, Command.PAUSE, "tester", main_only)
    assert (await world.store.get(b_campaign.id, DealerScope.of(b.id))).dealer_id == b.id
