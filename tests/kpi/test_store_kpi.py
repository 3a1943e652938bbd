"""KPIs end to end: leads imported and worked through the real services, counted back from the store."""

from __future__ import annotations

from datetime import datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.kpi.metrics import Month, Ratio
from dialer.domain.leads.model import LeadPhone, LeadSource, LeadState, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings

# The DOSS fixtures (store, lead store, outbox, service) serve here too; the clock starts in October.
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(local(2026, 10, 1))


async def import_hq(leads, names: list[str], first_phone: int) -> list[int]:  # noqa: F811
    drafts = [
        LeadDraft(
            row=i + 2,
            name=name,
            phones=(LeadPhone(f"+86139{first_phone + i:08d}", PhoneKind.MOBILE),),
            source=LeadSource.HQ,
            owner="王芳",
        )
        for i, name in enumerate(names)
    ]
    await leads.import_drafts(
        drafts, [], ImportSource("hq.xlsx", f"sha-{first_phone}", LeadSource.HQ, len(drafts), "手机"), "王经理"
    )
    found = [await leads.find_by_phone(d.phones[0].e164) for d in drafts]
    return [lead.id for lead in found]


async def test_november_from_the_store(leads, service, db, clock):  # noqa: F811
    clock.set(local(2026, 10, 20, 9))
    a, b = await import_hq(leads, ["甲", "乙"], 1)
    clock.set(local(2026, 10, 25, 9))
    await service.record_disposition(
        a,
        1,
        Outcome.ANSWERED,
        DispositionForm(Disposition.CALLBACK, next_follow_up_at=local(2026, 12, 1, 9), purpose=FollowUpPurpose.OTHER),
        "王芳",
    )
    clock.set(local(2026, 11, 1, 0, 30))  # 31 Oct 16:30 UTC: already November in Shanghai
    c, _d = await import_hq(leads, ["丙", "丁"], 3)
    clock.set(local(2026, 11, 2, 10))
    await service.record_disposition(
        b, 2, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=local(2026, 11, 3, 10)), "王芳"
    )
    await service.record_disposition(
        c, 3, Outcome.BUSY, DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=local(2026, 11, 2, 12)), "dialer"
    )
    await service.record_disposition(
        c,
        4,
        Outcome.ANSWERED,
        DispositionForm(Disposition.REFUSED, next_follow_up_at=local(2026, 11, 9, 10), purpose=FollowUpPurpose.MAILING),
        "王芳",
    )
    clock.set(local(2026, 11, 3, 10))
    await service.record_milestone(b, LeadState.VISITED, "李顾问")
    clock.set(local(2026, 11, 5, 15))
    await service.record_milestone(b, LeadState.DEAL, "李顾问")
    clock.set(local(2026, 11, 30, 18))

    kpis = await monthly_kpis(db, Settings(), clock, Month(2026, 11))

    # carried over: 乙 (甲 was reached in October) = 1; new: 丙, 丁 = 2
    # first follow-ups in November: 乙 (2 Nov), 丙 (2 Nov) -> 2 / (1 + 2)
    assert (kpis.carried_over, kpis.new_leads, kpis.follow_up_rate) == (1, 2, Ratio(2, 3))
    # 乙 invited 2 Nov, visited 3 Nov -> 1 / 2 first follow-ups
    assert kpis.invite_to_store_rate == Ratio(1, 2)
    assert kpis.deals == 1
    # HQ clocks started in November (import time, no issue time given): 丙 reached after 33.5 h (met),
    # 丁 never (missed); 甲 and 乙 started in October
    assert kpis.hq_deadline == Ratio(1, 2)
    # calls on 2 Nov: 王芳 2 (乙, 丙) -> one day below 70; the dialer's own filing (丙 busy, nobody
    # talked) is not an agent's call
    assert [(a.agent, a.calls, a.days_below_norm) for a in kpis.outbound_calls] == [("王芳", 2, 1)]
    (hq,) = kpis.sources
    # HQ leads: 2 in November, 2 in October, none a year before
    assert (hq.count, hq.previous_month, hq.month_on_month, hq.year_on_year) == (2, 2, 0.0, None)

    october = await monthly_kpis(db, Settings(), clock, Month(2026, 10))
    # October: nobody carried in, 2 new, 甲 reached -> 1 / 2
    assert october.follow_up_rate == Ratio(1, 2)
    # 甲 reached 5 days after import (missed), 乙 not within 48 h (missed) -> 0 / 2
    assert october.hq_deadline == Ratio(0, 2)
