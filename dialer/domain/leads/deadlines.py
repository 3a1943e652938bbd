"""When a lead is due next, and why: the handbook's deadlines as one pure function.

Candidates (the earliest wins):

- first follow-up: HQ leads 48 h after issue, low-intent and defeated leads 2 days
  after hand-over (re-activation is a hand-over), other sources per config;
- agreed callback: the time the customer chose;
- visit reminder: the SMS the day before a booked visit (at a configured local time);
- visit unconfirmed: reminded, not confirmed by SMS some hours later, still before the visit: a call;
- no-show: still invited when the visit day ended: a call the next morning (a configured local time);
- cadence: after the first follow-up, the intent level's follow-up interval after
  the last contact, unless a callback is agreed.

A lead that is closed (deal, defeated, invalid) or opted out is never due.
The store keeps the result in ``leads.due_at``/``due_kind`` so "what is due"
is an index range scan; whoever changes a lead recomputes it with :func:`compute_due`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum

from dialer.domain.leads.model import IntentLevel, Lead, LeadSource, LeadState
from dialer.settings import LeadSettings


class DueKind(StrEnum):
    """Why a lead is due."""

    FIRST_FOLLOW_UP = "first_follow_up"
    CALLBACK = "callback"
    VISIT_REMINDER = "visit_reminder"
    CADENCE = "cadence"
    VISIT_UNCONFIRMED = "visit_unconfirmed"
    NO_SHOW = "no_show"

    @property
    def zh(self) -> str:
        """How the due list names the deadline."""
        return _DUE_ZH[self]


_DUE_ZH = {
    DueKind.FIRST_FOLLOW_UP: "首次跟进",
    DueKind.CALLBACK: "约定回访",
    DueKind.VISIT_REMINDER: "到店提醒",
    DueKind.CADENCE: "定期回访",
    DueKind.VISIT_UNCONFIRMED: "到店确认",
    DueKind.NO_SHOW: "未到店回访",
}


@dataclass(frozen=True, slots=True)
class Due:
    """The next deadline of a lead."""

    kind: DueKind
    at: datetime

    def overdue(self, now: datetime) -> bool:
        """The deadline has passed: a follow-up the handbook asked for is late."""
        return self.at < now


@dataclass(frozen=True, slots=True)
class DueRules:
    """The deadline settings plus the dealer's time zone (reminders are sent at a local hour)."""

    leads: LeadSettings
    tz: tzinfo
    # Each source's first follow-up window, worked out once from the (frozen) settings: an import asks
    # for one per new lead.
    _windows: Mapping[LeadSource, timedelta | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hours = self.leads.first_follow_up_hours
        windows = {s: getattr(hours, s.value) for s in LeadSource}
        object.__setattr__(self, "_windows", {s: None if h is None else timedelta(hours=h) for s, h in windows.items()})

    def first_follow_up(self, source: LeadSource) -> timedelta | None:
        """The first follow-up window of ``source``; None: that source has no deadline."""
        return self._windows[source]

    def cadence(self, level: IntentLevel) -> timedelta:
        """How often a lead of intent ``level`` is called after the first follow-up."""
        return timedelta(days=getattr(self.leads.intent, f"{level.value.lower()}_follow_up_days"))

    def reminder_time(self) -> time:
        """The local time of day the visit reminder SMS goes out (validated HH:MM in settings)."""
        return time.fromisoformat(self.leads.visit_reminder_time)

    def no_show_time(self) -> time:
        """The local time of day a no-show is called, the morning after the visit day (validated HH:MM)."""
        return time.fromisoformat(self.leads.no_show_call_time)


_HANDED_OVER = (LeadSource.LOW_INTENT, LeadSource.DEFEATED)


def compute_due(lead: Lead, rules: DueRules, now: datetime) -> Due | None:
    """The lead's next deadline, or None when nothing is owed to this lead."""
    if not lead.state.is_open or lead.opt_out_at is not None:
        return None
    due = None
    for candidate in (
        _first_follow_up(lead, rules),
        _callback(lead),
        _visit_reminder(lead, rules, now),
        _visit_unconfirmed(lead, rules),
        _no_show(lead, rules),
        _cadence(lead, rules),
    ):
        # The first of equally early candidates wins, in the order above.
        if candidate is not None and (due is None or candidate.at < due.at):
            due = candidate
    return due


def _first_follow_up(lead: Lead, rules: DueRules) -> Due | None:
    if lead.state is LeadState.REACTIVATED:
        # A re-activated lead is handed over again, whatever its original source and
        # earlier contacts; its first follow-up moves it back to following.
        window, start = rules.first_follow_up(LeadSource.DEFEATED), lead.handed_over_at
    elif lead.followed_up and not _handed_over_since_contact(lead) and not _issued_since_contact(lead):
        return None
    else:
        window = rules.first_follow_up(lead.source)
        start = (
            lead.issued_at
            if lead.source is LeadSource.HQ
            else lead.handed_over_at
            if lead.source in _HANDED_OVER
            else None
        )
    if window is None:
        return None
    # Without the issue or hand-over time in the file, the clock starts when the lead entered the system.
    return Due(DueKind.FIRST_FOLLOW_UP, (start or lead.created_at) + window)


def _handed_over_since_contact(lead: Lead) -> bool:
    """A low-intent or defeated lead handed over again (a transfer) after its last call: the new owner's 2-day
    clock runs, whoever called the customer before."""
    return (
        lead.source in _HANDED_OVER
        and lead.handed_over_at is not None
        and lead.last_contact_at is not None
        and lead.handed_over_at > lead.last_contact_at
    )


def _issued_since_contact(lead: Lead) -> bool:
    """HQ issued the customer again (merge.reissue) after the last call: its 48-hour clock runs again."""
    return (
        lead.source is LeadSource.HQ
        and lead.issued_at is not None
        and lead.last_contact_at is not None
        and lead.issued_at > lead.last_contact_at
    )


def _callback(lead: Lead) -> Due | None:
    return None if lead.callback_at is None else Due(DueKind.CALLBACK, lead.callback_at)


def _visit_reminder(lead: Lead, rules: DueRules, now: datetime) -> Due | None:
    if lead.visit_at is None or lead.visit_reminded_at is not None or lead.visit_at <= now:
        return None
    visit_day = lead.visit_at.astimezone(rules.tz).date()
    remind_day = visit_day - timedelta(days=rules.leads.visit_reminder_days_before)
    return Due(DueKind.VISIT_REMINDER, datetime.combine(remind_day, rules.reminder_time(), rules.tz).astimezone(UTC))


def _visit_unconfirmed(lead: Lead, rules: DueRules) -> Due | None:
    if lead.state is not LeadState.INVITED or lead.visit_at is None or lead.visit_reminded_at is None:
        return None
    if lead.visit_confirmed_at is not None:
        return None
    chase = lead.visit_reminded_at + timedelta(hours=rules.leads.visit_confirm_chase_hours)
    # After the visit has begun a call cannot save it: the no-show call covers what happens then.
    return Due(DueKind.VISIT_UNCONFIRMED, chase) if chase < lead.visit_at else None


def _no_show(lead: Lead, rules: DueRules) -> Due | None:
    # Still invited means nobody reported the visit: a visit moves the lead to visited (or deal).
    if lead.state is not LeadState.INVITED or lead.visit_at is None:
        return None
    next_day = lead.visit_at.astimezone(rules.tz).date() + timedelta(days=1)
    return Due(DueKind.NO_SHOW, datetime.combine(next_day, rules.no_show_time(), rules.tz).astimezone(UTC))


def _cadence(lead: Lead, rules: DueRules) -> Due | None:
    if lead.last_contact_at is None or lead.intent is None or lead.callback_at is not None:
        return None
    if lead.state is LeadState.INVITED and lead.visit_at is not None:
        # A booked visit replaces routine calls; the reminder covers it.
        return None
    return Due(DueKind.CADENCE, lead.last_contact_at + rules.cadence(lead.intent))
