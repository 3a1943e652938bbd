"""A lead's progress in a campaign and the hopper's pure decisions about it.

The store answers "which enrolled leads are due and dialable" with index range scans and hands
the rows here; this module decides, without I/O:

* :func:`choose`: which of them go first, using THE :class:`~dialer.domain.campaigns.policy.Prioritizer`
  (deadlines near their limit, then promised calls, then other deadlines, then routine work);
* :func:`after_attempt`: what an attempt's outcome does to the lead's progress, using THE
  :class:`~dialer.domain.campaigns.policy.RetryPolicy` and calling windows.

It also declares :class:`CampaignRepository`, what the hopper and the campaign service need from
a store, so this package never imports one (dialer/store/campaigns.py implements it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import CampaignDefinition, LeadFilter
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command
from dialer.domain.campaigns.policy import (
    CallingWindows,
    Candidate,
    Prioritizer,
    PriorityTier,
    RetryPolicy,
    RetryReason,
)
from dialer.domain.leads.model import LeadState
from dialer.domain.privacy.suppression import Suppression
from dialer.phone import Phone


class CampaignNotFound(CampaignError):
    """A command named a campaign id that does not exist."""


class NotEnrolled(CampaignError):
    """A result was reported for a lead the campaign never enrolled."""


class ProgressStatus(StrEnum):
    """A lead's status in one campaign (campaign_leads.status)."""

    ACTIVE = "active"  # waits for next_attempt_at
    CLAIMED = "claimed"  # handed to the runner; an attempt is (about to be) in flight
    DONE = "done"  # no more automatic attempts in this campaign


class PickReason(StrEnum):
    """Why a lead is dialled now; the runner logs it and the agent's screen shows it."""

    DEADLINE = "deadline"  # first follow-up deadline (HQ 48 h, hand-over 2 days)
    CALLBACK = "callback"  # the customer chose this time
    PROMISED = "promised"  # we abandoned the customer earlier: call back soon
    SMS_INTERESTED = "sms_interested"  # replied to the SMS wave that they are interested
    SMS_HANDOFF = "cadence_handoff"  # the SMS wave's reply rate was too low: the segment is called
    RETRY = "retry"  # an earlier attempt did not reach anyone
    FIRST = "first"  # first attempt in this campaign


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A stored campaign: its validated definition and lifecycle status."""

    id: int
    definition: CampaignDefinition
    status: CampaignStatus
    file_name: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    dealer_id: int = MAIN_DEALER_ID  # whose campaign: it enrols and dials that dealer's leads only


@dataclass(frozen=True, slots=True)
class DueLead:
    """An enrolled lead the store found due and dialable, with what ranking needs to know."""

    lead_id: int
    phone: str  # E.164, the first of the lead's numbers (mobile first) not on the DNC list
    due_at: datetime
    deadline: datetime | None  # the lead's first follow-up deadline, if it still has one
    promised: bool
    callback: bool  # an agreed callback is still owed (the lead's callback time is the scheduled one)
    callback_owner: str | None  # the agent who agreed the callback
    handoff: str | None  # the SMS hand-off that made the lead due (sms_call_tasks.reason)
    owner: str | None  # the lead's owner
    attempts: int


@dataclass(frozen=True, slots=True)
class Pick:
    """One lead for the runner to dial now; the store has claimed it for this campaign.

    ``owner`` is the agent to connect first: the agent who agreed a callback, else the lead's
    owner. The runner falls back to any free agent of the campaign when that one is busy.
    """

    lead_id: int
    phone: Phone  # ready for CallService.dial
    owner: str | None
    priority: PriorityTier
    reason: PickReason
    due_at: datetime
    deadline: datetime | None


@dataclass(frozen=True, slots=True)
class DueQuery:
    """What "due and dialable" means for one next_batch call; the store turns it into SQL."""

    campaign_id: int
    now: datetime
    today: date  # the dealer's local day of ``now``, for the per-day cap
    max_attempts: int
    max_attempts_per_day: int
    open_states: tuple[LeadState, ...]
    limit: int  # rows per ranking tier: enough for the batch whatever the tier mix


@dataclass(frozen=True, slots=True)
class LeadProgress:
    """A lead's row in campaign_leads."""

    campaign_id: int
    lead_id: int
    status: ProgressStatus
    enrolled_at: datetime
    attempts: int
    attempts_today: int
    attempts_day: date | None
    next_attempt_at: datetime | None
    promised: bool
    callback_at: datetime | None
    callback_owner: str | None
    handoff: str | None
    claimed_at: datetime | None
    last_attempt_id: int | None
    last_attempt_at: datetime | None
    last_outcome: Outcome | None
    last_reason: RetryReason | None

    def attempts_on(self, day: date) -> int:
        """Attempts already made on the local ``day`` (the counter resets when the day changes)."""
        return self.attempts_today if self.attempts_day == day else 0


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """The new values of a campaign_leads row after one attempt."""

    status: ProgressStatus
    attempts: int
    attempts_today: int
    attempts_day: date
    next_attempt_at: datetime | None
    promised: bool
    callback_owner: str | None
    last_attempt_id: int | None
    last_attempt_at: datetime
    last_outcome: Outcome
    last_reason: RetryReason


def choose(due: Sequence[DueLead], n: int, prioritizer: Prioritizer, now: datetime) -> list[Pick]:
    """The best ``n`` of ``due`` (duplicates from several tier queries allowed), best first."""
    by_id = {d.lead_id: d for d in due}
    candidates = [Candidate(str(d.lead_id), d.due_at, d.deadline, d.promised) for d in by_id.values()]
    picks = []
    for c in prioritizer.rank(candidates, now)[:n]:
        d = by_id[int(c.lead_id)]
        picks.append(
            Pick(
                d.lead_id,
                Phone(d.phone),
                d.callback_owner or d.owner,
                prioritizer.tier(c, now),
                _reason(d),
                d.due_at,
                d.deadline,
            )
        )
    return picks


def _reason(d: DueLead) -> PickReason:
    if d.callback:
        return PickReason.CALLBACK
    if d.handoff is not None:
        return PickReason(d.handoff)
    if d.promised:
        return PickReason.PROMISED
    if d.deadline is not None:
        return PickReason.DEADLINE
    return PickReason.RETRY if d.attempts else PickReason.FIRST


def after_attempt(
    p: LeadProgress,
    outcome: Outcome,
    attempt_id: int | None,
    ended_at: datetime,
    retry: RetryPolicy,
    windows: CallingWindows,
) -> ProgressUpdate:
    """Count the attempt and schedule the next one by THE retry policy.

    A promise (agreed callback, abandoned customer) stays a promise until a person is reached,
    so its retries keep jumping the queue and keep going to the agent who made it.
    """
    day = windows.local_date(ended_at)
    attempts, today = p.attempts + 1, p.attempts_on(day) + 1
    decision = retry.next_attempt(outcome, ended_at, attempts, today, windows)
    promised = decision.promised or (p.promised and not outcome.reached_person)
    return ProgressUpdate(
        status=ProgressStatus.ACTIVE if decision.at is not None else ProgressStatus.DONE,
        attempts=attempts,
        attempts_today=today,
        attempts_day=day,
        next_attempt_at=decision.at,
        promised=promised,
        callback_owner=p.callback_owner if promised else None,
        last_attempt_id=attempt_id,
        last_attempt_at=ended_at,
        last_outcome=outcome,
        last_reason=decision.reason,
    )


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """Everything that decides whether one lead is dialable in one campaign (for ``why``)."""

    lead_id: int
    exists: bool
    state: LeadState | None
    phones: tuple[str, ...]
    suppressed: tuple[Suppression, ...]  # the active suppression entries of the lead's numbers
    consent: bool | None  # what the lead's source said
    consent_required: bool  # ``[privacy] consent_required_for`` names calls
    in_flight_call: str | None  # call_id of an attempt to this lead without an outcome
    claimed_by: tuple[int, ...]  # campaigns that have claimed this lead right now
    progress: LeadProgress | None  # None: not enrolled in the campaign


@dataclass(frozen=True, slots=True)
class CampaignCounts:
    """Raw numbers behind ``campaign status``."""

    by_status: Mapping[ProgressStatus, int]
    by_outcome: Mapping[Outcome | None, int]  # None: attempts still in flight
    connected: int  # attempts bridged to an agent
    recent_attempts: int  # attempts started in the rate window
    # Active leads the campaign may still dial (attempts left under max_attempts); callbacks agreed
    # for a lead whose attempts are used up stay active but are not dialled by this campaign.
    dialable: int = 0


@dataclass(frozen=True, slots=True)
class Synced:
    """How many enrolled leads one sync made due: agreed callbacks, SMS hand-offs."""

    callbacks: int
    handoffs: int


class CampaignRepository(Protocol):
    """What the hopper and the campaign service need from a store (dialer/store/campaigns.py)."""

    async def create(
        self, definition: CampaignDefinition, file_name: str, at: datetime, actor: str, dealer_id: int | None = None
    ) -> CampaignRecord:
        """Store a new campaign of ``dealer_id`` (None: this node's dealer) as a draft."""
        ...

    async def get(self, campaign_id: int, dealers: DealerScope = EVERY_DEALER) -> CampaignRecord:
        """The campaign, or :class:`CampaignNotFound` (also when ``dealers`` does not see it)."""
        ...

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[CampaignRecord]:
        """All campaigns ``dealers`` sees, newest first."""
        ...

    async def transition(
        self, campaign_id: int, command: Command, at: datetime, actor: str, dealers: DealerScope = EVERY_DEALER
    ) -> CampaignRecord:
        """Apply a lifecycle command atomically and record it (:class:`CampaignNotFound` outside ``dealers``)."""
        ...

    async def enrol(self, campaign: CampaignRecord, at: datetime) -> int:
        """Add the leads matching the campaign's filter that are not enrolled yet; returns how many."""
        ...

    async def matching(self, lead_filter: LeadFilter, at: datetime, dealer_id: int | None = None) -> int:
        """How many of ``dealer_id``'s leads (None: this node's dealer's) ``lead_filter`` selects at ``at``."""
        ...

    async def sync(self, campaign_id: int, at: datetime) -> Synced:
        """Make enrolled leads due for new agreed callbacks and open SMS hand-offs (taken at ``at``)."""
        ...

    async def claim(self, query: DueQuery, rank: Callable[[Sequence[DueLead]], list[Pick]]) -> list[Pick]:
        """In one transaction: nothing unless the campaign is running; else :meth:`sync` at ``query.now``,
        find due leads, let ``rank`` choose, mark the chosen claimed."""
        ...

    async def update_progress(
        self, campaign_id: int, lead_id: int, decide: Callable[[LeadProgress], ProgressUpdate | None]
    ) -> LeadProgress:
        """In one transaction: read the lead's progress, apply ``decide`` (None: leave it), return the new row."""
        ...

    async def release(self, campaign_id: int, lead_id: int) -> bool:
        """Put a claimed lead back without counting an attempt; False if it was not claimed."""
        ...

    async def claimed(self, campaign_id: int) -> list[LeadProgress]:
        """The campaign's claimed leads (for recovery after a restart)."""
        ...

    async def last_attempt_since(self, campaign_id: int, lead_id: int, since: datetime) -> Attempt | None:
        """The newest attempt of this campaign to this lead created at or after ``since``, or None."""
        ...

    async def unfiled_talks(self, campaign_id: int | None) -> list[Attempt]:
        """Finished calls of this campaign (None: every campaign) an agent talked on with no contact in the lead's history."""
        ...

    async def facts(self, campaign_id: int | None, lead_id: int) -> LeadFacts:
        """What ``why`` needs to know about one lead in one campaign (None: outside campaigns, no progress)."""
        ...

    async def campaigns_of(self, lead_id: int) -> list[int]:
        """Campaigns the lead is enrolled in."""
        ...

    async def counts(self, campaign_id: int, since: datetime) -> CampaignCounts:
        """LeadProgress and attempt numbers for ``status``; ``since`` starts the rate window."""
        ...
