"""A campaign's funnel over a month: dialled → answered → talked → invited → visited → deal. Pure: no I/O.

Each stage counts leads, and each is a subset of the one before (docs/kpi.md, "Campaign funnel"):

- *dialled*: leads the campaign called in the month;
- *answered*: of those, leads a person picked up for in one of those calls (``Outcome.reached_person``, as
  pacing counts it: an abandoned call or a hang-up in the hold was answered);
- *talked*: leads who spoke with an agent in one of them (``Outcome.talked_with_agent``: a follow-up);
- *invited*: talked leads changed to ``invited`` after their first such talk, before the month's end;
- *visited*: invited leads whose visit came after that invitation, before the month's end;
- *deal*: visited leads with a deal after the visit, before the month's end.

Everything is bounded by the month's end, so a closed month's funnel does not change afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.domain.calls.outcome import Outcome
from dialer.domain.kpi.metrics import StateFact
from dialer.domain.leads.model import LeadState

# The funnel's stages after the talk, in order.
_AFTER_TALK = (LeadState.INVITED, LeadState.VISITED, LeadState.DEAL)


@dataclass(frozen=True, slots=True)
class CampaignCall:
    """One call a campaign made to a lead (``outcome`` None: still in flight)."""

    campaign_id: int
    lead_id: int
    at: datetime
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class CampaignFunnel:
    """One campaign's funnel for the month, each stage a number of leads."""

    campaign_id: int
    name: str
    dialled: int
    answered: int
    talked: int
    invited: int
    visited: int
    deals: int

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "dialled": self.dialled,
            "answered": self.answered,
            "talked": self.talked,
            "invited": self.invited,
            "visited": self.visited,
            "deals": self.deals,
        }


def campaign_funnels(
    calls: Sequence[CampaignCall],
    states: Sequence[StateFact],
    names: Mapping[int, str],
    start: datetime,
    end: datetime,
) -> tuple[CampaignFunnel, ...]:
    """Per campaign with a call in [start, end), by id; ``states`` must cover every change before ``end``."""
    dialled: dict[int, set[int]] = defaultdict(set)
    answered: dict[int, set[int]] = defaultdict(set)
    first_talk: dict[int, dict[int, datetime]] = defaultdict(dict)
    for call in calls:
        if not start <= call.at < end:
            continue
        dialled[call.campaign_id].add(call.lead_id)
        if call.outcome is not None and call.outcome.reached_person:
            answered[call.campaign_id].add(call.lead_id)
        if call.outcome is not None and call.outcome.talked_with_agent:
            talks = first_talk[call.campaign_id]
            talks[call.lead_id] = min(call.at, talks.get(call.lead_id, call.at))
    by_lead: dict[int, list[StateFact]] = defaultdict(list)
    for change in sorted(states, key=lambda s: s.at):
        if change.at < end:
            by_lead[change.lead_id].append(change)
    out = []
    for campaign_id in sorted(dialled):
        after_talk = [0] * len(_AFTER_TALK)  # leads that reached invited, visited, deal
        for lead_id, talk in first_talk[campaign_id].items():
            for stage in range(_after(by_lead[lead_id], talk)):
                after_talk[stage] += 1
        invited, visited, deals = after_talk
        out.append(
            CampaignFunnel(
                campaign_id,
                names.get(campaign_id, f"#{campaign_id}"),
                len(dialled[campaign_id]),
                len(answered[campaign_id]),
                len(first_talk[campaign_id]),
                invited,
                visited,
                deals,
            )
        )
    return tuple(out)


def _after(changes: Sequence[StateFact], since: datetime) -> int:
    """How many of the stages after a talk the time-ordered ``changes`` reach one after the other from ``since``."""
    reached = 0
    for change in changes:
        if reached < len(_AFTER_TALK) and change.at >= since and change.state is _AFTER_TALK[reached]:
            reached += 1
    return reached
