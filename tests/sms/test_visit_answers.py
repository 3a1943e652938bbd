"""A booked visit's SMS follow-through (#13): the reminder sent by the worker itself (no cron), the customer's
"1" confirming, "不需要" calling the visit off through DOSS (not an opt-out), and the calls that follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.app import App, open_store
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.doss.outbox import OutboxKind
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.domain.sms.driver import Inbound, OutPart
from dialer.domain.sms.rules import ReplyKind
from dialer.leads.service import DueScope
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings, SmsSettings, StoreSettings
from dialer.sms.factory import build_service
from dialer.tasks import TaskHealth
from tests.conftest import REPO
from tests.sms.test_listener import QueueDriver

# 2026-11-30 15:00 Beijing, booked on the 29th at 09:00 (the suite's START): the reminder is due the day before
# the visit, the 29th, at 10:00 Beijing; the chase four hours after the reminder.
VISIT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
REMIND_AT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
PHONE = "+8613800130000"


@pytest.fixture
async def app(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[App]:
    settings = Settings(base_dir=str(REPO), store=StoreSettings(path=str(tmp_path / "store.sqlite3")),
                        sms=SmsSettings(idle_poll_s=0.05))  # fmt: skip
    async with open_store(settings, clock) as opened:
        yield opened


async def _invited(app: App, phone: str = PHONE) -> int:
    path = app.settings.path(app.settings.store.path).parent / f"leads-{phone}.csv"
    write_sheet(path, ["姓名", "手机", "负责人", "意向车型"], [["客户", phone[3:], "王丽", "轿车A"]])
    await app.leads.importer.import_file(path, actor="test", source=LeadSource.WEB)
    lead = await app.leads.store.find_by_phone(phone)
    assert lead is not None
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=VISIT)
    await app.doss.record_disposition(lead.id, None, Outcome.ANSWERED, form, "王丽")
    return lead.id


def _reply(text: str) -> Inbound:
    return Inbound(PHONE[1:], "10690000", text)


async def test_the_reminder_is_due_at_its_time_and_sent_once(app: App, clock: VirtualClock) -> None:
    lead_id = await _invited(app)
    lead = await app.leads.store.get(lead_id)
    assert (lead.due_kind, lead.due_at) == (DueKind.VISIT_REMINDER.value, REMIND_AT)
    assert await app.sms.remind_due() == 0  # not yet
    clock.set(REMIND_AT)
    assert await app.sms.remind_due() == 1
    assert await app.sms.remind_due() == 0
    lead = await app.leads.store.get(lead_id)
    assert lead.visit_reminded_at == REMIND_AT
    # Not confirmed four hours later: a call to confirm (到店确认), still before the visit.
    assert (lead.due_kind, lead.due_at) == (DueKind.VISIT_UNCONFIRMED.value, datetime(2026, 11, 29, 6, 0, tzinfo=UTC))


async def test_yes_confirms_the_visit_and_only_the_no_show_call_stays_due(app: App, clock: VirtualClock) -> None:
    lead_id = await _invited(app)
    clock.set(REMIND_AT)
    await app.sms.remind_due()
    result = await app.sms.on_inbound(_reply("1"))
    assert result.kind is ReplyKind.INTERESTED and not result.call_task
    lead = await app.leads.store.get(lead_id)
    assert lead.visit_confirmed_at == REMIND_AT and lead.state is LeadState.INVITED
    # The day after the visit at 09:30 Beijing, unless someone reports the visit.
    assert (lead.due_kind, lead.due_at) == (DueKind.NO_SHOW.value, datetime(2026, 12, 1, 1, 30, tzinfo=UTC))
    assert [e.kind for e in await app.leads.store.events(lead_id)][-1] == "visit_confirmed"
    clock.advance(60)
    await app.sms.on_inbound(_reply("好的"))  # said twice: still the first confirmation, one event
    assert (await app.leads.store.get(lead_id)).visit_confirmed_at == REMIND_AT
    assert [e.kind for e in await app.leads.store.events(lead_id)].count("visit_confirmed") == 1


async def test_no_thanks_to_a_reminder_calls_the_visit_off_and_is_not_an_opt_out(app: App, clock: VirtualClock) -> None:
    lead_id = await _invited(app)
    clock.set(REMIND_AT)
    await app.sms.remind_due()
    result = await app.sms.on_inbound(_reply("不需要。"))
    assert result.kind is ReplyKind.DECLINED
    lead = await app.leads.store.get(lead_id)
    assert lead.state is LeadState.FOLLOWING and lead.visit_at is None and lead.opt_out_at is None
    assert await app.sms.suppressions.active(PHONE) is None
    [row] = [
        e
        for e in await app.doss.outbox.between(clock.now(), clock.now() + timedelta(seconds=1))
        if e.kind is OutboxKind.SMS_REPLY
    ]
    assert (row.record.result, row.record.state, row.record.actor) == ("取消到店", LeadState.FOLLOWING, "sms")
    cancelled = [e for e in await app.leads.store.events(lead_id) if e.kind == "visit_cancelled"]
    assert cancelled[0].data["visit_at"] == VISIT.isoformat()
    # Said again to the same reminder, the visit already called off: kept, still no opt-out, no second row.
    assert (await app.sms.on_inbound(_reply("不需要"))).kind is ReplyKind.DECLINED
    assert (await app.leads.store.get(lead_id)).opt_out_at is None
    later = await app.doss.outbox.between(clock.now(), clock.now() + timedelta(seconds=1))
    assert [e.kind for e in later].count(OutboxKind.SMS_REPLY) == 1
    # Still a customer we may write to and call: the cadence (or a callback) takes over.
    await app.sms.queue(PHONE, text="好的，期待下次为您服务")


async def test_unsubscribe_to_a_reminder_still_opts_out(app: App, clock: VirtualClock) -> None:
    lead_id = await _invited(app)
    clock.set(REMIND_AT)
    await app.sms.remind_due()
    assert (await app.sms.on_inbound(_reply("退订"))).kind is ReplyKind.OPT_OUT
    assert (await app.leads.store.get(lead_id)).opt_out_at is not None


async def test_no_thanks_outside_a_booked_visit_keeps_its_old_meaning(app: App, clock: VirtualClock) -> None:
    await _invited(app)
    await app.sms.queue(PHONE, text="您的爱车保养到期了")  # the latest message is not about the visit
    assert (await app.sms.on_inbound(_reply("不需要"))).kind is ReplyKind.OPT_OUT


class SendingDriver(QueueDriver):
    """Takes every part: the worker's round sends what it queued."""

    async def submit(self, part: OutPart) -> str:
        return f"smsc-{part.message_id}-{part.seq}"


@pytest.mark.timeout(30)
async def test_the_worker_sends_due_reminders_itself(app: App, clock: VirtualClock) -> None:
    lead_id = await _invited(app)
    clock.set(REMIND_AT)
    worker_service = build_service(app.db, app.settings, clock, SendingDriver())
    stop = asyncio.Event()
    worker = asyncio.create_task(worker_service.run(stop, TaskHealth()))
    try:
        for _ in range(200):  # real time bounds the wait: the worker writes through aiosqlite's thread
            if (await app.leads.store.get(lead_id)).visit_reminded_at is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert (await app.leads.store.get(lead_id)).visit_reminded_at == REMIND_AT


async def test_a_visit_that_began_unreminded_gets_no_reminder_and_its_no_show_call_is_due(
    app: App, clock: VirtualClock
) -> None:
    # The worker was off at the reminders' time; the day after the visits nothing may remind a past visit.
    first = await _invited(app)
    second = await _invited(app, phone="+8613800130001")
    clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # 1 December, 10:00 Beijing
    assert (await app.leads.store.get(first)).due_kind == DueKind.VISIT_REMINDER.value  # stored when booked
    # The due list refreshes (a console without the SMS worker still sees the no-shows)...
    due = await app.leads.due(DueScope.OVERDUE)
    assert [(i.lead.id, i.lead.due_kind) for i in due] == [(first, "no_show"), (second, "no_show")]
    # ...and so does the worker's round, which sends nothing.
    assert await app.sms.remind_due() == 0
    lead = await app.leads.store.get(first)
    assert (lead.due_kind, lead.due_at) == (DueKind.NO_SHOW.value, datetime(2026, 12, 1, 1, 30, tzinfo=UTC))
    assert lead.visit_reminded_at is None and lead.updated_at < clock.now()  # a refresh is not a change


async def test_a_reminder_that_cannot_go_is_marked_with_why_and_the_confirmation_call_takes_over(
    app: App, clock: VirtualClock
) -> None:
    path = app.settings.path(app.settings.store.path).parent / "landline.csv"
    write_sheet(path, ["姓名", "电话", "负责人"], [["座机客户", "010-88886666", "王丽"]])
    await app.leads.importer.import_file(path, actor="test", source=LeadSource.WEB)
    lead = await app.leads.store.find_by_phone("+861088886666")
    assert lead is not None
    await app.leads.store.change_state(lead.id, LeadState.INVITED, clock.now(), "王丽", visit_at=VISIT)
    clock.set(REMIND_AT)
    assert await app.sms.remind_due() == 0
    event = [e for e in await app.leads.store.events(lead.id) if e.kind == "visit_reminded"][-1]
    assert event.data["not_sent"] == f"lead {lead.id} has no mobile number"
    assert await app.sms.remind_due() == 0  # not tried again
    assert (await app.leads.store.get(lead.id)).due_kind == DueKind.VISIT_UNCONFIRMED.value  # a call instead
