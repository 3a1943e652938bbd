"""An invited customer who does not come (#13): due the next morning tagged no-show (the desk, ``dialer leads
due``), called again, and rescheduled (改约) with a new visit time, a DOSS change like any other."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.app import open_store
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.errors import LeadStateError
from dialer.domain.leads.model import LeadEventKind, LeadSource, LeadState
from dialer.leads.service import DueScope
from tests.conftest import write_config
from tests.web.conftest import CHEAP

# Tuesday 3 November 2026, 10:00 in Shanghai: the lead is called and invited for Friday 15:00.
CALLED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
VISIT = datetime(2026, 11, 6, 7, 0, tzinfo=UTC)
# Saturday 09:30 in Shanghai: the morning after the visit day.
NEXT_MORNING = datetime(2026, 11, 7, 1, 30, tzinfo=UTC)


def invited(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path)

    async def seed() -> None:
        leads = tmp_path / "leads.csv"
        leads.write_text("姓名,手机,线索来源,负责人\n张先生,13800138000,总部下发,agent1\n", encoding="utf-8")
        async with open_store(load(cfg, env={}), VirtualClock(CALLED), password_cost=CHEAP) as app:
            await app.auth.add_user("zhang", "agent", "correct horse battery", agent="agent1")  # the owner
            await app.leads.importer.import_file(leads, actor="经理", source=LeadSource.HQ)
            form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=VISIT)
            await app.doss.record_disposition(1, None, Outcome.ANSWERED, form, "agent1")
            await app.leads.store.record_visit_reminder(1, CALLED, "sms")
            await app.leads.store.record_visit_confirmed(1, CALLED, "sms", "1")

    asyncio.run(seed())
    return cfg


def test_a_no_show_is_due_the_next_morning_and_listed_by_dialer_leads_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = invited(tmp_path)

    async def due_lists() -> tuple[list[int], list[int]]:
        async with open_store(load(cfg, env={}), VirtualClock(VISIT + timedelta(hours=2))) as app:
            on_the_day = [i.lead.id for i in await app.leads.due(DueScope.TODAY)]
        async with open_store(load(cfg, env={}), VirtualClock(NEXT_MORNING)) as app:
            lead = await app.leads.store.get(1)
            assert (lead.due_kind, lead.due_at) == (DueKind.NO_SHOW.value, NEXT_MORNING)
            next_day = [i.lead.id for i in await app.leads.due(DueScope.TODAY, owner="agent1")]
        return on_the_day, next_day

    on_the_day, next_day = asyncio.run(due_lists())
    assert on_the_day == [] and next_day == [1]
    capsys.readouterr()
    assert main(["--config", str(cfg), "leads", "due", "--json"], clock=VirtualClock(NEXT_MORNING)) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["id"], row["due_kind"]) == (1, "no_show")
    assert main(["--config", str(cfg), "leads", "due"], clock=VirtualClock(NEXT_MORNING)) == 0
    assert "未到店回访" in capsys.readouterr().out


def test_the_no_show_call_reschedules_the_visit(tmp_path: Path) -> None:
    cfg = invited(tmp_path)
    new_visit = datetime(2026, 11, 8, 2, 0, tzinfo=UTC)

    async def call_again() -> None:
        async with open_store(load(cfg, env={}), VirtualClock(NEXT_MORNING)) as app:
            form = DispositionForm(Disposition.RESCHEDULED, visit_at=new_visit)
            done = await app.doss.record_disposition(1, None, Outcome.ANSWERED, form, "agent1")
            assert done.lead.state is LeadState.INVITED and done.lead.visit_at == new_visit
            assert done.lead.visit_confirmed_at is None and done.lead.visit_reminded_at is None
            # The new visit's reminder is what is due now (its day before, 10:00), the no-show tag is gone.
            assert done.lead.due_kind == DueKind.VISIT_REMINDER.value
            row = await app.doss.outbox.get(done.outbox_id or 0)
            assert row is not None and row.record.result == "改约到店" and row.record.visit_at == new_visit
            booked = [e for e in await app.leads.store.events(1) if e.kind == LeadEventKind.VISIT_BOOKED.value]
            assert booked[-1].data["visit_at"] == new_visit.isoformat()

    asyncio.run(call_again())


def test_only_a_booked_visit_can_be_rescheduled(tmp_path: Path) -> None:
    cfg = invited(tmp_path)

    async def refuse() -> None:
        async with open_store(load(cfg, env={}), VirtualClock(NEXT_MORNING)) as app:
            await app.doss.record_visit_declined(1, "sms", "不需要")
            form = DispositionForm(Disposition.RESCHEDULED, visit_at=NEXT_MORNING + timedelta(days=1))
            with pytest.raises(LeadStateError, match="lead 1: no booked visit to reschedule"):
                await app.doss.record_disposition(1, None, Outcome.ANSWERED, form, "agent1")
            assert (await app.leads.store.get(1)).state is LeadState.FOLLOWING

    asyncio.run(refuse())


def test_a_batch_counts_a_lead_once_and_a_deal_is_final(tmp_path: Path) -> None:
    cfg = invited(tmp_path)

    async def batch() -> None:
        async with open_store(load(cfg, env={}), VirtualClock(NEXT_MORNING)) as app:
            done = await app.doss.record_milestones([1, 1], LeadState.DEAL, "经理")  # a repeated id counts once
            assert len(done) == 1
            with pytest.raises(LeadStateError, match="lead 1: cannot go from deal to visited"):
                await app.doss.record_milestones([1], LeadState.VISITED, "经理")
            assert (await app.leads.store.get(1)).state is LeadState.DEAL

    asyncio.run(batch())
