"""Consent and retention as the dealer configured them (``[privacy]``), checked at start-up.

Consent: a lead carries what its source said (``consent``: yes, no or not said). Where
``consent_required_for`` names a channel, only a lead with a recorded yes is contacted on it;
everywhere else consent is shown, not enforced. Retention: how old a lead, an SMS or an attempt
may grow before the service anonymizes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dialer.domain.backup.schedule import parse_time
from dialer.settings import RETENTION_FLOOR_DAYS, PrivacySettings


class Channel(StrEnum):
    """What consent can be required for (``[privacy] consent_required_for``)."""

    CALLS = "calls"
    SMS = "sms"
    PROMOTIONAL_SMS = "promotional_sms"


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """Which contact needs a recorded yes."""

    required: frozenset[Channel]

    @classmethod
    def from_settings(cls, privacy: PrivacySettings) -> ConsentPolicy:
        """The policy of a checked ``[privacy]`` (see :func:`settings_problems`)."""
        return cls(frozenset(Channel(c) for c in privacy.consent_required_for))

    @property
    def calls(self) -> bool:
        """Campaigns dial only leads that consented."""
        return Channel.CALLS in self.required

    def sms_needs_consent(self, promotional: bool) -> bool:
        """Whether this SMS may go only to a lead that consented."""
        return Channel.SMS in self.required or (promotional and Channel.PROMOTIONAL_SMS in self.required)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these are anonymized by the retention run; None: kept forever."""

    leads: datetime | None
    sms: datetime | None
    attempts: datetime | None


def cutoffs(privacy: PrivacySettings, now: datetime) -> Cutoffs:
    """The retention cut-offs at ``now``."""

    def before(days: int) -> datetime | None:
        return None if days == 0 else now - timedelta(days=days)

    return Cutoffs(before(privacy.leads_days), before(privacy.sms_days), before(privacy.attempts_days))


def settings_problems(privacy: PrivacySettings) -> list[str]:
    """What is wrong in ``[privacy]``."""
    problems: list[str] = []
    known = tuple(Channel)
    for channel in privacy.consent_required_for:
        if channel not in known:
            problems.append(
                f"privacy.consent_required_for: {channel!r} is not one of {', '.join(c.value for c in known)}"
            )
    for key in ("leads_days", "sms_days", "attempts_days"):
        if getattr(privacy, key) < 0:
            problems.append(f"privacy.{key} = {getattr(privacy, key)}: must be 0 (keep forever) or more")
    if privacy.retention_time and parse_time(privacy.retention_time) is None:
        problems.append(
            f"privacy.retention_time = {privacy.retention_time!r}: expected HH:MM (dealer time) or '' for never"
        )
    if privacy.erase_recordings_after_days < RETENTION_FLOOR_DAYS:
        problems.append(
            f"privacy.erase_recordings_after_days = {privacy.erase_recordings_after_days}: must be at least"
            f" {RETENTION_FLOOR_DAYS} (recordings are complaint evidence)"
        )
    return problems
