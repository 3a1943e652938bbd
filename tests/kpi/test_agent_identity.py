"""Calls per agent count the person under their one identity, however the call was filed (#13, item 1).

A campaign call put through to the agent's endpoint and filed from the console (actor ``web:<login>``),
an unanswered call filed by the runner under the endpoint, and a call logged on the desk without an
attempt: one person, one row of the report (before: ``agent1`` and ``web:zhang``, two rows).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from dialer.actors import CONSOLE_ACTOR_PREFIX
from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.kpi.metrics import Month
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.users import UserStore

# The DOSS fixtures (store, lead store, outbox, service) serve here too.
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 10, 20, 9, tzinfo=TZ))


async def test_one_agent_is_one_row_of_calls_whoever_filed_the_call(leads, service, db: Database, clock) -> None:  # noqa: F811
    clock.set(datetime(2026, 11, 2, 9, tzinfo=TZ))
    await UserStore(db).add(name="zhang", role=Role.AGENT, agent="agent1", password_hash="x", at=clock.now())
    draft = LeadDraft(2, "甲", (LeadPhone("+8613900000001", PhoneKind.MOBILE),), LeadSource.HQ, owner="agent1")
    await leads.import_drafts([draft], [], ImportSource("hq.csv", "sha", LeadSource.HQ, 1, "手机"), "王经理")
    lead = await leads.find_by_phone("+8613900000001")
    assert lead is not None
    attempts = AttemptStore(db)
    calls = []
    for i in range(2):
        attempt = await attempts.create(call_id=f"c{i}", direction=Direction.OUTBOUND, number="+8613900000001",
                                        created_at=clock.now(), lead_id=lead.id, agent="agent1")  # fmt: skip
        calls.append(attempt.id)
    desk = CONSOLE_ACTOR_PREFIX + "zhang"
    callback = DispositionForm(
        Disposition.CALLBACK, next_follow_up_at=datetime(2026, 11, 3, 9, tzinfo=TZ), purpose=FollowUpPurpose.TEST_DRIVE
    )
    # The campaign call filed from the desk; the next one unanswered, filed by the runner under the endpoint;
    # then a call the agent logs on the desk with no attempt of the dialer's.
    await service.record_disposition(lead.id, calls[0], Outcome.ANSWERED, callback, desk)
    no_contact = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=datetime(2026, 11, 3, 10, tzinfo=TZ))
    await service.record_disposition(lead.id, calls[1], Outcome.NO_ANSWER, no_contact, "agent1")
    await service.record_disposition(lead.id, None, Outcome.ANSWERED, callback, desk)

    kpis = await monthly_kpis(db, Settings(), clock, Month(2026, 11))

    assert [(a.agent, a.calls) for a in kpis.outbound_calls] == [("agent1", 3)]
    mine = await monthly_kpis(db, Settings(), clock, Month(2026, 11), agent="agent1")
    assert [(a.agent, a.calls) for a in mine.outbound_calls] == [("agent1", 3)] and mine.new_leads == 1


async def test_a_closed_month_stays_with_the_agent_who_owned_the_lead_then(
    leads,  # noqa: F811
    service,  # noqa: F811
    db: Database,
    clock: VirtualClock,
) -> None:
    """Before, one agent's KPIs took today's owner: a November transfer moved an October follow-up away."""
    users = UserStore(db)
    for name, agent in (("zhang", "agent1"), ("wu", "agent2")):
        await users.add(name=name, role=Role.AGENT, agent=agent, password_hash="x", at=clock.now())
    drafts = [
        LeadDraft(2, "甲", (LeadPhone("+8613900000001", PhoneKind.MOBILE),), LeadSource.HQ, owner="agent1"),
        LeadDraft(3, "乙", (LeadPhone("+8613900000002", PhoneKind.MOBILE),), LeadSource.HQ, owner="王丽"),
    ]
    await leads.import_drafts(drafts, [], ImportSource("hq.csv", "sha", LeadSource.HQ, 2, "手机"), "王经理")
    a, b = [await leads.find_by_phone(f"+861390000000{i}") for i in (1, 2)]
    assert a is not None and b is not None
    callback = DispositionForm(
        Disposition.CALLBACK, next_follow_up_at=datetime(2026, 12, 1, 9, tzinfo=TZ), purpose=FollowUpPurpose.TEST_DRIVE
    )
    await service.record_disposition(a.id, None, Outcome.ANSWERED, callback, "agent1")
    clock.set(datetime(2026, 11, 5, 9, tzinfo=TZ))
    await service.record_transfer([a.id], "agent2", "王经理", "cover")
    # 乙 was filed under a bare name in October; in November the manager names it as agent1 (the same person).
    await leads.rename_owner("王丽", "agent1", clock.now(), "王经理", "alias", MAIN_DEALER_ID)

    october = {
        agent: await monthly_kpis(db, Settings(), clock, Month(2026, 10), agent=agent) for agent in ("agent1", "agent2")
    }
    assert (october["agent1"].new_leads, october["agent1"].follow_up_rate.numerator) == (2, 1)
    assert october["agent2"].new_leads == 0
    # Today's owner counts for the month still running.
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 11), agent="agent2")).sources[0].previous_month == 1


async def test_inbound_calls_are_counted_against_their_own_norm_not_as_dials(leads, db: Database, clock) -> None:  # noqa: F811
    """Before, an inbound talk on a lead was one more outbound call (70-80) and a caller who is no lead
    was not counted at all; now dials and calls taken are two tables with two norms (#13, item 6)."""
    clock.set(datetime(2026, 11, 2, 9, tzinfo=TZ))
    draft = LeadDraft(2, "甲", (LeadPhone("+8613900000001", PhoneKind.MOBILE),), LeadSource.HQ, owner="agent1")
    await leads.import_drafts([draft], [], ImportSource("hq.csv", "sha", LeadSource.HQ, 1, "手机"), "王经理")
    lead = await leads.find_by_phone("+8613900000001")
    assert lead is not None
    attempts = AttemptStore(db)
    for i, (direction, lead_id, connected) in enumerate(
        [
            (Direction.OUTBOUND, lead.id, True),  # a dial that reached 甲
            (Direction.INBOUND, lead.id, True),  # 甲 calls back and talks with agent1
            (Direction.INBOUND, None, True),  # a caller who is no lead yet
            (Direction.INBOUND, None, False),  # a caller who hung up in the queue: nobody took it
        ]
    ):
        attempt = await attempts.create(call_id=f"c{i}", direction=direction, number="+8613900000001",
                                        created_at=clock.now(), lead_id=lead_id,
                                        agent="agent1" if connected else None)  # fmt: skip
        if connected:
            await attempts.update_progress(attempt.call_id, state=CallState.CONNECTED, connected_at=clock.now())
            await leads.record_contact(
                lead.id, clock.now(), "agent1", Outcome.ANSWERED, attempt.id
            ) if lead_id else None
        await attempts.finish(attempt.call_id, outcome=Outcome.ANSWERED, ended_at=clock.now())

    kpis = await monthly_kpis(db, Settings(), clock, Month(2026, 11))

    assert [(a.agent, a.calls, a.days_below_norm) for a in kpis.outbound_calls] == [("agent1", 1, 1)]
    assert [(a.agent, a.calls, a.days_below_norm) for a in kpis.inbound_calls] == [("agent1", 2, 1)]
