"""The daily and weekly sheets from a store worked through the real services (both backends, #13 item 6)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadState
from dialer.domain.reports.sheets import Activity, Agenda, Week
from dialer.kpi.service import daily, weekly
from dialer.settings import Settings

# The DOSS fixtures (store, lead store, outbox, service) serve here too.
from tests.doss.conftest import TZ, leads, mapping, outbox, service  # noqa: F401
from tests.kpi.test_store_kpi import import_hq


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(local(2026, 11, 1, 9))  # the Sunday before ISO week 45


async def test_daily_and_weekly_sheets_from_the_store(leads, service, db, clock):  # noqa: F811
    clock.set(local(2026, 11, 1, 13))
    await import_hq(leads, ["丁"], 4)  # its 48-hour first follow-up falls due on 3 Nov 13:00
    clock.set(local(2026, 11, 2, 9))
    a, b, c = await import_hq(leads, ["甲", "乙", "丙"], 1)
    clock.set(local(2026, 11, 2, 10))
    await service.record_disposition(
        a, 1, Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=local(2026, 11, 3, 15)), "王芳"
    )
    await service.record_disposition(
        b, 2, Outcome.BUSY, DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=local(2026, 11, 3, 12)), "王芳"
    )
    await service.record_disposition(
        c, 3, Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED, defeat_reason="价格原因"), "王芳"
    )
    clock.set(local(2026, 11, 3, 11))

    sheet = await daily(db, Settings(), clock)

    assert sheet.day == date(2026, 11, 3)
    # 2 Nov: three dials by 王芳 (甲, 乙, 丙), two talks and follow-ups (甲, 丙), one invitation (甲)
    assert sheet.yesterday == (Activity("王芳", dials=3, talks=2, follow_ups=2, invitations=1),)
    # Today at 11:00: 丁's first follow-up is due at 13:00 (later today); 甲 is expected at 15:00 and its
    # day-before visit reminder (never sent: no SMS worker here) is late; 乙 is due tomorrow; 丙 is closed.
    assert sheet.today == (Agenda("王芳", due=1, overdue=1, visits_expected=1),)
    # A sheet for an earlier day says what happened then, and nothing about its day ahead.
    assert (await daily(db, Settings(), clock, date(2026, 11, 2))).today is None

    clock.set(local(2026, 11, 3, 15, 30))
    await service.record_milestone(a, LeadState.VISITED, "李顾问")
    clock.set(local(2026, 11, 9, 9))  # the next Monday: "last week" is week 45

    week = await weekly(db, Settings(), clock)

    assert week.week == Week(2026, 45)
    # 甲's visit is 王芳's (the showroom recorded it; the customer is hers)
    assert week.activity == (Activity("王芳", dials=3, talks=2, follow_ups=2, invitations=1, visits=1),)
    assert [(r.reason, r.count, r.share) for r in week.defeats] == [("价格原因", 1, 1.0)]
    assert (await weekly(db, Settings(), clock, Week(2026, 46))).activity == ()
