"""The privacy service: the one suppression list as people edit it, and the PIPL rights.

* The list: a supervisor adds a number (with a reason), lifts it (with a reason: the entry is
  kept, stamped), searches it. Calls and SMS read the same table (``dialer.store.suppressions``).
* ``export``: every row about a person (their number, and their lead with all its numbers), as
  one JSON document (PIPL art. 45).
* ``erase``: anonymize those rows; recordings past their evidence period are deleted now, younger
  ones when they reach it; the erasure is recorded with the number only as a slow salted digest
  (PIPL art. 47).
* ``apply_retention``: what ``[privacy]`` says may not be kept any longer is anonymized, and the
  scheduled recording deletions are done; ``dialer web`` runs it daily (``retention_time``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.audit.model import AuditTrail
from dialer.domain.privacy.erasure import ErasureCounts, digest, matches
from dialer.domain.privacy.policy import cutoffs
from dialer.domain.privacy.suppression import (
    Suppression,
    SuppressionError,
    SuppressionList,
    SuppressionSource,
    check_reason,
)
from dialer.logs import get_logger
from dialer.phone import InvalidPhone, mask, normalize
from dialer.settings import Settings
from dialer.store.leads import LeadStore
from dialer.store.privacy import PrivacyStore

log = get_logger(__name__)

ACTOR = "privacy"
EXPORT_FORMAT = "dcc-dialer-privacy-export/1"
# Leads anonymized per retention batch: one short write each, so calls are never held up.
_RETENTION_BATCH = 200

DeleteRecording = Callable[[int, str, str], Awaitable[object]]
"""Deletes one recording with an audit trail: (recording id, actor, reason); the recording registry's."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What one erasure did."""

    erasure_id: int
    counts: ErasureCounts


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one retention run anonymized or deleted."""

    leads: int
    sms: int
    attempts: int
    recordings: int


class PrivacyService:
    """The suppression list as people edit it, and a person's export and erasure."""

    def __init__(
        self,
        suppressions: SuppressionList,
        store: PrivacyStore,
        leads: LeadStore,
        settings: Settings,
        clock: Clock,
        delete_recording: DeleteRecording,
        audit: AuditTrail,
    ) -> None:
        self._audit = audit
        self._suppressions = suppressions
        self._store = store
        self._leads = leads
        self._settings = settings
        self._clock = clock
        self._delete_recording = delete_recording

    def number(self, raw: str) -> str:
        """``raw`` as E.164, the way the dialer stores numbers; :class:`SuppressionError` names a bad one."""
        try:
            return normalize(raw, self._settings.dealer.region).e164
        except InvalidPhone as exc:
            raise SuppressionError(f"{raw!r}: not a phone number ({exc.reason})", "number") from None

    # -- the list -------------------------------------------------------------------------------

    async def suppress(
        self, raw: str, reason: str, source: SuppressionSource, actor: str, dealer_id: int | None = None
    ) -> tuple[str, bool]:
        """Put a number on the list (an entry of ``dealer_id``, None: this node's dealer); returns it as E.164
        and whether it was not on the list yet."""
        e164 = self.number(raw)
        reason = check_reason(reason)
        now = self._clock.now()
        added = await self._suppressions.add(e164, reason, source, now, actor, dealer_id=dealer_id)
        entry = await self._suppressions.active(e164) if added else None
        if entry is not None:
            await self._lead_event(e164, now, actor, {"number": mask(e164), "source": source.value, "reason": reason})
            await self._audit.suppression_changed(
                actor, e164, added=True, reason=reason, source=source.value, dealer_id=entry.dealer_id
            )
        return e164, added

    async def lift(self, raw: str, reason: str, actor: str, dealers: DealerScope = EVERY_DEALER) -> tuple[str, bool]:
        """Take a number off the list (the entry is kept, stamped with who and why); only an entry of a
        dealer ``dealers`` sees."""
        e164 = self.number(raw)
        reason = check_reason(reason)
        now = self._clock.now()
        entry = await self._suppressions.active(e164)
        lifted = entry is not None and await self._suppressions.lift(e164, reason, now, actor, dealers)
        if entry is not None and lifted:
            await self._lead_event(e164, now, actor, {"number": mask(e164), "lifted": True, "reason": reason})
            await self._audit.suppression_changed(
                actor, e164, added=False, reason=reason, source="lift", dealer_id=entry.dealer_id
            )
        return e164, lifted

    async def search(
        self, text: str, *, include_lifted: bool = False, limit: int = 200, dealers: DealerScope = EVERY_DEALER
    ) -> list[Suppression]:
        """Entries whose number or reason contains ``text``; a whole number, however typed, as its E.164."""
        text = text.strip()
        try:
            text = self.number(text)
        except SuppressionError:
            pass  # part of a number, or words of a reason: matched as typed
        return await self._suppressions.search(text, include_lifted=include_lifted, limit=limit, dealers=dealers)

    async def active(self, raw: str) -> Suppression | None:
        """The number's active entry, or None."""
        return await self._suppressions.active(self.number(raw))

    async def _lead_event(self, e164: str, at: datetime, actor: str, data: dict[str, Any]) -> None:
        """The lead's history says its number went on or off the list; its due time follows."""
        lead = await self._leads.find_by_phone(e164)
        if lead is not None:
            await self._leads.record_suppression(lead.id, at, actor, data)

    # -- PIPL: export and erasure -----------------------------------------------------------------

    async def export(self, raw: str) -> dict[str, Any]:
        """Every row about the person with this number, as one JSON-ready document."""
        e164 = self.number(raw)
        person = await self._store.person(e164)
        tables = await self._store.rows_about(person)
        log.info("privacy.exported", number=e164, lead_id=person.lead_id, rows=sum(len(t) for t in tables.values()))
        return {
            "format": EXPORT_FORMAT,
            "exported_at": self._clock.now().isoformat(),
            "number": e164,
            "numbers": list(person.numbers),
            "lead_id": person.lead_id,
            "tables": tables,
        }

    async def erase(self, raw: str, actor: str) -> Erased:
        """Anonymize everything about the person with this number; see the module's docstring."""
        e164 = self.number(raw)
        now = self._clock.now()
        person = await self._store.person(e164)
        salt = secrets.token_bytes(16)
        evidence = timedelta(days=self._settings.privacy.erase_recordings_after_days)
        erasure_id, counts, delete_now = await self._store.erase(person, now, actor, salt, digest(e164, salt), evidence)
        for recording in delete_now:
            await self._delete_recording(recording.recording_id, actor, f"erasure {erasure_id}")
        log.info("privacy.erased", erasure_id=erasure_id, lead_id=person.lead_id, actor=actor, **_fields(counts))
        return Erased(erasure_id, counts)

    async def erased_before(self, raw: str) -> list[int]:
        """The erasures of this number (their ids), found by its digests: "was my data erased?"."""
        e164 = self.number(raw)
        return [e.id for e in await self._store.erasures() if matches(e164, e.salt, e.number_digest)]

    # -- retention ------------------------------------------------------------------------------

    async def apply_retention(self) -> RetentionReport:
        """Anonymize what ``[privacy]`` no longer allows to keep, delete due recordings of erased people."""
        now = self._clock.now()
        cut = cutoffs(self._settings.privacy, now)
        leads = 0
        if cut.leads is not None:
            while batch := await self._store.stale_leads(cut.leads, _RETENTION_BATCH):
                for lead_id in batch:
                    await self._store.expire_lead(lead_id)
                leads += len(batch)
        sms = 0 if cut.sms is None else await self._store.expire_sms(cut.sms)
        attempts = 0 if cut.attempts is None else await self._store.expire_attempts(cut.attempts)
        recordings = 0
        for recording_id in await self._store.due_recordings(now):
            await self._delete_recording(recording_id, ACTOR, "erasure: evidence period over")
            await self._store.recording_erased(recording_id)
            recordings += 1
        report = RetentionReport(leads, sms, attempts, recordings)
        log.info("privacy.retention_done", leads=leads, sms=sms, attempts=attempts, recordings=recordings)
        return report


def _fields(counts: ErasureCounts) -> dict[str, int]:
    return {
        "leads": counts.leads,
        "attempts": counts.attempts,
        "sms": counts.sms_messages + counts.sms_inbound,
        "recordings_deleted": counts.recordings_deleted,
        "recordings_scheduled": counts.recordings_scheduled,
    }
