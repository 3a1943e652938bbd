"""The handbook's monthly KPIs, computed from plain records. Pure: no I/O, time comes in as ``now``.

Definitions (docs/kpi.md is the reference; the code must say the same):

- a *phone follow-up* is a call that reached the customer (a ``contact``); a
  lead's *first* follow-up is its earliest contact;
- follow-up rate = first phone follow-ups in the month ÷ (leads carried over
  un-followed from earlier months + new leads of the month);
- invite-to-store rate = first-invitation store visits in the month ÷ first
  follow-ups in the month; a first-invitation visit is a lead's first change to
  ``visited`` that comes after a change to ``invited``;
- deals = leads changed to ``deal`` in the month.

Month boundaries are midnights in the dealer's time zone. A ratio whose
denominator is zero has no value (``None``), shown as "—".

One agent's KPIs count the leads that agent owned when the month ended (from the ownership
history, so a later transfer does not change a closed month) and the calls they had.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.targets import TargetProgress
from dialer.domain.leads.hygiene import month_bounds
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.settings import FirstFollowUpHours, KpiSettings, Settings

# A lead in one of these states at the start of a month is not "carried over un-followed".
_CLOSED = frozenset({LeadState.DEAL, LeadState.DEFEATED, LeadState.INVALID})
# Leads the sales manager hands over; their 2-day deadline runs from the hand-over.
_HANDED_OVER = frozenset({LeadSource.LOW_INTENT, LeadSource.DEFEATED})
# The handbook's follow-up and invite-to-store rates concern prospects (潜客): every channel but the
# base customers, who are existing owners called for repurchase and have a funnel of their own.
PROSPECT_SOURCES = frozenset(LeadSource) - {LeadSource.BASE_CUSTOMER}
_MONTH_TEXT = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month of the dealer; KPIs are always per month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not between 1 and 12")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` -> Month(2026, 11); anything else is a ValueError naming the text."""
        match = _MONTH_TEXT.match(text.strip())
        if not match:
            raise ValueError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, when: datetime, tz: tzinfo) -> Month:
        local = when.astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def year_before(self) -> Month:
        return Month(self.year - 1, self.month)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end): local midnight of the 1st to local midnight of the next 1st (the hygiene report's months)."""
        return month_bounds(str(self), tz)


@dataclass(frozen=True, slots=True)
class LeadFact:
    """What the KPIs need to know about a lead."""

    id: int
    source: LeadSource
    created_at: datetime  # entered the system: "new" in this month
    owner: str | None = None  # today's owner: the month-end owner when the history says nothing
    issued_at: datetime | None = None  # HQ issue time
    handed_over_at: datetime | None = None  # sales manager's hand-over (today's: the latest)
    # Every hand-over of the lead, oldest first: the first (the file's, else its creation), then each transfer
    # or re-activation. Empty: only ``handed_over_at`` is known (each hand-over restarts the 2-day clock).
    handovers: tuple[datetime, ...] = ()
    # Every HQ issue of a lead HQ issued again (merge.reissue), oldest first: the first issue when the lead
    # was HQ's before, then each re-issue. Empty: issued once (``issued_at``, else its creation).
    hq_issues: tuple[datetime, ...] = ()
    portal: str | None = None  # a web lead's car portal (汽车之家, 易车, ...), when its import named one


@dataclass(frozen=True, slots=True)
class ContactFact:
    """A phone follow-up that reached the customer."""

    lead_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class StateFact:
    """A lead changed to ``state`` at ``at``."""

    lead_id: int
    at: datetime
    state: LeadState
    defeat_reason: str | None = None  # for a change to ``defeated``: why the customer was lost


@dataclass(frozen=True, slots=True)
class OwnerChange:
    """From ``at`` the lead was ``owner``'s (None: nobody's). ``previous`` set: a rename, the same person
    filed under their identity (an alias, docs/leads.md "Owners"): earlier entries naming ``previous``
    meant ``owner`` all along."""

    lead_id: int
    at: datetime
    owner: str | None
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class CallFact:
    """One call of ``agent``'s: an outbound dial they made, or an inbound call they took."""

    agent: str
    at: datetime
    direction: Direction = Direction.OUTBOUND
    talked: bool = False  # the customer spoke with the agent (a follow-up when it is a lead's)
    lead_id: int | None = None


@dataclass(frozen=True, slots=True)
class KpiInput:
    """Everything the month's KPIs are computed from; the query module fills it from the store."""

    leads: Sequence[LeadFact]
    contacts: Sequence[ContactFact]
    states: Sequence[StateFact]
    calls: Sequence[CallFact]
    owners: Sequence[OwnerChange] = ()  # the ownership history (created, assigned, transferred, renamed)


@dataclass(frozen=True, slots=True)
class CallNorm:
    """A person's daily call workload: ``low``-``high`` calls a day (both included)."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class KpiRules:
    """The dealer's knobs: time zone, first-follow-up deadlines, the daily call norms, captured sources."""

    tz: tzinfo
    first_follow_up: FirstFollowUpHours
    outbound_norm: CallNorm
    inbound_norm: CallNorm
    captured_sources: frozenset[LeadSource]

    @classmethod
    def from_settings(cls, settings: Settings) -> KpiRules:
        k = settings.kpi
        return cls(
            tz=ZoneInfo(settings.dealer.timezone),
            first_follow_up=settings.leads.first_follow_up_hours,
            outbound_norm=CallNorm(k.calls_norm_min, k.calls_norm_max),
            inbound_norm=CallNorm(k.inbound_norm_min, k.inbound_norm_max),
            captured_sources=frozenset(LeadSource(s) for s in k.captured_sources),
        )

    def norm(self, direction: Direction) -> CallNorm:
        """The handbook's norm for calls of ``direction``: 70-80 dials out, 50-60 calls taken in."""
        return self.outbound_norm if direction is Direction.OUTBOUND else self.inbound_norm


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator ÷ denominator, kept as the two counts so reports can show the arithmetic."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    @property
    def percent(self) -> float | None:
        value = self.value
        return None if value is None else value * 100.0


@dataclass(frozen=True, slots=True)
class AgentCalls:
    """One agent's calls of one direction in the month against that direction's daily norm (days = local
    days with at least one call of that direction)."""

    agent: str
    direction: Direction
    calls: int
    days_worked: int
    days_below_norm: int
    days_within_norm: int
    days_above_norm: int

    @property
    def per_day(self) -> float | None:
        return None if self.days_worked == 0 else self.calls / self.days_worked

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "calls": self.calls,
            "days_worked": self.days_worked,
            "per_day": self.per_day,
            "days_below_norm": self.days_below_norm,
            "days_within_norm": self.days_within_norm,
            "days_above_norm": self.days_above_norm,
        }


@dataclass(frozen=True, slots=True)
class SourceCount:
    """New leads of one source (web leads: of one portal, or of none) this month, the month before and the
    same month a year before."""

    source: LeadSource
    count: int
    previous_month: int
    year_before: int
    portal: str | None = None  # web leads from this car portal; None: the source's leads without one

    @property
    def month_on_month(self) -> float | None:
        """Relative change, 0.25 = +25 %; None when the earlier month had none."""
        return _change(self.count, self.previous_month)

    @property
    def year_on_year(self) -> float | None:
        return _change(self.count, self.year_before)


@dataclass(frozen=True, slots=True)
class MonthlyKpis:
    """The month's report card."""

    month: Month
    agent: str | None
    carried_over: int
    new_leads: int
    follow_up_rate: Ratio  # first follow-ups ÷ (carried over + new)
    invite_to_store_rate: Ratio  # first-invitation visits ÷ first follow-ups
    deals: int
    hq_deadline: Ratio  # HQ leads first followed up within their deadline ÷ those whose deadline fell due
    handover_deadline: Ratio  # the same for low-intent and defeated hand-overs
    contacts_captured: int
    outbound_calls: tuple[AgentCalls, ...]  # dials per agent against the outbound norm
    inbound_calls: tuple[AgentCalls, ...]  # calls taken per agent against the inbound norm
    sources: tuple[SourceCount, ...]
    # The sales manager's targets for the month and the progress towards them (whole DCC only; filled by
    # the KPI service from the store: dialer.domain.kpi.targets).
    targets: tuple[TargetProgress, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` and the web face: every count, every ratio with its numerator and denominator."""

        def ratio(r: Ratio) -> dict[str, Any]:
            return {"numerator": r.numerator, "denominator": r.denominator, "percent": r.percent}

        return {
            "month": str(self.month),
            "agent": self.agent,
            "carried_over": self.carried_over,
            "new_leads": self.new_leads,
            "follow_up_rate": ratio(self.follow_up_rate),
            "invite_to_store_rate": ratio(self.invite_to_store_rate),
            "deals": self.deals,
            "hq_deadline": ratio(self.hq_deadline),
            "handover_deadline": ratio(self.handover_deadline),
            "contacts_captured": self.contacts_captured,
            "outbound_calls": [a.to_json() for a in self.outbound_calls],
            "inbound_calls": [a.to_json() for a in self.inbound_calls],
            "targets": [t.to_json() for t in self.targets],
            "sources": [
                {
                    "source": s.source.value,
                    "portal": s.portal,
                    "count": s.count,
                    "previous_month": s.previous_month,
                    "year_before": s.year_before,
                    "month_on_month": s.month_on_month,
                    "year_on_year": s.year_on_year,
                }
                for s in self.sources
            ],
        }


def compute(month: Month, data: KpiInput, rules: KpiRules, now: datetime, agent: str | None = None) -> MonthlyKpis:
    """The KPIs of ``month``, for the whole DCC or for the leads ``agent`` owned at the month's end and the
    calls they made."""
    start, end = month.bounds(rules.tz)
    if agent is None:
        leads = list(data.leads)
    else:
        owners = owners_at(end, data.owners)
        leads = [lead for lead in data.leads if owners.get(lead.id, lead.owner) == agent]
    ids = {lead.id for lead in leads}
    first_contact = _first_by_lead(c for c in data.contacts if c.lead_id in ids)
    contacts: dict[int, list[datetime]] = defaultdict(list)
    for contact in sorted(data.contacts, key=lambda c: c.at):
        if contact.lead_id in ids:
            contacts[contact.lead_id].append(contact.at)
    states = sorted((s for s in data.states if s.lead_id in ids), key=lambda s: s.at)

    state_at_start: dict[int, LeadState] = {}
    for change in states:
        if change.at < start:
            state_at_start[change.lead_id] = change.state
    carried = {
        lead.id
        for lead in leads
        if lead.created_at < start
        and not (lead.id in first_contact and first_contact[lead.id] < start)
        and state_at_start.get(lead.id) not in _CLOSED
    }
    new = {lead.id for lead in leads if start <= lead.created_at < end}
    prospects = {lead.id for lead in leads if lead.source in PROSPECT_SOURCES}
    carried_prospects, new_prospects = carried & prospects, new & prospects
    followed = {i for i in carried_prospects | new_prospects if i in first_contact and start <= first_contact[i] < end}
    mine_in_month = [c for c in data.calls if (agent is None or c.agent == agent) and start <= c.at < end]

    return MonthlyKpis(
        month=month,
        agent=agent,
        carried_over=len(carried_prospects),
        new_leads=len(new_prospects),
        follow_up_rate=Ratio(len(followed), len(carried_prospects) + len(new_prospects)),
        invite_to_store_rate=Ratio(_first_invitation_visits(states, start, end, among=followed), len(followed)),
        deals=len({s.lead_id for s in states if s.state is LeadState.DEAL and start <= s.at < end}),
        hq_deadline=_deadline(
            [lead for lead in leads if lead.source is LeadSource.HQ],
            lambda lead: lead.hq_issues or (lead.issued_at or lead.created_at,),
            rules.first_follow_up.hq,
            contacts,
            (start, end, now),
        ),
        handover_deadline=_deadline(
            [lead for lead in leads if lead.source in _HANDED_OVER],
            lambda lead: lead.handovers or (lead.handed_over_at or lead.created_at,),
            handover_hours(rules.first_follow_up),
            contacts,
            (start, end, now),
        ),
        contacts_captured=sum(1 for lead in leads if lead.id in new and lead.source in rules.captured_sources),
        outbound_calls=_calls(mine_in_month, Direction.OUTBOUND, rules),
        inbound_calls=_calls(mine_in_month, Direction.INBOUND, rules),
        sources=_sources(leads, month, rules.tz),
    )


def owners_at(when: datetime, changes: Iterable[OwnerChange]) -> dict[int, str | None]:
    """Each lead's owner just before ``when``, for the leads the history names; renames apply backwards."""
    history: dict[int, list[OwnerChange]] = defaultdict(list)
    for change in sorted(changes, key=lambda c: c.at):
        history[change.lead_id].append(change)
    found: dict[int, str | None] = {}
    for lead_id, entries in history.items():
        owner: str | None = None
        renames = {c.previous: c.owner for c in entries if c.previous is not None}
        for change in entries:
            if change.at >= when:
                break
            owner = change.owner
        while owner in renames:  # an owner's later identity, through every rename
            owner = renames.pop(owner)
        found[lead_id] = owner
    return found


def _first_by_lead(contacts: Iterable[ContactFact]) -> dict[int, datetime]:
    first: dict[int, datetime] = {}
    for contact in contacts:
        if contact.lead_id not in first or contact.at < first[contact.lead_id]:
            first[contact.lead_id] = contact.at
    return first


def _first_invitation_visits(states: Sequence[StateFact], start: datetime, end: datetime, among: set[int]) -> int:
    """Leads of ``among`` whose first ``visited`` (after an ``invited``) falls in [start, end); ``states`` is
    time-ordered. ``among`` is the rate's denominator (the month's first follow-ups), so the rate is a
    share of one population and never passes 100 %."""
    invited: set[int] = set()
    visited: set[int] = set()
    count = 0
    for change in states:
        if change.state is LeadState.INVITED:
            invited.add(change.lead_id)
        elif change.state is LeadState.VISITED and change.lead_id not in visited:
            visited.add(change.lead_id)
            if change.lead_id in invited and change.lead_id in among and start <= change.at < end:
                count += 1
    return count


def handover_hours(hours: FirstFollowUpHours) -> float | None:
    """Low-intent and defeated share one KPI; if their deadlines differ, the stricter one is the target."""
    values = [h for h in (hours.low_intent, hours.defeated) if h is not None]
    return min(values) if values else None


def _deadline(
    leads: Sequence[LeadFact],
    clocks: Callable[[LeadFact], Sequence[datetime]],
    hours: float | None,
    contacts: Mapping[int, Sequence[datetime]],
    period: tuple[datetime, datetime, datetime],
) -> Ratio:
    """Clocks that started in the month (``period``: start, end, now): met ÷ (met + missed); running ones wait.

    A clock is met by the lead's first phone follow-up at or after its start, within ``hours``: a lead handed
    over again must be called again, an earlier owner's call does not count for the new owner's clock.
    ``contacts`` are each lead's follow-ups, oldest first.
    """
    if hours is None:
        return Ratio(0, 0)
    start, end, now = period
    window = timedelta(hours=hours)
    met = missed = 0
    for lead in leads:
        for clock_start in clocks(lead):
            if not start <= clock_start < end:
                continue
            due = clock_start + window
            reached = next((at for at in contacts.get(lead.id, ()) if at >= clock_start), None)
            if reached is not None and reached <= due:
                met += 1
            elif due <= now:
                missed += 1
    return Ratio(met, met + missed)


def _calls(calls: Sequence[CallFact], direction: Direction, rules: KpiRules) -> tuple[AgentCalls, ...]:
    """Per agent, the calls of ``direction`` against that direction's norm, day by local day."""
    norm = rules.norm(direction)
    per_day: dict[str, Counter[date]] = defaultdict(Counter)
    for call in calls:
        if call.direction is direction:
            per_day[call.agent][call.at.astimezone(rules.tz).date()] += 1
    out = []
    for agent, days in sorted(per_day.items()):
        counts = list(days.values())
        out.append(
            AgentCalls(
                agent=agent,
                direction=direction,
                calls=sum(counts),
                days_worked=len(counts),
                days_below_norm=sum(1 for n in counts if n < norm.low),
                days_within_norm=sum(1 for n in counts if norm.low <= n <= norm.high),
                days_above_norm=sum(1 for n in counts if n > norm.high),
            )
        )
    return tuple(out)


def _sources(leads: Sequence[LeadFact], month: Month, tz: tzinfo) -> tuple[SourceCount, ...]:
    """Per source, and web leads per portal (those without one under plain "web", first); rows with no lead in
    any of the three months are left out."""
    by_month: Counter[tuple[LeadSource, str | None, Month]] = Counter(
        (lead.source, lead.portal if lead.source is LeadSource.WEB else None, Month.containing(lead.created_at, tz))
        for lead in leads
    )
    prev, last_year = month.previous(), month.year_before()
    portals = sorted({portal for (_s, portal, _m) in by_month if portal is not None})
    rows = [
        SourceCount(source, by_month[(source, portal, month)], by_month[(source, portal, prev)],
                    by_month[(source, portal, last_year)], portal)
        for source in LeadSource
        for portal in ([None, *portals] if source is LeadSource.WEB else [None])
    ]  # fmt: skip
    return tuple(r for r in rows if r.count or r.previous_month or r.year_before)


def _change(current: int, earlier: int) -> float | None:
    return None if earlier == 0 else (current - earlier) / earlier


def settings_problems(k: KpiSettings) -> list[str]:
    """What is wrong in ``[kpi]``: the norms' bounds, and sources the lead model knows."""
    problems: list[str] = []
    for low, high in (("calls_norm_min", "calls_norm_max"), ("inbound_norm_min", "inbound_norm_max")):
        low_value, high_value = getattr(k, low), getattr(k, high)
        if not 0 < low_value <= high_value:
            problems.append(f"kpi: need 0 < {low} ({low_value}) <= {high} ({high_value})")
    sources = [s.value for s in LeadSource]
    for source in k.captured_sources:
        if source not in sources:
            problems.append(f"kpi.captured_sources: {source!r} is not one of {', '.join(sources)}")
    return problems
