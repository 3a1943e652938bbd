"""The morning meeting's daily sheet and the weekly review, from the KPIs' own records. Pure: no I/O.

docs/kpi.md ("Daily and weekly sheets") is the reference. In short, per agent over a period:

- *dials*: outbound calls they made (the KPIs' calls: the dialer's own filings are nobody's);
- *talks*: calls in which a customer spoke with them, outbound or taken in;
- *follow-ups*: leads they spoke with (one lead called twice is one follow-up);
- *invitations*, *visits*, *deals*: leads that changed to ``invited``, ``visited``, ``deal`` in the
  period, credited to the lead's owner at the period's end (the showroom records visits and deals;
  the customer is the DCC agent's all the same).

The day ahead (due, overdue, visits expected) is the due list as it stands now: it is known only for
the day that is running, so a sheet for an earlier day has none.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from dialer.domain.calls.outcome import Direction
from dialer.domain.kpi.metrics import KpiInput, owners_at
from dialer.domain.leads.model import LeadState

_WEEK_TEXT = re.compile(r"^(\d{4})-W(\d{2})$")
_DAYS_PER_WEEK = 7


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of ``day`` in the dealer's time zone."""
    return datetime.combine(day, time(), tz)


@dataclass(frozen=True, slots=True, order=True)
class Week:
    """An ISO week (Monday to Sunday) of the dealer: ``2026-W48``."""

    year: int
    week: int

    def __post_init__(self) -> None:
        # date.fromisocalendar says which weeks a year has (52 or 53).
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError:
            raise ValueError(f"week {self.year}-W{self.week:02d} does not exist") from None

    @classmethod
    def parse(cls, text: str) -> Week:
        """``2026-W48`` -> Week(2026, 48); anything else is a ValueError naming the text."""
        match = _WEEK_TEXT.match(text.strip())
        if not match:
            raise ValueError(f"week {text!r}: expected YYYY-Www, e.g. 2026-W48")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Week:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> Week:
        return Week.containing(self.monday - timedelta(days=_DAYS_PER_WEEK))

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) in the dealer's time zone."""
        return local_midnight(self.monday, tz), local_midnight(self.monday + timedelta(days=_DAYS_PER_WEEK), tz)

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"


@dataclass(frozen=True, slots=True)
class Activity:
    """What one agent (None: leads nobody owns) did over a period."""

    agent: str | None
    dials: int = 0
    talks: int = 0
    follow_ups: int = 0
    invitations: int = 0
    visits: int = 0
    deals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "dials": self.dials,
            "talks": self.talks,
            "follow_ups": self.follow_ups,
            "invitations": self.invitations,
            "visits": self.visits,
            "deals": self.deals,
        }


@dataclass(frozen=True, slots=True)
class AgendaFact:
    """A lead with something on the day ahead: its owner, its next deadline, its booked visit."""

    owner: str | None
    due_at: datetime | None
    visit_at: datetime | None
    state: LeadState


@dataclass(frozen=True, slots=True)
class Agenda:
    """One owner's day ahead: follow-ups due later today, follow-ups already late, customers expected."""

    agent: str | None
    due: int = 0
    overdue: int = 0
    visits_expected: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "due": self.due, "overdue": self.overdue, "visits_expected": self.visits_expected}


@dataclass(frozen=True, slots=True)
class DailySheet:
    """The morning meeting: yesterday per agent and in total; today per agent (None for a past day)."""

    day: date
    yesterday: tuple[Activity, ...]
    yesterday_total: Activity
    today: tuple[Agenda, ...] | None
    today_total: Agenda | None

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "yesterday": {
                "day": (self.day - timedelta(days=1)).isoformat(),
                "agents": [a.to_json() for a in self.yesterday],
                "total": self.yesterday_total.to_json(),
            },
            "today": None
            if self.today is None or self.today_total is None
            else {"agents": [a.to_json() for a in self.today], "total": self.today_total.to_json()},
        }


@dataclass(frozen=True, slots=True)
class ReasonShare:
    """One defeat reason: how many leads were lost for it and their share of the period's defeats."""

    reason: str | None  # None: lost without a reason, a category of its own
    count: int
    share: float  # 0.25 = 25 %

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "share": self.share}


@dataclass(frozen=True, slots=True)
class WeeklySheet:
    """The weekly review: the week's activity per agent and the defeat-reason analysis."""

    week: Week
    activity: tuple[Activity, ...]
    total: Activity
    defeats: tuple[ReasonShare, ...] = field(default=())

    @property
    def defeated(self) -> int:
        return sum(r.count for r in self.defeats)

    def to_json(self) -> dict[str, Any]:
        return {
            "week": str(self.week),
            "agents": [a.to_json() for a in self.activity],
            "total": self.total.to_json(),
            "defeated": self.defeated,
            "defeat_reasons": [r.to_json() for r in self.defeats],
        }


def activity(data: KpiInput, start: datetime, end: datetime) -> tuple[tuple[Activity, ...], Activity]:
    """Per agent (by name, leads nobody owns last) and in total: what happened in [start, end)."""
    dials: Counter[str | None] = Counter()
    talks: Counter[str | None] = Counter()
    spoke_with: dict[str | None, set[int]] = defaultdict(set)
    for call in data.calls:
        if not start <= call.at < end:
            continue
        if call.direction is Direction.OUTBOUND:
            dials[call.agent] += 1
        if call.talked:
            talks[call.agent] += 1
            if call.lead_id is not None:
                spoke_with[call.agent].add(call.lead_id)
    today_owner = {lead.id: lead.owner for lead in data.leads}
    owners = owners_at(end, data.owners)
    reached: dict[LeadState, dict[str | None, set[int]]] = {
        state: defaultdict(set) for state in (LeadState.INVITED, LeadState.VISITED, LeadState.DEAL)
    }
    for change in data.states:
        if change.state in reached and start <= change.at < end:
            owner = owners.get(change.lead_id, today_owner.get(change.lead_id))
            reached[change.state][owner].add(change.lead_id)
    agents = set(dials) | set(talks) | {a for by_owner in reached.values() for a in by_owner}
    rows = tuple(
        Activity(
            agent=agent,
            dials=dials[agent],
            talks=talks[agent],
            follow_ups=len(spoke_with[agent]),
            invitations=len(reached[LeadState.INVITED][agent]),
            visits=len(reached[LeadState.VISITED][agent]),
            deals=len(reached[LeadState.DEAL][agent]),
        )
        for agent in sorted(agents, key=_by_name)
    )
    return rows, _sum_activity(rows)


def agenda(facts: Iterable[AgendaFact], now: datetime, tz: tzinfo) -> tuple[tuple[Agenda, ...], Agenda]:
    """Per owner and in total: due later today, overdue now, visits booked for today (dealer days)."""
    day = now.astimezone(tz).date()
    day_start, day_end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    due: Counter[str | None] = Counter()
    overdue: Counter[str | None] = Counter()
    visits: Counter[str | None] = Counter()
    for fact in facts:
        if fact.due_at is not None and fact.due_at < now:
            overdue[fact.owner] += 1
        elif fact.due_at is not None and fact.due_at < day_end:
            due[fact.owner] += 1
        if fact.state is LeadState.INVITED and fact.visit_at is not None and day_start <= fact.visit_at < day_end:
            visits[fact.owner] += 1
    rows = tuple(
        Agenda(owner, due[owner], overdue[owner], visits[owner])
        for owner in sorted(set(due) | set(overdue) | set(visits), key=_by_name)
    )
    return rows, Agenda(
        None, sum(r.due for r in rows), sum(r.overdue for r in rows), sum(r.visits_expected for r in rows)
    )


def daily_sheet(
    day: date, data: KpiInput, tz: tzinfo, now: datetime, agenda_facts: Sequence[AgendaFact] | None
) -> DailySheet:
    """The sheet of the meeting held on ``day``: the day before's activity; the day ahead when ``day`` is today
    (``agenda_facts`` given)."""
    rows, total = activity(data, local_midnight(day - timedelta(days=1), tz), local_midnight(day, tz))
    if agenda_facts is None:
        return DailySheet(day, rows, total, None, None)
    ahead, ahead_total = agenda(agenda_facts, now, tz)
    return DailySheet(day, rows, total, ahead, ahead_total)


def weekly_sheet(week: Week, data: KpiInput, tz: tzinfo) -> WeeklySheet:
    """The week's activity and its defeats by reason (largest first, ties by name, no reason last)."""
    start, end = week.bounds(tz)
    rows, total = activity(data, start, end)
    lost: dict[int, str | None] = {}
    for change in sorted(data.states, key=lambda s: s.at):
        if change.state is LeadState.DEFEATED and start <= change.at < end:
            lost[change.lead_id] = change.defeat_reason or None  # the last defeat of the week counts
    counts = Counter(lost.values())
    ranked = sorted(counts.items(), key=lambda kv: (kv[0] is None, -kv[1], kv[0] or ""))
    return WeeklySheet(week, rows, total, tuple(ReasonShare(r, n, n / len(lost)) for r, n in ranked))


def _by_name(agent: str | None) -> tuple[bool, str]:
    return agent is None, agent or ""


def _sum_activity(rows: Sequence[Activity]) -> Activity:
    return Activity(
        None,
        dials=sum(r.dials for r in rows),
        talks=sum(r.talks for r in rows),
        follow_ups=sum(r.follow_ups for r in rows),
        invitations=sum(r.invitations for r in rows),
        visits=sum(r.visits for r in rows),
        deals=sum(r.deals for r in rows),
    )
