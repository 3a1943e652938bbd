"""record_disposition / record_milestone: lead change, history and outbox row commit together or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.errors import FormError
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.doss.outbox import OutboxKind, OutboxStatus
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import IntentLevel, LeadEventKind, LeadState
from dialer.store.errors import StoreError
from tests.conftest import START

TOMORROW_10 = START + timedelta(days=1, hours=1)  # 30 Nov 10:00 local


async def test_booked_visit_changes_lead_history_and_outbox_together(service, leads, outbox, make_leads):
    (lead_id,) = await make_leads(1)
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW_10, note="周一上午来")
    done = await service.record_disposition(lead_id, 41, Outcome.ANSWERED, form, actor="王芳")

    lead = await leads.get(lead_id)
    assert (lead.state, lead.intent, lead.visit_at, lead.first_contact_at) == (
        LeadState.INVITED,
        IntentLevel.H,
        TOMORROW_10,
        START,
    )
    kinds = [e.kind for e in await leads.events(lead_id)]
    # created by the import; then the call (contact), new -> following, following -> invited, the booking
    assert kinds[-4:] == [LeadEventKind.CONTACT, LeadEventKind.STATE, LeadEventKind.STATE, LeadEventKind.VISIT_BOOKED]

    entry = await outbox.get(done.outbox_id)
    assert (entry.status, entry.kind, entry.attempts) == (OutboxStatus.PENDING, OutboxKind.DISPOSITION, 0)
    assert entry.next_attempt_at == START
    assert entry.idempotency_key.startswith("dcc-")
    record = entry.record
    assert (record.lead.name, record.lead.phone, record.lead.owner, record.lead.model) == (
        "客户1",
        "+8613800000001",
        "王芳",
        "科鲁泽",
    )
    assert (record.state, record.result, record.intent, record.visit_at) == (
        LeadState.INVITED,
        "预约到店",
        IntentLevel.H,
        TOMORROW_10,
    )
    assert (record.outcome, record.disposition, record.note) == (
        Outcome.ANSWERED,
        Disposition.BOOKED_VISIT,
        "周一上午来",
    )


async def test_invalid_form_writes_nothing(service, leads, outbox, make_leads, clock):
    (lead_id,) = await make_leads(1)
    before = await leads.events(lead_id)
    with pytest.raises(FormError) as err:
        await service.record_disposition(lead_id, 1, Outcome.ANSWERED, DispositionForm(Disposition.REFUSED), "王芳")
    assert err.value.field == "next_follow_up_at"
    assert await leads.events(lead_id) == before
    assert (await leads.get(lead_id)).state is LeadState.NEW
    assert await outbox.between(START - timedelta(days=1), START + timedelta(days=1)) == []


async def test_failing_outbox_write_rolls_back_the_lead_change(service, leads, outbox, make_leads, monkeypatch):
    (lead_id,) = await make_leads(1)
    before = await leads.events(lead_id)

    async def broken_add(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(outbox, "add", broken_add)
    form = DispositionForm(Disposition.DEFEATED, defeat_reason="已购竞品")
    with pytest.raises(StoreError):
        await service.record_disposition(lead_id, 1, Outcome.ANSWERED, form, "王芳")
    lead = await leads.get(lead_id)
    assert (lead.state, lead.defeat_reason, lead.first_contact_at) == (LeadState.NEW, None, None)
    assert await leads.events(lead_id) == before


async def test_no_contact_reported_from_third_call_and_state_kept(service, leads, outbox, make_leads, clock):
    (lead_id,) = await make_leads(1)
    ids = []
    for _ in range(4):
        form = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=clock.now() + timedelta(hours=2))
        ids.append((await service.record_disposition(lead_id, None, Outcome.BUSY, form, "dialer")).outbox_id)
        clock.advance(3 * 3600)
    assert [i is not None for i in ids] == [False, False, True, True]
    lead = await leads.get(lead_id)
    assert lead.state is LeadState.NEW and lead.first_contact_at is None
    assert lead.callback_at is None  # a retry time is not an agreement with the customer
    entry = await outbox.get(ids[2])
    assert (entry.record.result, entry.record.state) == ("未接通", LeadState.NEW)


async def test_contact_resets_the_no_contact_streak(service, leads, make_leads, clock):
    (lead_id,) = await make_leads(1)
    later = clock.now() + timedelta(days=2)
    no_contact = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=later)
    for _ in range(2):
        await service.record_disposition(lead_id, None, Outcome.NO_ANSWER, no_contact, "dialer")
    callback = DispositionForm(Disposition.CALLBACK, next_follow_up_at=later, purpose=FollowUpPurpose.OTHER)
    await service.record_disposition(lead_id, None, Outcome.ANSWERED, callback, "王芳")
    # two more unanswered calls after the conversation: streak 1, 2 -> not reported yet
    results = [
        await service.record_disposition(lead_id, None, Outcome.NO_ANSWER, no_contact, "dialer") for _ in range(2)
    ]
    assert [r.outbox_id for r in results] == [None, None]
    lead = await leads.get(lead_id)
    assert (lead.state, lead.callback_at) == (LeadState.FOLLOWING, later)


@pytest.mark.parametrize("outcome", [Outcome.EARLY_HANGUP, Outcome.ABANDONED])
async def test_picked_up_without_conversation_is_reported_at_once_but_is_no_follow_up(
    service, leads, outbox, make_leads, clock, outcome
):
    (lead_id,) = await make_leads(1)
    form = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=clock.now() + timedelta(hours=1))
    done = await service.record_disposition(lead_id, 5, outcome, form, "dialer")
    assert (await outbox.get(done.outbox_id)).record.result == "接通未沟通"
    # Nobody spoke with the customer: the handbook's follow-up (and its 48-hour deadline) is still owed.
    lead = await leads.get(lead_id)
    assert (lead.state, lead.first_contact_at) == (LeadState.NEW, None)


async def test_vacant_number_makes_the_lead_invalid(service, leads, outbox, make_leads):
    (lead_id,) = await make_leads(1)
    done = await service.record_disposition(
        lead_id, 7, Outcome.VACANT, DispositionForm(Disposition.NO_CONTACT), "dialer"
    )
    assert (await leads.get(lead_id)).state is LeadState.INVALID
    assert (await outbox.get(done.outbox_id)).record.result == "空号"


async def test_visit_milestone_after_invitation(service, leads, outbox, make_leads, clock):
    (lead_id,) = await make_leads(1)
    await service.record_disposition(
        lead_id, 1, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW_10), "王芳"
    )
    clock.set(TOMORROW_10)
    done = await service.record_milestone(lead_id, LeadState.VISITED, "李顾问")
    entry = await outbox.get(done.outbox_id)
    assert (entry.kind, entry.record.state, entry.record.result, entry.record.outcome) == (
        OutboxKind.MILESTONE,
        LeadState.VISITED,
        "已到店",
        None,
    )
    with pytest.raises(LeadStateError):
        await service.record_milestone(lead_id, LeadState.VISITED, "李顾问")
    with pytest.raises(FormError, match="not a showroom milestone"):
        await service.record_milestone(lead_id, LeadState.INVITED, "李顾问")


async def test_unknown_lead(service):
    with pytest.raises(LeadNotFound):
        await service.record_disposition(999, 1, Outcome.VACANT, DispositionForm(Disposition.NO_CONTACT), "dialer")
