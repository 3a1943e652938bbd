from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.clock import VirtualClock
from dialer.domain.leads.deadlines import Due, DueKind, DueRules, compute_due
from dialer.domain.leads.model import IntentLevel, Lead, LeadPhone, LeadSource, LeadState, PhoneKind
from dialer.settings import FirstFollowUpHours, LeadSettings

SH = ZoneInfo("Asia/Shanghai")
RULES = DueRules(LeadSettings(), SH)
T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def lead(**kw: object) -> Lead:
    base = Lead(
        id=1,
        name="张三",
        source=LeadSource.HQ,
        state=LeadState.NEW,
        phones=(LeadPhone("+8613800138000", PhoneKind.MOBILE),),
        created_at=T0,
        created_by="t",
        updated_at=T0,
    )
    return dataclasses.replace(base, **kw)


def test_hq_lead_is_due_48_hours_after_issue() -> None:
    issued = T0 - timedelta(hours=5)
    assert compute_due(lead(issued_at=issued), RULES, T0) == Due(DueKind.FIRST_FOLLOW_UP, issued + timedelta(hours=48))


def test_hq_lead_without_issue_time_counts_from_entry() -> None:
    assert compute_due(lead(), RULES, T0) == Due(DueKind.FIRST_FOLLOW_UP, T0 + timedelta(hours=48))


def test_low_intent_and_defeated_leads_are_due_2_days_after_hand_over() -> None:
    handed = T0 - timedelta(hours=1)
    for source in (LeadSource.LOW_INTENT, LeadSource.DEFEATED):
        due = compute_due(lead(source=source, handed_over_at=handed, issued_at=T0 - timedelta(days=30)), RULES, T0)
        assert due == Due(DueKind.FIRST_FOLLOW_UP, handed + timedelta(days=2))


def test_overdue_with_a_virtual_clock() -> None:
    clock = VirtualClock(T0)
    due = compute_due(lead(issued_at=T0), RULES, clock.now())
    assert due is not None and not due.overdue(clock.now())
    clock.advance(48 * 3600)
    assert not due.overdue(clock.now())
    clock.advance(1)
    assert due.overdue(clock.now())


def test_deadlines_are_configurable_and_none_means_no_deadline() -> None:
    rules = DueRules(LeadSettings(first_follow_up_hours=FirstFollowUpHours(hq=24.0, web=None)), SH)
    assert compute_due(lead(issued_at=T0), rules, T0) == Due(DueKind.FIRST_FOLLOW_UP, T0 + timedelta(hours=24))
    assert compute_due(lead(source=LeadSource.WEB), rules, T0) is None
    assert compute_due(lead(source=LeadSource.BASE_CUSTOMER), RULES, T0) is None


def test_agreed_callback_is_due_at_the_customers_time() -> None:
    callback = T0 + timedelta(days=3, hours=2)
    followed = lead(
        state=LeadState.FOLLOWING, first_contact_at=T0, last_contact_at=T0, intent=IntentLevel.C, callback_at=callback
    )
    assert compute_due(followed, RULES, T0) == Due(DueKind.CALLBACK, callback)


def test_callback_before_the_first_follow_up_deadline_wins() -> None:
    callback = T0 + timedelta(hours=3)
    assert compute_due(lead(issued_at=T0, callback_at=callback), RULES, T0) == Due(DueKind.CALLBACK, callback)


def test_visit_reminder_goes_out_the_day_before_at_the_configured_local_time() -> None:
    visit = datetime(2026, 12, 5, 14, 30, tzinfo=SH)
    invited = lead(
        state=LeadState.INVITED, first_contact_at=T0, last_contact_at=T0, intent=IntentLevel.H, visit_at=visit
    )
    assert compute_due(invited, RULES, T0) == Due(DueKind.VISIT_REMINDER, datetime(2026, 12, 4, 10, 0, tzinfo=SH))
    # Reminded and confirmed: nothing until the visit day has ended without a visit.
    confirmed = dataclasses.replace(invited, visit_reminded_at=T0, visit_confirmed_at=T0)
    assert compute_due(confirmed, RULES, T0) == Due(DueKind.NO_SHOW, datetime(2026, 12, 6, 9, 30, tzinfo=SH))
    # A visit already past needs no reminder.
    past = visit.astimezone(UTC) + timedelta(minutes=1)
    assert compute_due(invited, RULES, past) == Due(DueKind.NO_SHOW, datetime(2026, 12, 6, 9, 30, tzinfo=SH))


def test_a_reminded_customer_who_does_not_confirm_is_called_some_hours_later() -> None:
    visit = datetime(2026, 12, 5, 14, 30, tzinfo=SH)
    reminded_at = datetime(2026, 12, 4, 10, 0, tzinfo=SH)
    invited = lead(state=LeadState.INVITED, first_contact_at=T0, last_contact_at=T0, intent=IntentLevel.H,
                   visit_at=visit, visit_reminded_at=reminded_at)  # fmt: skip
    assert compute_due(invited, RULES, T0) == Due(DueKind.VISIT_UNCONFIRMED, reminded_at + timedelta(hours=4))
    # Reminded too late for a chase before the visit: the no-show call is what is left.
    late = dataclasses.replace(invited, visit_reminded_at=visit - timedelta(hours=2))
    assert compute_due(late, RULES, T0) == Due(DueKind.NO_SHOW, datetime(2026, 12, 6, 9, 30, tzinfo=SH))


def test_an_invited_customer_who_did_not_come_is_due_the_next_morning_tagged_no_show() -> None:
    rules = DueRules(LeadSettings(no_show_call_time="08:45"), SH)
    visit = datetime(2026, 12, 5, 23, 30, tzinfo=SH)  # late in the local day: still that day
    invited = lead(state=LeadState.INVITED, first_contact_at=T0, last_contact_at=T0, visit_at=visit,
                   visit_reminded_at=T0, visit_confirmed_at=T0)  # fmt: skip
    due = compute_due(invited, rules, visit.astimezone(UTC) + timedelta(minutes=5))
    assert due == Due(DueKind.NO_SHOW, datetime(2026, 12, 6, 8, 45, tzinfo=SH))
    # Visited (or any state but invited): no no-show call.
    visited = dataclasses.replace(invited, state=LeadState.VISITED)
    assert compute_due(visited, rules, T0) != due
    assert compute_due(dataclasses.replace(invited, state=LeadState.DEAL), rules, T0) is None


def test_visit_reminder_time_and_lead_days_are_configurable() -> None:
    rules = DueRules(LeadSettings(visit_reminder_days_before=2, visit_reminder_time="18:30"), SH)
    visit = datetime(2026, 12, 5, 9, 0, tzinfo=SH)
    invited = lead(state=LeadState.INVITED, first_contact_at=T0, last_contact_at=T0, visit_at=visit)
    assert compute_due(invited, rules, T0) == Due(DueKind.VISIT_REMINDER, datetime(2026, 12, 3, 18, 30, tzinfo=SH))


def test_after_the_first_follow_up_the_intent_level_sets_the_cadence() -> None:
    contacted = lead(state=LeadState.FOLLOWING, first_contact_at=T0, last_contact_at=T0, intent=IntentLevel.H)
    assert compute_due(contacted, RULES, T0) == Due(DueKind.CADENCE, T0 + timedelta(days=2))
    assert compute_due(dataclasses.replace(contacted, intent=IntentLevel.C), RULES, T0) == Due(
        DueKind.CADENCE, T0 + timedelta(days=15)
    )
    assert compute_due(dataclasses.replace(contacted, intent=None), RULES, T0) is None


def test_closed_and_opted_out_leads_are_never_due() -> None:
    for state in (LeadState.DEAL, LeadState.DEFEATED, LeadState.INVALID):
        assert compute_due(lead(state=state, callback_at=T0), RULES, T0) is None
    assert compute_due(lead(opt_out_at=T0), RULES, T0) is None


def test_reactivated_lead_is_a_fresh_hand_over() -> None:
    again = T0 + timedelta(days=40)
    reactivated = lead(state=LeadState.REACTIVATED, first_contact_at=T0, last_contact_at=T0, handed_over_at=again)
    assert compute_due(reactivated, RULES, again) == Due(DueKind.FIRST_FOLLOW_UP, again + timedelta(hours=48))
