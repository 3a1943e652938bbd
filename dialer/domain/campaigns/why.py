""" "Why is this lead not being dialled?": every reason that applies, in words a supervisor reads.

The hopper's SQL skips a lead for exactly these reasons; this module states them one by one from
the same facts, so the answer lists ALL reasons (a lead can be suppressed AND over its attempts),
not just the first the query happened to test. tests/campaigns/test_hopper.py checks both sides
of each rule against the same lead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.domain.campaigns.policy import CallingWindows, RetryReason
from dialer.domain.campaigns.progress import CampaignRecord, LeadFacts, ProgressStatus
from dialer.i18n import translate
from dialer.phone import mask


class BlockReason(StrEnum):
    """One reason a lead is not dialled now; the i18n key is ``campaign.why.<value>``."""

    NO_LEAD = "no_lead"
    NOT_ENROLLED = "not_enrolled"
    CAMPAIGN_NOT_RUNNING = "campaign_not_running"
    LEAD_CLOSED = "lead_closed"
    NO_PHONE = "no_phone"
    SUPPRESSED = "suppressed"
    NUMBER_SUPPRESSED = "number_suppressed"  # a manual call's number (the lead may have others)
    NO_CONSENT = "no_consent"
    WINDOW_CLOSED = "window_closed"
    IN_CALL = "in_call"
    CLAIMED = "claimed"
    DONE = "done"
    MAX_ATTEMPTS = "max_attempts"
    MAX_PER_DAY = "max_per_day"
    TOO_RECENT = "too_recent"


@dataclass(frozen=True, slots=True)
class Listed:
    """One suppression entry as ``why`` names it (the number masked, the time local)."""

    number: str
    at: str
    source: str
    by: str
    reason: str

    def text(self, language: str) -> str:
        source = translate(f"privacy.source.{self.source}", language)
        return f"{self.number} {self.at} {source} {self.by}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Blocker:
    """A reason with the values that explain it (times already in the dealer's local time)."""

    reason: BlockReason
    params: Mapping[str, str] = field(default_factory=dict)
    listed: tuple[Listed, ...] = ()  # SUPPRESSED: the entries that keep every number from being dialled

    def text(self, language: str) -> str:
        """The sentence a supervisor reads, in ``language``."""
        params = dict(self.params)
        if params.get("outcome"):
            params["outcome"] = translate(f"outcome.{params['outcome']}", language)
        if self.listed:
            params["entries"] = "; ".join(entry.text(language) for entry in self.listed)
        return translate(f"campaign.why.{self.reason.value}", language, **params)


def blockers(facts: LeadFacts, campaign: CampaignRecord, windows: CallingWindows, now: datetime) -> list[Blocker]:
    """Every reason ``facts.lead_id`` is not dialled by ``campaign`` at ``now``; empty: it is dialable."""
    if not facts.exists:
        return [Blocker(BlockReason.NO_LEAD, {"lead": str(facts.lead_id)})]
    found: list[Blocker] = []
    local = _local(windows)
    if campaign.status is not CampaignStatus.RUNNING:
        found.append(
            Blocker(BlockReason.CAMPAIGN_NOT_RUNNING, {"campaign": str(campaign.id), "status": campaign.status.value})
        )
    p = facts.progress
    if p is None:
        found.append(Blocker(BlockReason.NOT_ENROLLED, {"campaign": str(campaign.id)}))
    if facts.state is not None and not facts.state.is_open:
        found.append(Blocker(BlockReason.LEAD_CLOSED, {"state": facts.state.zh}))
    if not facts.phones:
        found.append(Blocker(BlockReason.NO_PHONE))
    elif set(facts.phones) <= {s.e164 for s in facts.suppressed}:
        listed = _listed(facts, local)
        found.append(Blocker(BlockReason.SUPPRESSED, {"numbers": ", ".join(x.number for x in listed)}, listed))
    found += _no_consent(facts)
    found += _window_closed(windows, now, local)
    found += _in_call(facts)
    if facts.claimed_by:
        found.append(Blocker(BlockReason.CLAIMED, {"campaigns": ", ".join(str(c) for c in facts.claimed_by)}))
    if p is None:
        return found
    d = campaign.definition
    if p.status is ProgressStatus.DONE and p.last_reason is not RetryReason.EXHAUSTED:
        outcome = p.last_outcome.value if p.last_outcome else ""
        found.append(Blocker(BlockReason.DONE, {"outcome": outcome}))
    if p.attempts >= d.max_attempts:
        found.append(Blocker(BlockReason.MAX_ATTEMPTS, {"attempts": str(p.attempts), "max": str(d.max_attempts)}))
    today = p.attempts_on(windows.local_date(now))
    if today >= d.max_attempts_per_day:
        found.append(Blocker(BlockReason.MAX_PER_DAY, {"attempts": str(today), "max": str(d.max_attempts_per_day)}))
    if p.status is ProgressStatus.ACTIVE and p.next_attempt_at is not None and p.next_attempt_at > now:
        found.append(Blocker(BlockReason.TOO_RECENT, {"next": local(p.next_attempt_at)}))
    return found


def manual_blockers(
    facts: LeadFacts, number: str, windows: CallingWindows, now: datetime, *, window_override: bool = False
) -> list[Blocker]:
    """Every reason a person may not call ``number`` of ``facts.lead_id`` by hand at ``now``; empty: they may.

    The campaigns' own rules for the lead and the number, without a campaign's: a number on the
    suppression list is never called, nor a lead without the consent the config requires; outside the
    calling windows only with ``window_override`` (a supervisor's, recorded by the caller); never
    twice at once.
    """
    if not facts.exists:
        return [Blocker(BlockReason.NO_LEAD, {"lead": str(facts.lead_id)})]
    local = _local(windows)
    found: list[Blocker] = []
    listed = _listed(facts, local, number)
    if listed:
        found.append(Blocker(BlockReason.NUMBER_SUPPRESSED, {"number": mask(number)}, listed))
    found += _no_consent(facts)
    if not window_override:
        found += _window_closed(windows, now, local)
    return found + _in_call(facts)


def _listed(facts: LeadFacts, local: Callable[[datetime], str], number: str | None = None) -> tuple[Listed, ...]:
    return tuple(
        Listed(mask(s.e164), local(s.at), s.source.value, s.actor, s.reason)
        for s in facts.suppressed
        if number is None or s.e164 == number
    )


def _no_consent(facts: LeadFacts) -> list[Blocker]:
    if facts.consent_required and facts.consent is not True:
        return [Blocker(BlockReason.NO_CONSENT, {"consent": "no" if facts.consent is False else "unknown"})]
    return []


def _window_closed(windows: CallingWindows, now: datetime, local: Callable[[datetime], str]) -> list[Blocker]:
    if windows.is_open(now):
        return []
    return [Blocker(BlockReason.WINDOW_CLOSED, {"opens": local(windows.next_opening(now))})]


def _in_call(facts: LeadFacts) -> list[Blocker]:
    return [] if facts.in_flight_call is None else [Blocker(BlockReason.IN_CALL, {"call": facts.in_flight_call})]


def _local(windows: CallingWindows) -> Callable[[datetime], str]:
    def render(at: datetime) -> str:
        return at.astimezone(windows.tz).strftime("%Y-%m-%d %H:%M")

    return render
