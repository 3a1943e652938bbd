"""Each campaign's funnel over a month (#13 item 6): hand-checked records, then the store on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.campaigns.definition import parse_definition
from dialer.domain.kpi.metrics import Month, StateFact
from dialer.domain.leads.model import LeadState
from dialer.domain.reports.funnel import CampaignCall, CampaignFunnel, campaign_funnels
from dialer.kpi.service import funnels
from dialer.settings import Settings
from dialer.store.attempts import AttemptStore
from dialer.store.campaigns import CampaignStore
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401
from tests.kpi.test_store_kpi import import_hq

START, END = Month(2026, 11).bounds(TZ)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_funnel_stages_are_nested_and_bounded_by_the_month():
    calls = [
        CampaignCall(1, 10, z("2026-11-02T02:00"), Outcome.NO_ANSWER),  # dialled only
        CampaignCall(1, 11, z("2026-11-02T02:00"), Outcome.ABANDONED),  # answered, never put through
        CampaignCall(1, 12, z("2026-11-02T02:00"), Outcome.BUSY),
        CampaignCall(1, 12, z("2026-11-03T02:00"), Outcome.ANSWERED),  # talked on the second call
        CampaignCall(1, 13, z("2026-11-02T02:00"), Outcome.ANSWERED),  # talked, invited, visited, deal
        CampaignCall(1, 14, z("2026-11-02T02:00"), Outcome.ANSWERED),  # invited before the talk: not this funnel's
        CampaignCall(1, 15, z("2026-11-02T02:00"), Outcome.ANSWERED),  # invited, visits in December
        CampaignCall(1, 16, z("2026-11-02T02:00"), None),  # still in flight: dialled
        CampaignCall(2, 13, z("2026-11-20T02:00"), Outcome.ANSWERED),  # another campaign calls 13 later
        CampaignCall(3, 17, z("2026-10-31T15:59"), Outcome.ANSWERED),  # 31 Oct 23:59 local: October's
    ]
    states = [
        StateFact(13, z("2026-11-02T02:10"), LeadState.INVITED),
        StateFact(13, z("2026-11-05T02:00"), LeadState.VISITED),
        StateFact(13, z("2026-11-05T03:00"), LeadState.DEAL),
        StateFact(14, z("2026-11-01T02:00"), LeadState.INVITED),
        StateFact(15, z("2026-11-02T02:10"), LeadState.INVITED),
        StateFact(15, z("2026-11-30T16:00"), LeadState.VISITED),  # 1 Dec 00:00 local
        StateFact(12, z("2026-11-02T03:00"), LeadState.DEAL),  # a deal before the talk and with no visit
    ]
    one, two = campaign_funnels(calls, states, {1: "11月总部线索", 2: "复购"}, START, END)
    # 1: dialled 10-16 = 7; answered 11 (abandoned), 12, 13, 14, 15 = 5; talked 12, 13, 14, 15 = 4;
    #    invited after the talk 13, 15 = 2; visited 13 = 1 (15 is December's); deal 13 = 1
    assert one == CampaignFunnel(1, "11月总部线索", 7, 5, 4, 2, 1, 1)
    # 2: 13 talked on 20 Nov; its invitation, visit and deal came before that talk
    assert two == CampaignFunnel(2, "复购", 1, 1, 1, 0, 0, 0)


async def test_funnel_from_the_store(leads, service, db, clock: VirtualClock):  # noqa: F811
    clock.set(datetime(2026, 11, 2, 9, tzinfo=TZ))
    campaign = await db_campaign(db, clock)
    a, b = await import_hq(leads, ["甲", "乙"], 1)
    attempts = AttemptStore(db)
    for i, (lead_id, outcome) in enumerate(((a, Outcome.ANSWERED), (b, Outcome.NO_ANSWER))):
        call = await attempts.create(call_id=f"c{i}", direction=Direction.OUTBOUND, number=f"+86139{i + 1:08d}",
                                     created_at=clock.now(), lead_id=lead_id, campaign_id=campaign)  # fmt: skip
        await attempts.finish(call.call_id, outcome=outcome, ended_at=clock.now())
    clock.advance(60)
    await leads.change_state(a, LeadState.INVITED, clock.now(), "agent1", visit_at=datetime(2026, 11, 3, 10, tzinfo=TZ))
    clock.set(datetime(2026, 11, 3, 10, tzinfo=TZ))
    await service.record_milestone(a, LeadState.VISITED, "李顾问")

    (funnel,) = await funnels(db, Settings(), Month(2026, 11))

    assert funnel == CampaignFunnel(campaign, "十一月总部线索", 2, 1, 1, 1, 1, 0)
    assert await funnels(db, Settings(), Month(2026, 10)) == ()


async def db_campaign(db, clock) -> int:
    """A draft campaign, through the campaign store."""
    data = {"name": "十一月总部线索", "kind": "hq", "agents": ["agent1"]}
    record = await CampaignStore(db, Settings()).create(
        parse_definition(data, "hq.toml", Settings()), "hq.toml", clock.now(), "test"
    )
    return record.id


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 11, 1, 9, tzinfo=TZ))
