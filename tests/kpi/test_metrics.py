"""KPIs recomputed from a hand-checked fixture: every expected number is worked out in a comment.

November 2026 in Asia/Shanghai (UTC+8) runs from 2026-10-31T16:00Z to 2026-11-30T16:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import (
    CallFact,
    CallNorm,
    ContactFact,
    KpiInput,
    KpiRules,
    LeadFact,
    Month,
    Ratio,
    StateFact,
    compute,
    settings_problems,
)
from dialer.domain.leads.model import LeadSource as S
from dialer.domain.leads.model import LeadState
from dialer.settings import FirstFollowUpHours, KpiSettings

TZ = ZoneInfo("Asia/Shanghai")
NOV = Month(2026, 11)
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
RULES = KpiRules(
    tz=TZ,
    first_follow_up=FirstFollowUpHours(),  # hq 48 h, low_intent 48 h, defeated 48 h
    outbound_norm=CallNorm(70, 80),
    inbound_norm=CallNorm(50, 60),
    captured_sources=frozenset({S.WEB, S.INBOUND, S.REFERRAL}),
)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lead(i: int, source: S, created: str, owner: str = "li", handed_over: bool = False) -> LeadFact:
    at = z(created)
    return LeadFact(
        id=i,
        source=source,
        created_at=at,
        owner=owner,
        issued_at=at if source is S.HQ else None,
        handed_over_at=at if handed_over else None,
    )


LEADS = [
    lead(1, S.HQ, "2026-10-20T02:00", owner="wang"),  # October, un-followed at 1 Nov: carried over
    lead(2, S.WEB, "2026-10-25T02:00"),  # October, followed up in October: not carried
    lead(3, S.LOW_INTENT, "2026-10-10T02:00", handed_over=True),  # defeated in October: closed, not carried
    lead(4, S.HQ, "2026-10-31T17:00", owner="wang"),  # = 1 Nov 01:00 local: NEW in November
    lead(5, S.WEB, "2026-11-30T15:59"),  # = 30 Nov 23:59 local: new in November, never reached
    lead(6, S.WEB, "2026-11-30T16:00"),  # = 1 Dec 00:00 local: December, not counted
    lead(7, S.HQ, "2026-11-10T02:00"),  # reached after 72 h, invited, visited, deal
    lead(8, S.DEFEATED, "2026-11-05T02:00", handed_over=True),  # reached after 24 h; walk-in visit
    lead(9, S.LOW_INTENT, "2026-11-29T02:00", handed_over=True),  # deadline 1 Dec 02:00Z still running
    lead(10, S.LOW_INTENT, "2026-11-20T02:00", handed_over=True),  # never reached, deadline passed
    lead(11, S.BASE_CUSTOMER, "2026-09-01T02:00"),  # invited in October, visits in November
    lead(12, S.INBOUND, "2026-11-15T02:00", owner="wang"),  # reached an hour later
    lead(13, S.WEB, "2025-11-10T02:00"),  # last November (year-on-year); invalid since
    lead(14, S.HQ, "2025-11-11T02:00"),  # last November; deal in December 2025
]

CONTACTS = [
    ContactFact(1, z("2026-11-03T02:00")),
    ContactFact(2, z("2026-10-26T02:00")),
    ContactFact(4, z("2026-11-02T10:00")),  # due 2026-11-02T17:00Z: met
    ContactFact(7, z("2026-11-13T02:00")),  # due 2026-11-12T02:00Z: missed
    ContactFact(7, z("2026-11-20T02:00")),  # second contact: not a first follow-up
    ContactFact(8, z("2026-11-06T02:00")),  # due 2026-11-07T02:00Z: met
    ContactFact(11, z("2026-10-05T02:00")),
    ContactFact(12, z("2026-11-15T03:00")),
]

STATES = [
    StateFact(3, z("2026-10-15T02:00"), LeadState.DEFEATED),
    StateFact(11, z("2026-10-05T02:00"), LeadState.INVITED),
    StateFact(11, z("2026-11-02T02:00"), LeadState.VISITED),
    StateFact(7, z("2026-11-13T02:00"), LeadState.INVITED),
    StateFact(7, z("2026-11-20T02:00"), LeadState.VISITED),
    StateFact(7, z("2026-11-25T02:00"), LeadState.DEAL),
    StateFact(8, z("2026-11-08T02:00"), LeadState.VISITED),  # never invited: not a first-invitation visit
    StateFact(13, z("2025-11-12T02:00"), LeadState.INVALID),
    StateFact(14, z("2025-12-01T02:00"), LeadState.DEAL),
]


def calls(agent: str, first: str, n: int, direction: Direction = Direction.OUTBOUND) -> list[CallFact]:
    return [CallFact(agent, z(first) + timedelta(minutes=i), direction) for i in range(n)]


CALLS = [
    *calls("wang", "2026-11-02T01:00", 75),  # 2 Nov local: within 70-80
    *calls("wang", "2026-11-03T01:00", 60),  # 3 Nov: below
    *calls("wang", "2026-10-31T15:59", 1),  # 31 Oct 23:59 local: October, not counted
    *calls("li", "2026-11-02T01:00", 81),  # 2 Nov: above
    *calls("li", "2026-11-30T15:59", 1),  # 30 Nov 23:59 local: counted, a day below norm
]

DATA = KpiInput(leads=LEADS, contacts=CONTACTS, states=STATES, calls=CALLS)


@pytest.fixture(scope="module")
def nov():
    return compute(NOV, DATA, RULES, NOW)


def test_follow_up_rate_with_carry_over_and_month_boundaries(nov):
    # carried over: lead 1 only (2 was followed up in Oct, 3 defeated in Oct, 11 contacted in Oct and a
    #               base customer besides, 13 invalid, 14 deal) = 1
    # new in Nov (local): 4, 5, 7, 8, 9, 10, 12 = 7 (6 is 1 Dec local)
    # first follow-ups in Nov: 1, 4, 7, 8, 12 = 5
    # rate = 5 / (1 + 7) = 62.5 %
    assert (nov.carried_over, nov.new_leads) == (1, 7)
    assert nov.follow_up_rate == Ratio(5, 8)
    assert nov.follow_up_rate.percent == pytest.approx(62.5)


def test_invite_to_store_rate(nov):
    # Among the 5 first follow-ups of November (1, 4, 7, 8, 12), first-invitation visits in November:
    # 7 (invited 13 Nov, visited 20 Nov) = 1; 8 visited without an invitation; 11 visited on 2 Nov but
    # is a base customer first followed up in October, outside the rate's population. 1 / 5 = 20 %
    assert nov.invite_to_store_rate == Ratio(1, 5)
    assert nov.invite_to_store_rate.percent == pytest.approx(20.0)


def test_invite_to_store_rate_is_a_share_of_the_month_s_first_follow_ups_so_never_above_100_percent():
    # Five leads invited in October visit in November; one lead is first followed up in November.
    october = [lead(20 + i, S.HQ, "2026-10-02T02:00") for i in range(5)]
    data = KpiInput(
        leads=[*october, lead(30, S.HQ, "2026-11-02T02:00")],
        contacts=[
            *(ContactFact(20 + i, z("2026-10-03T02:00")) for i in range(5)),
            ContactFact(30, z("2026-11-03T02:00")),
        ],
        states=[
            *(StateFact(20 + i, z("2026-10-03T02:00"), LeadState.INVITED) for i in range(5)),
            *(StateFact(20 + i, z("2026-11-05T02:00"), LeadState.VISITED) for i in range(5)),
        ],
        calls=[],
    )
    assert compute(NOV, data, RULES, NOW).invite_to_store_rate == Ratio(0, 1)  # was 5 / 1 = 500 %


def test_base_customers_called_for_repurchase_are_not_in_the_follow_up_rate():
    # 10 HQ leads, all followed up; 1,000 base customers imported for an SMS wave, 10 of them called.
    hq = [lead(100 + i, S.HQ, "2026-11-02T02:00") for i in range(10)]
    base = [lead(1000 + i, S.BASE_CUSTOMER, "2026-11-02T02:00") for i in range(1000)]
    contacts = [ContactFact(100 + i, z("2026-11-03T02:00")) for i in range(10)]
    contacts += [ContactFact(1000 + i, z("2026-11-04T02:00")) for i in range(10)]
    data = KpiInput(leads=[*hq, *base], contacts=contacts, states=[], calls=[])
    assert compute(NOV, data, RULES, NOW).follow_up_rate == Ratio(10, 10)  # was 20 / 1010 = 2 %


def test_deals(nov):
    # lead 7 on 25 Nov; lead 14's deal was in Dec 2025
    assert nov.deals == 1


def test_deadline_compliance(nov):
    # HQ clocks started in Nov: 4 (met: 17 h), 7 (missed: 72 h) -> 1 / 2
    assert nov.hq_deadline == Ratio(1, 2)
    # hand-overs started in Nov: 8 met (24 h), 10 missed, 9 still running (excluded) -> 1 / 2
    assert nov.handover_deadline == Ratio(1, 2)


def test_contacts_captured(nov):
    # new Nov leads from web/inbound/referral: 5 (web), 12 (inbound) = 2
    assert nov.contacts_captured == 2


def test_calls_per_agent_per_day(nov):
    li, wang = nov.outbound_calls
    # li: 81 + 1 = 82 calls on 2 days -> 41/day; 81 above the 80 norm, 1 below 70
    assert (li.agent, li.calls, li.days_worked, li.per_day) == ("li", 82, 2, 41.0)
    assert (li.days_below_norm, li.days_within_norm, li.days_above_norm) == (1, 0, 1)
    # wang: 75 + 60 = 135 on 2 days -> 67.5/day; the 31 Oct call is October's
    assert (wang.agent, wang.calls, wang.days_worked, wang.per_day) == ("wang", 135, 2, 67.5)
    assert (wang.days_below_norm, wang.days_within_norm, wang.days_above_norm) == (1, 1, 0)


def test_inbound_calls_have_their_own_norm_and_do_not_count_as_dials():
    # 2 Nov: wang dials 70 and takes 10 inbound calls; 3 Nov: takes 55 inbound calls and dials none.
    data = KpiInput(
        leads=(),
        contacts=(),
        states=(),
        calls=[
            *calls("wang", "2026-11-02T01:00", 70),
            *calls("wang", "2026-11-02T05:00", 10, Direction.INBOUND),
            *calls("wang", "2026-11-03T01:00", 55, Direction.INBOUND),
        ],
    )
    kpis = compute(NOV, data, RULES, NOW)
    (dials,) = kpis.outbound_calls
    # 70 dials on 1 day: within 70-80 (before: 80 calls counted against the outbound norm, and 55 on 3 Nov
    # as a day below it)
    assert (dials.calls, dials.days_worked, dials.days_within_norm, dials.days_below_norm) == (70, 1, 1, 0)
    (taken,) = kpis.inbound_calls
    # 10 + 55 on 2 days: 2 Nov below 50, 3 Nov within 50-60
    assert (taken.calls, taken.days_worked, taken.per_day) == (65, 2, 32.5)
    assert (taken.days_below_norm, taken.days_within_norm, taken.days_above_norm) == (1, 1, 0)
    assert kpis.to_json()["inbound_calls"][0]["days_within_norm"] == 1


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"inbound_norm_min": 61}, "kpi: need 0 < inbound_norm_min (61) <= inbound_norm_max (60)"),
        ({"inbound_norm_min": 0}, "kpi: need 0 < inbound_norm_min (0) <= inbound_norm_max (60)"),
        ({"calls_norm_max": 69}, "kpi: need 0 < calls_norm_min (70) <= calls_norm_max (69)"),
    ],
)
def test_norms_are_validated(knobs, problem):
    assert settings_problems(KpiSettings(**knobs)) == [problem]


def test_leads_per_source_with_changes(nov):
    rows = {r.source: r for r in nov.sources}
    # Nov 2026 / Oct 2026 / Nov 2025
    # hq: 4, 7 = 2 / 1 = 1 / 14 = 1 -> +100 % both
    assert (rows[S.HQ].count, rows[S.HQ].previous_month, rows[S.HQ].year_before) == (2, 1, 1)
    assert rows[S.HQ].month_on_month == pytest.approx(1.0)
    assert rows[S.HQ].year_on_year == pytest.approx(1.0)
    # web: 5 / 2 / 13 -> 1, 1, 1 -> 0 % both (6 belongs to December)
    assert (rows[S.WEB].count, rows[S.WEB].month_on_month, rows[S.WEB].year_on_year) == (1, 0.0, 0.0)
    # low_intent: 9, 10 = 2 / 3 = 1 / none -> +100 %, no year-on-year
    assert (rows[S.LOW_INTENT].month_on_month, rows[S.LOW_INTENT].year_on_year) == (1.0, None)
    # defeated 1/0/0 and inbound 1/0/0; base_customer had none in any of the three months
    assert rows[S.DEFEATED].month_on_month is None
    assert set(rows) == {S.HQ, S.WEB, S.LOW_INTENT, S.DEFEATED, S.INBOUND}


def test_one_agent():
    wang = compute(NOV, DATA, RULES, NOW, agent="wang")
    # wang owns 1 (carried), 4 and 12 (new): 3 first follow-ups of 3
    assert wang.follow_up_rate == Ratio(3, 3)
    # no visits: 0 / 3 = 0 %, not "—"
    assert wang.invite_to_store_rate.percent == 0.0
    assert wang.hq_deadline == Ratio(1, 1)  # lead 4
    assert wang.handover_deadline.value is None  # no hand-overs: "—"
    assert wang.contacts_captured == 1  # lead 12
    assert [a.agent for a in wang.outbound_calls] == ["wang"]


def test_empty_month_divides_by_zero_into_none():
    empty = compute(NOV, KpiInput((), (), (), ()), RULES, NOW)
    assert empty.follow_up_rate.value is None and empty.follow_up_rate.percent is None
    assert empty.invite_to_store_rate.value is None
    assert (empty.deals, empty.outbound_calls, empty.inbound_calls, empty.sources) == (0, (), (), ())


def test_month_bounds_are_local_midnights():
    start, end = NOV.bounds(TZ)
    assert (start, end) == (z("2026-10-31T16:00"), z("2026-11-30T16:00"))
    assert Month(2026, 12).bounds(TZ)[1] == datetime(2027, 1, 1, tzinfo=TZ)
    assert Month(2026, 1).previous() == Month(2025, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026/11", "11-2026", ""])
def test_bad_month_text_is_refused(text):
    with pytest.raises(ValueError, match=r"^month .*(is not between 1 and 12|expected YYYY-MM)"):
        Month.parse(text)
