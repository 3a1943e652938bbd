"""The daily and weekly sheets from hand-checked records (#13 item 6): every number is worked out in a comment.

Asia/Shanghai is UTC+8: the local day 2026-11-02 runs from 2026-11-01T16:00Z to 2026-11-02T16:00Z.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import CallFact, KpiInput, LeadFact, OwnerChange, StateFact
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.domain.reports.sheets import Activity, Agenda, AgendaFact, Week, daily_sheet, weekly_sheet
from dialer.domain.reports.tables import daily_tables, weekly_tables

TZ = ZoneInfo("Asia/Shanghai")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lead(i: int, owner: str | None) -> LeadFact:
    return LeadFact(i, LeadSource.HQ, z("2026-10-01T02:00"), owner)


LEADS = [lead(1, "wang"), lead(2, "wang"), lead(3, "li"), lead(4, None), lead(5, "li")]
CALLS = [
    # wang on 2 Nov (local): 3 dials, two of them talks with lead 1 (one follow-up), one unanswered to lead 2
    CallFact("wang", z("2026-11-02T01:00"), Direction.OUTBOUND, True, 1),
    CallFact("wang", z("2026-11-02T02:00"), Direction.OUTBOUND, True, 1),
    CallFact("wang", z("2026-11-02T03:00"), Direction.OUTBOUND, False, 2),
    # li on 2 Nov: an inbound talk with lead 3 (a talk and a follow-up, no dial) and one from a caller who
    # is no lead (a talk, no follow-up)
    CallFact("li", z("2026-11-02T04:00"), Direction.INBOUND, True, 3),
    CallFact("li", z("2026-11-02T05:00"), Direction.INBOUND, True, None),
    # 1 Nov 23:59 local and 3 Nov 00:00 local: other days
    CallFact("wang", z("2026-11-01T15:59"), Direction.OUTBOUND, True, 1),
    CallFact("wang", z("2026-11-02T16:00"), Direction.OUTBOUND, True, 1),
]
STATES = [
    StateFact(1, z("2026-11-02T01:05"), LeadState.INVITED),  # wang's invitation
    StateFact(1, z("2026-11-02T02:05"), LeadState.INVITED),  # rescheduled the same day: one invitation
    StateFact(3, z("2026-11-02T06:00"), LeadState.VISITED),  # li's customer came (recorded by the showroom)
    StateFact(3, z("2026-11-02T07:00"), LeadState.DEAL),
    StateFact(4, z("2026-11-02T08:00"), LeadState.VISITED),  # a walk-in nobody owns
    StateFact(2, z("2026-11-03T02:00"), LeadState.DEFEATED, "价格"),  # week 45 (Mon 2 Nov - Sun 8 Nov)
    StateFact(5, z("2026-11-04T02:00"), LeadState.DEFEATED, "价格"),
    StateFact(1, z("2026-11-05T02:00"), LeadState.DEFEATED, None),  # no reason given
    StateFact(4, z("2026-11-08T15:59"), LeadState.DEFEATED, '=HYPERLINK("x")'),  # Sun 23:59 local
    StateFact(3, z("2026-11-08T16:00"), LeadState.DEFEATED, "竞品"),  # Mon 9 Nov 00:00 local: next week
]
# Lead 5 was wang's until li took it over on 3 Nov; it is li's from then.
OWNERS = [OwnerChange(5, z("2026-10-01T02:00"), "wang"), OwnerChange(5, z("2026-11-03T01:00"), "li")]
DATA = KpiInput(leads=LEADS, contacts=(), states=STATES, calls=CALLS, owners=OWNERS)
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=TZ)


def test_yesterday_per_agent():
    sheet = daily_sheet(date(2026, 11, 3), DATA, TZ, NOW, agenda_facts=None)
    assert sheet.yesterday == (
        Activity("li", dials=0, talks=2, follow_ups=1, invitations=0, visits=1, deals=1),
        Activity("wang", dials=3, talks=2, follow_ups=1, invitations=1, visits=0, deals=0),
        Activity(None, visits=1),
    )
    assert sheet.yesterday_total == Activity(None, dials=3, talks=4, follow_ups=2, invitations=1, visits=2, deals=1)
    # A day before today: what is due is not known for it.
    assert sheet.today is None and sheet.to_json()["today"] is None


def test_today_due_overdue_and_visits_expected():
    at = lambda h, m=0: datetime(2026, 11, 3, h, m, tzinfo=TZ)  # noqa: E731
    facts = [
        AgendaFact("wang", at(9), None, LeadState.FOLLOWING),  # 09:00 < now 10:00: overdue
        AgendaFact("wang", at(23, 59), None, LeadState.FOLLOWING),  # later today: due
        AgendaFact("wang", at(8), at(14), LeadState.INVITED),  # the visit reminder is late; expected at 14:00
        AgendaFact("li", None, at(11), LeadState.INVITED),  # expected, nothing due
        AgendaFact("li", None, datetime(2026, 11, 4, 0, 0, tzinfo=TZ), LeadState.INVITED),  # tomorrow: not today
        AgendaFact(None, datetime(2026, 10, 30, 9, tzinfo=TZ), None, LeadState.NEW),  # nobody's, overdue
    ]
    sheet = daily_sheet(date(2026, 11, 3), DATA, TZ, NOW, facts)
    assert sheet.today == (Agenda("li", 0, 0, 1), Agenda("wang", 1, 2, 1), Agenda(None, 0, 1, 0))
    assert sheet.today_total == Agenda(None, 1, 3, 2)
    (_yesterday, today) = daily_tables(sheet, "en")
    assert today.headers == ("agent", "due today", "overdue", "visits expected")
    assert today.rows[-1] == ("total", 1, 3, 2) and today.rows[-2][0] == "(nobody's)"


def test_week_with_defeat_reasons_count_and_share():
    sheet = weekly_sheet(Week(2026, 45), DATA, TZ)
    # Week 45 (2-8 Nov local): defeats 2 (价格), 5 (价格), 1 (no reason), 4 (a hostile reason); 3 is week 46.
    assert [(r.reason, r.count, r.share) for r in sheet.defeats] == [
        ("价格", 2, 0.5),
        ('=HYPERLINK("x")', 1, 0.25),
        (None, 1, 0.25),
    ]
    assert sheet.defeated == 4
    # The week's activity: 2 Nov's as above (the 3 Nov 00:00 call is in the week too: wang 4 dials, 3 talks)
    assert sheet.total.dials == 4 and sheet.total.talks == 5
    _week, reasons = weekly_tables(sheet, "zh-CN")
    assert reasons.headers == ("战败原因", "数量", "占比")
    assert reasons.rows == (("价格", 2, "50.0%"), ('=HYPERLINK("x")', 1, "25.0%"), ("（未填写原因）", 1, "25.0%"))


def test_lead_outcomes_go_to_the_owner_at_the_period_s_end():
    # Lead 5 is defeated on 4 Nov: li's by then. Its deal in week 44 would be wang's (owner until 3 Nov).
    data = KpiInput(LEADS, (), [StateFact(5, z("2026-11-01T02:00"), LeadState.DEAL)], (), OWNERS)
    assert [(a.agent, a.deals) for a in weekly_sheet(Week(2026, 44), data, TZ).activity] == [("wang", 1)]
    assert [(a.agent, a.deals) for a in weekly_sheet(Week(2026, 45), data, TZ).activity] == []


def test_an_empty_week_has_no_rows():
    sheet = weekly_sheet(Week(2026, 1), KpiInput((), (), (), ()), TZ)
    assert (sheet.activity, sheet.defeats, sheet.defeated) == ((), (), 0)
    assert [t.rows for t in weekly_tables(sheet, "en")] == [(), ()]


def test_weeks():
    assert Week.parse("2026-W48").monday == date(2026, 11, 23)
    assert Week(2026, 1).previous() == Week(2025, 1 + 51)  # 2025 has 52 ISO weeks
    assert Week.containing(date(2027, 1, 1)) == Week(2026, 53)  # 2026 has 53
    start, end = Week(2026, 45).bounds(TZ)
    assert (start, end - start) == (z("2026-11-01T16:00"), timedelta(days=7))


@pytest.mark.parametrize(("text", "message"), [("2026-48", "expected YYYY-Www"), ("2025-W53", "does not exist")])
def test_bad_weeks_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        Week.parse(text)
