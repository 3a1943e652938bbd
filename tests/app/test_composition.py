"""The composition root wires the flows that cross packages: a booked visit queues its SMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from dialer.ami.events import Reconciled
from dialer.app import open_store, queue_restorer
from dialer.campaigns.presence import PresenceService
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadSource
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.tasks import BackgroundTasks
from tests.conftest import REPO, write_config

# A Tuesday morning in Shanghai: inside the SMS window and the calling windows.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def test_booking_a_visit_queues_the_confirmations_in_the_same_transaction(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path, sms={"window": "00:00-24:00"}), env={})
    leads = tmp_path / "leads.csv"
    leads.write_text("姓名,手机,线索来源,负责人,意向车型\n张先生,13800138000,网络,王丽,迈锐宝\n", encoding="utf-8")
    async with open_store(settings, VirtualClock(NOW)) as app:
        # The file's 王丽 is the agent wangli, whose own mobile gets the notice.
        await app.auth.add_user("wangli", "agent", "correct horse battery", agent="agent1", mobile="13900139000")
        await app.manager.add_alias("王丽", "wangli", "经理")
        report = await app.leads.importer.import_file(leads, actor="经理", source=LeadSource.WEB)
        assert report.created == 1
        lead = await app.leads.store.find_by_phone("+8613800138000")
        assert lead is not None
        visit = NOW + timedelta(days=2)
        await app.doss.record_disposition(
            lead.id, None, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=visit), "王丽"
        )
        queued = await app.sms.store.messages()
        # the customer's confirmation and the consultant's notice (the owner's own mobile)
        assert {m.to_e164 for m in queued} == {"+8613800138000", "+8613900139000"}
        customer = next(m for m in queued if m.to_e164 == "+8613800138000")
        assert "张先生" in customer.body and customer.lead_id == lead.id
        # the same booking filed twice does not text the customer twice
        await app.doss.record_disposition(
            lead.id, None, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=visit), "王丽"
        )
        assert len([m for m in await app.sms.store.messages() if m.to_e164 == "+8613800138000"]) == 1


async def test_a_refused_sms_never_undoes_the_booking(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path, sms={"window": "00:00-24:00"}), env={})
    leads = tmp_path / "leads.csv"
    leads.write_text("姓名,电话,线索来源\n李女士,02168881234,网络\n", encoding="utf-8")  # a landline: no SMS possible
    async with open_store(settings, VirtualClock(NOW)) as app:
        await app.leads.importer.import_file(leads, actor="经理", source=LeadSource.WEB)
        lead = await app.leads.store.find_by_phone("+862168881234")
        assert lead is not None
        visit = NOW + timedelta(days=2)
        recorded = await app.doss.record_disposition(
            lead.id, None, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=visit), "王丽"
        )
        assert recorded.lead.visit_at is not None
        assert (await app.leads.store.get(lead.id)).visit_at is not None
        assert await app.sms.store.messages() == []


async def test_a_customer_who_opts_out_by_sms_no_longer_keeps_a_campaign_open(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path), env={})
    leads = tmp_path / "base.csv"
    leads.write_text("姓名,手机,线索来源,现有车型,购车日期\n周先生,13900002000,基盘客户,科鲁兹,2021-05-01\n"
                     "吴女士,13900002001,基盘客户,科鲁兹,2021-05-01\n", encoding="utf-8")  # fmt: skip
    async with open_store(settings, VirtualClock(NOW)) as app:
        await app.leads.importer.import_file(leads, actor="经理")
        record = await app.campaigns.create(REPO / "config" / "demo" / "repurchase.toml", actor="主管")
        _, enrolled = await app.campaigns.command(record.id, Command.START, actor="主管")
        assert enrolled == 2
        lead = await app.leads.store.find_by_phone("+8613900002001")
        assert lead is not None
        # What SmsService.on_inbound does with a "T": the lead is never dialled again ...
        await app.sms.suppressions.add_lead(
            lead.id, "SMS reply 'T'", SuppressionSource.SMS_REPLY, app.clock.now(), "sms"
        )
        # ... so it is not left to dial either: otherwise the runner would never complete the campaign.
        assert (await app.campaigns.status(record.id)).remaining == 1


async def test_the_inbound_queue_is_restored_after_a_link_up_never_on_a_periodic_snapshot() -> None:
    class Presence:
        restores = 0

        async def restore_queue(self) -> tuple[str, ...]:
            self.restores += 1
            return ()

    presence, restores = Presence(), BackgroundTasks()
    route = queue_restorer(restores, cast(PresenceService, presence))
    route(Reconciled(at=NOW, channels=(), periodic=True))
    await restores.drain()
    assert presence.restores == 0
    route(Reconciled(at=NOW, channels=()))
    await restores.drain()
    assert presence.restores == 1
