"""HQ issuing a customer again restarts the 48-hour clock (#13 item 5): a row of a new HQ file with a later
issue time makes the lead HQ's again, a defeated lead open again, due for a first follow-up, and a clock of
its own in the HQ deadline KPI, while a closed month's figure stays. Before, the import kept the old source,
state and clock: a re-issued customer was never due and vanished from the KPI."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.kpi.metrics import Month, Ratio
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.merge import reissue
from dialer.domain.leads.model import LeadEventKind, LeadPhone, LeadSource, LeadState, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401

NUMBER = "+8613900000002"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 10, 10, 9, tzinfo=TZ))


def hq_row(issued: datetime, source: LeadSource = LeadSource.HQ) -> LeadDraft:
    return LeadDraft(2, "乙", (LeadPhone(NUMBER, PhoneKind.MOBILE),), source, owner="agent1", issued_at=issued)


def hq_file(n: int) -> ImportSource:
    return ImportSource(f"hq-{n}.csv", f"sha-{n}", LeadSource.HQ, 1, "手机")


async def test_a_reissued_customer_is_due_again_and_keeps_each_issue_s_clock(leads, service, db, clock):  # noqa: F811
    await leads.import_drafts([hq_row(clock.now())], [], hq_file(1), "王经理")
    lead = await leads.find_by_phone(NUMBER)
    assert lead is not None
    clock.set(datetime(2026, 10, 11, 9, tzinfo=TZ))  # called within 48 h, and lost
    await service.record_disposition(lead.id, None, Outcome.ANSWERED,
                                     DispositionForm(Disposition.DEFEATED, defeat_reason="已购竞品"), "agent1")  # fmt: skip
    assert (await leads.get(lead.id)).state is LeadState.DEFEATED
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 10))).hq_deadline == Ratio(1, 1)

    # November: HQ issues the customer again in a new file.
    clock.set(datetime(2026, 11, 5, 9, tzinfo=TZ))
    report = await leads.import_drafts([hq_row(clock.now())], [], hq_file(2), "王经理")
    assert len(report.plan.updated_rows) == 1
    again = await leads.get(lead.id)
    assert (again.source, again.state, again.issued_at) == (LeadSource.HQ, LeadState.NEW, clock.now())
    assert (again.due_kind, again.due_at) == (DueKind.FIRST_FOLLOW_UP, datetime(2026, 11, 7, 9, tzinfo=TZ))
    (event,) = [e.data for e in await leads.events(lead.id) if e.kind == LeadEventKind.REISSUED.value]
    assert (event["from_source"], event["from_state"]) == ("hq", "defeated")
    # The same file again changes nothing.
    assert not (await leads.import_drafts([hq_row(clock.now())], [], hq_file(2), "王经理")).plan.writes

    clock.set(datetime(2026, 11, 8, 9, tzinfo=TZ))  # nobody called within the new 48 h
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 11))).hq_deadline == Ratio(0, 1)
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 10))).hq_deadline == Ratio(1, 1)  # closed


async def test_a_web_lead_issued_by_hq_becomes_hq_s_and_a_final_lead_stays_as_it_is(leads, service, db, clock):  # noqa: F811
    await leads.import_drafts([hq_row(clock.now(), LeadSource.WEB)], [], hq_file(1), "王经理")
    lead = await leads.find_by_phone(NUMBER)
    assert lead is not None and lead.source is LeadSource.WEB
    clock.set(datetime(2026, 10, 12, 9, tzinfo=TZ))
    await leads.import_drafts([hq_row(clock.now())], [], hq_file(2), "王经理")
    moved = await leads.get(lead.id)
    assert (moved.source, moved.state, moved.issued_at) == (LeadSource.HQ, LeadState.NEW, clock.now())
    # Its only HQ clock is the issue: the web lead's creation was no HQ clock.
    clock.set(datetime(2026, 10, 13, 9, tzinfo=TZ))
    callback = DispositionForm(Disposition.CALLBACK, next_follow_up_at=datetime(2026, 12, 20, 9, tzinfo=TZ),
                               purpose=FollowUpPurpose.TEST_DRIVE)  # fmt: skip
    await service.record_disposition(lead.id, None, Outcome.ANSWERED, callback, "agent1")
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 10))).hq_deadline == Ratio(1, 1)
    # A deal and an invalid lead are final: HQ's row changes nothing.
    for final in (LeadState.DEAL, LeadState.INVALID):
        assert reissue(dataclasses.replace(moved, state=final), LeadSource.HQ, datetime(2026, 11, 1, tzinfo=TZ)) is None
    assert reissue(moved, LeadSource.HQ, moved.issued_at) is None  # the same issue again
    assert reissue(moved, LeadSource.WEB, datetime(2026, 11, 1, tzinfo=TZ)) is None  # not HQ's row
