"""The hopper: which leads a campaign dials next, claimed so no lead is ever dialled twice at once.

The runner's loop, per campaign (docs/campaigns.md):

1. at start-up, ``await hopper.recover(campaign_id, now)`` settles claims a crash left behind;
2. ``picks = await hopper.next_batch(campaign_id, n, now)``: ``n`` comes from pacing (and never
   exceeds the campaign's ``lines``); the picks are already CLAIMED in the store. An empty list
   means nothing to dial now: campaign not running, window closed, or nothing due;
3. dial each pick (``CallService.dial(..., lead_id=, campaign_id=)``), then
   ``await hopper.record_result(campaign_id, lead_id, attempt.id, attempt.outcome, now)``;
   a pick it decides not to dial goes back with ``await hopper.release(campaign_id, lead_id)``.

Why ranking through a few LIMITed queries is exact: the store returns, per tier (deadline order,
promised order, due order), the first ``n`` eligible leads of a superset of that tier in that
tier's own order. If the higher tiers hold ``n`` or more leads, their best are among those rows;
if they hold fewer, every one of them was returned and the rest of the batch comes from the due
order's first ``n``, which contain the best routine leads. THE Prioritizer then orders the union.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import OPEN_STATES, CampaignDefinition
from dialer.domain.campaigns.policy import CampaignRules
from dialer.domain.campaigns.progress import (
    CampaignRecord,
    CampaignRepository,
    DueQuery,
    LeadProgress,
    Pick,
    after_attempt,
    choose,
)
from dialer.logs import get_logger
from dialer.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What :meth:`Hopper.recover` did with the claims it found."""

    settled: int  # the attempt had ended: its outcome was applied
    released: int  # no attempt was made: the lead went back to the queue
    in_flight: int  # the attempt is still live: the claim stays until its result is recorded


class Hopper:
    """Picks, claims and reschedules a campaign's leads; all rules come from the campaign's definition."""

    def __init__(self, store: CampaignRepository, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        # A campaign's definition never changes once stored (the store has no statement that would
        # change it), so its rules are read once per campaign; its status is read by every claim.
        self._known: dict[int, tuple[CampaignDefinition, CampaignRules]] = {}

    def rules(self, campaign: CampaignRecord) -> CampaignRules:
        """THE window, retry and priority rules of ``campaign`` in the dealer's time zone."""
        return campaign.definition.rules(self._settings.dealer.timezone)

    async def _definition(self, campaign_id: int) -> tuple[CampaignDefinition, CampaignRules]:
        """The campaign's definition and its rules, read from the store on first use."""
        known = self._known.get(campaign_id)
        if known is None:
            campaign = await self._store.get(campaign_id)
            known = self._known[campaign_id] = (campaign.definition, self.rules(campaign))
        return known

    async def enrol(self, campaign_id: int, now: datetime) -> int:
        """Enrol the leads that match the campaign's filter and are not enrolled yet."""
        return await self._store.enrol(await self._store.get(campaign_id), now)

    async def next_batch(self, campaign_id: int, n: int, now: datetime) -> list[Pick]:
        """Up to ``n`` leads to dial now, best first, each claimed for this campaign in one transaction
        (which first makes new callbacks and SMS hand-offs due: the store's ``sync``); none unless the
        campaign is running, which the claim's transaction checks."""
        if n < 1:
            return []
        d, rules = await self._definition(campaign_id)
        if not rules.windows.is_open(now):
            return []
        query = DueQuery(
            campaign_id, now, rules.windows.local_date(now), d.max_attempts, d.max_attempts_per_day, OPEN_STATES, n
        )
        picks = await self._store.claim(query, lambda due: choose(due, n, rules.priority, now))
        for p in picks:
            log.info(
                "hopper.pick",
                campaign_id=campaign_id,
                lead_id=p.lead_id,
                number=p.phone.masked,
                reason=p.reason.value,
                tier=p.priority.name,
            )
        return picks

    async def record_result(
        self, campaign_id: int, lead_id: int, attempt_id: int | None, outcome: Outcome, now: datetime
    ) -> LeadProgress:
        """Count the attempt and schedule the next by the retry policy, in one transaction; ends the claim."""
        _, rules = await self._definition(campaign_id)
        progress = await self._store.update_progress(
            campaign_id, lead_id, lambda p: after_attempt(p, outcome, attempt_id, now, rules.retry, rules.windows)
        )
        log.info(
            "hopper.result",
            campaign_id=campaign_id,
            lead_id=lead_id,
            outcome=outcome.value,
            status=progress.status.value,
            next_attempt_at=progress.next_attempt_at.isoformat() if progress.next_attempt_at else None,
        )
        return progress

    async def release(self, campaign_id: int, lead_id: int) -> bool:
        """Give back a pick that was not dialled (campaign paused meanwhile, no agent); no attempt is counted."""
        return await self._store.release(campaign_id, lead_id)

    async def recover(self, campaign_id: int, now: datetime) -> Recovery:
        """Settle claims left by a crash: apply ended attempts, release never-dialled leads, keep live ones.

        Run it after ``CallService.recover()`` (which settles attempts the PBX lost) and before the
        first ``next_batch``; a claim is only ever released when no attempt for it exists.
        """
        settled = released = in_flight = 0
        for claim in await self._store.claimed(campaign_id):
            assert claim.claimed_at is not None  # the store's CHECK ties claimed_at to the status
            attempt = await self._store.last_attempt_since(campaign_id, claim.lead_id, claim.claimed_at)
            if attempt is None:
                released += await self.release(campaign_id, claim.lead_id)
            elif attempt.outcome is None:
                in_flight += 1
            else:
                await self.record_result(
                    campaign_id, claim.lead_id, attempt.id, attempt.outcome, attempt.ended_at or now
                )
                settled += 1
        log.info("hopper.recovered", campaign_id=campaign_id, settled=settled, released=released, in_flight=in_flight)
        return Recovery(settled, released, in_flight)
