"""Campaign lifecycle, status and "why" for the faces (CLI, web): one place, so both say the same.

Starting (and resuming) a campaign enrols the leads that match its filter at that moment; the
runner may call :meth:`Hopper.enrol` again to pick up leads imported later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dialer.campaigns.hopper import Hopper
from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import LeadFilter, load_definition, parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.progress import CampaignRecord, CampaignRepository, ProgressStatus
from dialer.domain.campaigns.why import Blocker, blockers
from dialer.settings import Settings

# How far back ``status`` looks to measure the dial rate behind its ETA: long enough to smooth a
# coffee break, short enough to follow a change of staffing within the hour.
RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """``campaign status``: progress, outcomes and when the remaining leads will have been dialled.

    ``eta`` assumes the dial rate of the last :data:`RATE_WINDOW` holds and counts one more
    attempt per remaining lead; None when nothing was dialled in the window.
    """

    campaign: CampaignRecord
    enrolled: int
    by_status: Mapping[ProgressStatus, int]
    dialled: int
    in_flight: int
    connected: int
    outcomes: Mapping[Outcome, int]
    remaining: int
    rate_per_hour: float
    eta: datetime | None


@dataclass(frozen=True, slots=True)
class WhyAnswer:
    """Every reason one lead is not dialled by one campaign (empty: it is dialable now)."""

    campaign: CampaignRecord
    blockers: list[Blocker]


# The file name a campaign made in the console is stored under (it came from no file).
CONSOLE_FILE_NAME = "console"


class CampaignService:
    """Creates campaigns from files (or the console's form), moves them through their life, reports on them."""

    def __init__(self, store: CampaignRepository, hopper: Hopper, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._hopper = hopper
        self._settings = settings
        self._clock = clock

    async def create(self, path: Path, actor: str, dealer_id: int | None = None) -> CampaignRecord:
        """Validate ``path`` and store it as a draft campaign of ``dealer_id`` (None: this node's dealer)."""
        definition = load_definition(path, self._settings)
        return await self._store.create(definition, path.name, self._clock.now(), actor, dealer_id)

    async def create_from_table(
        self, data: Mapping[str, Any], actor: str, dealer_id: int | None = None
    ) -> CampaignRecord:
        """Validate a campaign table (what a campaign file holds, from the console) and store it as a draft
        of ``dealer_id`` (None: this node's dealer)."""
        definition = parse_definition(data, CONSOLE_FILE_NAME, self._settings)
        return await self._store.create(definition, CONSOLE_FILE_NAME, self._clock.now(), actor, dealer_id)

    async def matching(self, lead_filter: LeadFilter, dealer_id: int | None = None) -> int:
        """How many of ``dealer_id``'s leads ``lead_filter`` selects now: what starting a campaign would enrol."""
        return await self._store.matching(lead_filter, self._clock.now(), dealer_id)

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[CampaignRecord]:
        """All campaigns ``dealers`` sees, newest first."""
        return await self._store.all(dealers)

    async def command(
        self, campaign_id: int, command: Command, actor: str, dealers: DealerScope = EVERY_DEALER
    ) -> tuple[CampaignRecord, int]:
        """Apply ``command``; returns the campaign and how many leads it enrolled (start, resume)."""
        now = self._clock.now()
        record = await self._store.transition(campaign_id, command, now, actor, dealers)
        enrolled = await self._store.enrol(record, now) if command in (Command.START, Command.RESUME) else 0
        return record, enrolled

    async def status(self, campaign_id: int, dealers: DealerScope = EVERY_DEALER) -> StatusReport:
        """Progress and outcomes of the campaign, with an ETA from the recent dial rate."""
        now = self._clock.now()
        record = await self._store.get(campaign_id, dealers)
        counts = await self._store.counts(campaign_id, now - RATE_WINDOW)
        remaining = counts.dialable + counts.by_status.get(ProgressStatus.CLAIMED, 0)
        rate = counts.recent_attempts / (RATE_WINDOW.total_seconds() / 3600)
        eta = now + timedelta(hours=remaining / rate) if rate > 0 else None
        outcomes = {o: n for o, n in counts.by_outcome.items() if o is not None}
        return StatusReport(
            campaign=record,
            enrolled=sum(counts.by_status.values()),
            by_status=counts.by_status,
            dialled=sum(counts.by_outcome.values()),
            in_flight=counts.by_outcome.get(None, 0),
            connected=counts.connected,
            outcomes=outcomes,
            remaining=remaining,
            rate_per_hour=rate,
            eta=eta,
        )

    async def why(self, lead_id: int, campaign_id: int | None = None) -> list[WhyAnswer]:
        """Why the lead is not dialled: by ``campaign_id``, or by every campaign it is enrolled in."""
        now = self._clock.now()
        ids = [campaign_id] if campaign_id is not None else await self._store.campaigns_of(lead_id)
        answers = []
        for cid in ids:
            record = await self._store.get(cid)
            # A callback or SMS hand-off that arrived since the last pick is not in the campaign's
            # queue yet; apply it first so the answer matches what the next batch would do.
            await self._store.sync(cid, now)
            facts = await self._store.facts(cid, lead_id)
            answers.append(WhyAnswer(record, blockers(facts, record, self._hopper.rules(record).windows, now)))
        return answers


def record_json(r: CampaignRecord) -> dict[str, Any]:
    """A campaign as the CLI's ``--json`` and the console's API show it."""
    d = r.definition
    return {
        "id": r.id,
        "name": d.name,
        "kind": d.kind.value,
        "mode": d.mode.value,
        "status": r.status.value,
        "lines": d.lines,
        "agents": list(d.agents),
        "file": r.file_name,
        "created_at": r.created_at.isoformat(),
        "created_by": r.created_by,
        "updated_at": r.updated_at.isoformat(),
    }


def status_json(s: StatusReport) -> dict[str, Any]:
    """``campaign status --json`` and the console's API: the campaign with its progress and outcomes."""
    return {
        **record_json(s.campaign),
        "enrolled": s.enrolled,
        "leads": {st.value: s.by_status.get(st, 0) for st in ProgressStatus},
        "dialled": s.dialled,
        "in_flight": s.in_flight,
        "connected": s.connected,
        "outcomes": {o.value: n for o, n in sorted(s.outcomes.items())},
        "remaining": s.remaining,
        "rate_per_hour": round(s.rate_per_hour, 1),
        "eta": None if s.eta is None else s.eta.isoformat(),
    }
