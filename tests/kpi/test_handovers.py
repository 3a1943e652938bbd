"""Every hand-over keeps its own 2-day clock (#13 item 5): a lead handed over again restarts the clock for the new
owner (on the due list and in the KPI), and a closed month's hand-over compliance does not change afterwards
(before, ``leads.handed_over_at`` was overwritten and October's hand-over vanished from October's figures)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.kpi.metrics import ContactFact, KpiInput, LeadFact, Month, Ratio, compute
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.kpi.service import monthly_kpis
from dialer.settings import Settings
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401
from tests.kpi.test_metrics import NOV, NOW, RULES


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_each_hand_over_in_the_month_is_a_clock_of_its_own():
    lead = LeadFact(1, LeadSource.DEFEATED, z("2026-10-01T02:00"), "b", handed_over_at=z("2026-11-20T02:00"),
                    handovers=(z("2026-10-01T02:00"), z("2026-11-05T02:00"), z("2026-11-20T02:00")))  # fmt: skip
    contacts = [
        ContactFact(1, z("2026-10-02T02:00")),  # the first owner's call: October's clock met
        ContactFact(1, z("2026-11-06T02:00")),  # 24 h after the 5 Nov hand-over: met
        # nobody called after the 20 Nov hand-over: missed (its 48 h ended on 22 Nov)
    ]
    data = KpiInput([lead], contacts, (), ())
    assert compute(NOV, data, RULES, NOW).handover_deadline == Ratio(1, 2)
    assert compute(Month(2026, 10), data, RULES, NOW).handover_deadline == Ratio(1, 1)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 10, 10, 9, tzinfo=TZ))


async def test_a_transfer_restarts_the_clock_and_leaves_the_closed_month_alone(leads, service, db, clock):  # noqa: F811
    draft = LeadDraft(2, "甲", (LeadPhone("+8613900000001", PhoneKind.MOBILE),), LeadSource.DEFEATED, owner="agent1",
                      handed_over_at=clock.now())  # fmt: skip
    await leads.import_drafts([draft], [], ImportSource("d.csv", "sha", LeadSource.DEFEATED, 1, "手机"), "王经理")
    lead = await leads.find_by_phone("+8613900000001")
    assert lead is not None
    clock.set(datetime(2026, 10, 11, 9, tzinfo=TZ))
    callback = DispositionForm(Disposition.CALLBACK, next_follow_up_at=datetime(2026, 12, 20, 9, tzinfo=TZ),
                               purpose=FollowUpPurpose.TEST_DRIVE)  # fmt: skip
    await service.record_disposition(lead.id, None, Outcome.ANSWERED, callback, "agent1")
    october = await monthly_kpis(db, Settings(), clock, Month(2026, 10))
    assert october.handover_deadline == Ratio(1, 1)  # reached after 24 h

    clock.set(datetime(2026, 11, 5, 9, tzinfo=TZ))
    await leads.transfer([lead.id], "agent2", clock.now(), "王经理", "agent1 left")
    moved = await leads.get(lead.id)
    # The new owner's 2-day clock: due on 7 Nov 09:00, though agent1 talked with the customer in October.
    assert (moved.due_kind, moved.due_at) == (DueKind.FIRST_FOLLOW_UP, datetime(2026, 11, 7, 9, tzinfo=TZ))
    clock.set(datetime(2026, 11, 8, 9, tzinfo=TZ))
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 11))).handover_deadline == Ratio(0, 1)
    # October is closed: its hand-over and its call stay counted.
    assert (await monthly_kpis(db, Settings(), clock, Month(2026, 10))).handover_deadline == Ratio(1, 1)
