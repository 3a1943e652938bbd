"""Replies matched to leads, consent, priority calls; visit confirmations and day-before reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.leads.model import LeadState
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.domain.sms.driver import Inbound
from dialer.domain.sms.errors import MessageRefused
from dialer.domain.sms.rules import ReplyKind
from dialer.settings import Settings
from dialer.sms.service import SmsService
from dialer.store.users import UserStore

from .conftest import e164, mobile

# 2026-11-30 15:00 Beijing: tomorrow, seen from the fixture's 09:00 on the 29th.
VISIT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


async def book_visit(service: SmsService, clock: VirtualClock, i: int, at: datetime = VISIT) -> int:
    lead = await service.leads.find_by_phone(e164(i))
    assert lead is not None
    await service.leads.change_state(lead.id, LeadState.INVITED, clock.now(), "王丽", visit_at=at)
    return lead.id


async def test_booked_visit_confirms_to_customer_and_consultant_once(
    service: SmsService, import_customers, clock
) -> None:
    await import_customers(1)
    lead_id = await book_visit(service, clock, 0)
    sent = await service.confirm_visit(lead_id)
    again = await service.confirm_visit(lead_id)
    assert [q.created for q in sent] == [True, True] and [q.message_id for q in again] == [q.message_id for q in sent]
    customer, consultant = [await service.store.get(q.message_id) for q in sent]
    assert customer is not None and consultant is not None
    assert customer.to_e164 == e164(0) and customer.lead_id == lead_id
    assert (
        "11月30日 15:00" in customer.body and "王丽（13900139000）" in customer.body and "张杨路1888号" in customer.body
    )
    assert consultant.to_e164 == "+8613900139000" and "客户0" in consultant.body and not consultant.promotional


@pytest.mark.parametrize("owner", ["", "王丽"], ids=["no owner", "an owner without a mobile"])
async def test_the_customers_confirmation_never_waits_on_the_consultant(
    service: SmsService, import_customers, clock, db, owner: str
) -> None:
    """Before, a customer whose lead's owner was not in [consultants] got no confirmation at all (a template error)."""
    await import_customers(1, owner=owner)
    if owner:
        user = await UserStore(db).by_name(owner, MAIN_DEALER_ID)
        assert user is not None
        await UserStore(db).set_mobile(user.id, None)
    sent = await service.confirm_visit(await book_visit(service, clock, 0))
    assert len(sent) == 1  # the customer's; no consultant's notice without a number to send it to
    customer = await service.store.get(sent[0].message_id)
    assert customer is not None and customer.to_e164 == e164(0)
    # The showroom's number ([dealer] phone), and the consultant's name or, for nobody's lead, the dealer's.
    assert f"顾问{owner or Settings().dealer.name}（021-58881888）" in customer.body


async def test_reminders_go_to_tomorrows_visits_only_and_once(service: SmsService, import_customers, clock) -> None:
    await import_customers(3)
    tomorrow = await book_visit(service, clock, 0)
    await book_visit(service, clock, 1, VISIT + timedelta(days=1))  # the day after tomorrow
    queued, refused = await service.send_reminders()
    assert refused == {} and len(queued) == 1
    msg = await service.store.get(queued[0].message_id)
    assert msg is not None and msg.lead_id == tomorrow and msg.template == "visit_reminder" and "回复1" in msg.body
    assert (await service.leads.get(tomorrow)).visit_reminded_at == clock.now()
    assert await service.send_reminders() == ([], {})


async def test_yes_to_a_reminder_confirms_the_visit_and_creates_no_call(
    service: SmsService, import_customers, clock
) -> None:
    await import_customers(1)
    await book_visit(service, clock, 0)
    await service.send_reminders()
    result = await service.on_inbound(Inbound(e164(0)[1:], "10690000", "1"))
    assert result.kind is ReplyKind.INTERESTED and not result.call_task
    assert await service.store.call_tasks() == []


async def test_interested_reply_without_a_wave_becomes_a_priority_call_once(
    service: SmsService, import_customers, clock
) -> None:
    await import_customers(1)
    await service.queue(mobile(0), text="您的爱车保养到期了")
    first = await service.on_inbound(Inbound("8613800130000", "10690000", "好的"))
    second = await service.on_inbound(Inbound("8613800130000", "10690000", "1"))
    assert first.call_task and not second.call_task
    [task] = await service.store.call_tasks()
    assert (task.lead_id, task.priority, task.reason, task.due_at) == (
        first.lead_id,
        100,
        "sms_interested",
        clock.now(),
    )
    assert await service.store.take_call_task(task.id, "hopper", clock.now())
    assert not await service.store.take_call_task(task.id, "hopper", clock.now())


async def test_unmatched_replies_are_kept_and_listed(service: SmsService, clock) -> None:
    result = await service.on_inbound(Inbound("8613912345678", "10690000", "请问你们周末营业吗"))
    assert result.lead_id is None and result.kind is ReplyKind.OTHER
    [row] = await service.store.inbound(unmatched=True)
    assert (row.sender, row.text) == ("+8613912345678", "请问你们周末营业吗")


async def test_opt_out_from_a_number_without_lead_blocks_later_sms(service: SmsService, clock) -> None:
    await service.on_inbound(Inbound("8613912345678", "10690000", "TD"))
    entry = await service.suppressions.active("+8613912345678")
    assert entry is not None and (entry.source, entry.reason, entry.lead_id) == (
        SuppressionSource.SMS_REPLY,
        "SMS reply 'TD'",
        None,
    )
    with pytest.raises(MessageRefused, match="suppression list"):
        await service.queue("13912345678", text="您好")
