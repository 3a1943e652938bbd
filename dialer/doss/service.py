"""Recording a follow-up result: the lead change, its history and its DOSS outbox row in ONE transaction.

This is the transactional outbox. Writing the DOSS change anywhere but in the
transaction that changes the lead would let a crash in between lose it (lead
changed, DOSS never told) or invent it (DOSS told, lead unchanged). Here the
three writes commit together or not at all; delivery happens later, from the
outbox, as often as it takes (``dialer.doss.push``).

Other parts call :meth:`DossService.record_disposition` after every call (the
agent's form, or ``Disposition.NO_CONTACT`` from the dialer for calls nobody
talked on) and :meth:`DossService.record_milestone` when the showroom reports a
visit or a deal (:meth:`DossService.record_milestones` for several leads at once), and
:meth:`DossService.record_visit_declined` when the customer calls a booked visit off by SMS.
No caller writes the lead's contact or attempt event itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.clock import Clock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.errors import FormError
from dialer.domain.doss.mapping import Disposition, DispositionForm, DossChange, DossMapping
from dialer.domain.doss.outbox import DossRecord, LeadSnapshot, OutboxKind, new_idempotency_key
from dialer.domain.leads.errors import LeadStateError
from dialer.domain.leads.model import Lead, LeadEventKind, LeadState, check_transition, shown
from dialer.domain.leads.records import Transfer
from dialer.domain.privacy.suppression import REASON_MAX
from dialer.logs import get_logger
from dialer.store.database import Database, Tx
from dialer.store.doss import DossOutbox
from dialer.store.leads import LeadStore
from dialer.store.suppressions import SuppressionStore

log = get_logger(__name__)

# What the showroom reports; everything else comes from calls through the mapping.
MILESTONES = frozenset({LeadState.VISITED, LeadState.DEAL})
# A transfer's line in the DOSS sheet: the 跟进结果 wording, and the note's "previous owner" label.
TRANSFER_RESULT_ZH = "线索转交"
TRANSFER_FROM_ZH = "原负责人 "
# A customer's SMS reply calling a booked visit off: the 跟进结果 wording.
VISIT_DECLINED_ZH = "取消到店"


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one recorded result did."""

    lead: Lead  # the lead after the change
    change: DossChange | None  # None for a showroom milestone
    outbox_id: int | None  # None when the change is history only (not reported to DOSS)


class DossService:
    """Applies results to leads and queues their DOSS changes; see the module docstring."""

    def __init__(
        self,
        db: Database,
        leads: LeadStore,
        outbox: DossOutbox,
        mapping: DossMapping,
        clock: Clock,
        on_visit_booked: Callable[[int], Awaitable[object]] | None = None,
    ) -> None:
        """``on_visit_booked(lead_id)`` runs inside the disposition's transaction (e.g. queueing the
        SMS confirmations), so the booking and what it triggers commit together or not at all."""
        self._on_visit_booked = on_visit_booked
        self._db = db
        self._leads = leads
        self._outbox = outbox
        self._mapping = mapping
        self._clock = clock

    @property
    def outbox(self) -> DossOutbox:
        """The queue of DOSS changes: what the export sheet lists and the push worker delivers."""
        return self._outbox

    @property
    def mapping(self) -> DossMapping:
        """The validated outcome mapping (which fields a disposition needs after an outcome)."""
        return self._mapping

    async def filed(self, attempt_id: int) -> bool:
        """Whether the agent's result for this call is already recorded (the call's wrap-up is over)."""
        return await self._outbox.filed(attempt_id)

    async def record_disposition(
        self, lead_id: int, attempt_id: int | None, outcome: Outcome, form: DispositionForm, actor: str
    ) -> Recorded:
        """Validate the form against the mapping, then change the lead and queue its DOSS change atomically.

        Raises :class:`FormError` (nothing written) when the form does not satisfy
        the mapping, and the leads package's errors for an unknown lead or a state
        change DOSS would not accept.
        """
        now = self._clock.now()
        async with self._db.write() as tx:
            lead = await self._leads.get(lead_id)
            if form.disposition is Disposition.RESCHEDULED and lead.state is not LeadState.INVITED:
                # A new time for a visit that was never booked is a booking: say so instead of guessing.
                raise LeadStateError(
                    f"lead {lead_id}: no booked visit to reschedule (state {lead.state.value}); book a visit instead"
                )
            change = self._mapping.apply(outcome, form, now, attempts=await self._no_contact_streak(lead_id, outcome))
            after_call = await self._leads.record_contact(lead_id, now, actor, outcome, attempt_id)
            lead = await self._leads.change_state(
                lead_id,
                change.state or after_call.state,
                now,
                actor,
                reason=change.disposition.value,
                intent=change.intent,
                # Only a conversation yields a time agreed with the customer; after a
                # no-contact call the retry rules own the timing and DOSS only hears it.
                callback_at=None if change.disposition is Disposition.NO_CONTACT else change.next_follow_up_at,
                visit_at=change.visit_at,
                defeat_reason=change.defeat_reason,
                data={"result": change.result, "attempt_id": attempt_id},
                purpose=None if change.purpose is None else change.purpose.value,
            )
            if change.disposition is Disposition.DO_NOT_CALL:
                lead = await self._suppress(lead_id, attempt_id, change, now, actor)
            outbox_id = None
            if change.sync:
                record = DossRecord(
                    lead=_snapshot(lead, form.model),
                    at=now,
                    actor=actor,
                    state=lead.state,
                    result=change.result,
                    intent=lead.intent,
                    visit_at=change.visit_at,
                    next_follow_up_at=change.next_follow_up_at,
                    defeat_reason=change.defeat_reason,
                    purpose=change.purpose,
                    note=change.note,
                    outcome=outcome,
                    disposition=change.disposition,
                )
                outbox_id = await self._queue(tx, OutboxKind.DISPOSITION, record, attempt_id, now)
            if change.visit_at is not None and self._on_visit_booked is not None:
                await self._on_visit_booked(lead_id)
        log.info(
            "doss.disposition_recorded",
            lead_id=lead_id,
            attempt_id=attempt_id,
            outcome=outcome.value,
            disposition=change.disposition.value,
            state=lead.state.value,
            outbox_id=outbox_id,
        )
        return Recorded(lead=lead, change=change, outbox_id=outbox_id)

    async def _suppress(
        self, lead_id: int, attempt_id: int | None, change: DossChange, now: datetime, actor: str
    ) -> Lead:
        """勿扰: every number of the lead on the one suppression list, in the disposition's transaction."""
        suppressions = SuppressionStore(self._db)
        source = await suppressions.source_of_call(attempt_id)
        reason = change.result if not change.note else f"{change.result}: {change.note.strip()}"[:REASON_MAX]
        await suppressions.add_lead(lead_id, reason, source, now, actor)
        return await self._leads.record_suppression(lead_id, now, actor, {"source": source.value, "reason": reason})

    async def record_milestone(
        self,
        lead_id: int,
        state: LeadState,
        actor: str,
        note: str | None = None,
        *,
        at: datetime | None = None,
        test_drive: bool = False,
        model: str | None = None,
    ) -> Recorded:
        """The showroom reports a visit (``test_drive``: with a test drive) or a deal (``model``: the car
        bought): change the lead and queue the DOSS change atomically. ``at``: when it happened
        (default now; reported later is fine, in the future is refused)."""
        done = await self.record_milestones([lead_id], state, actor, note, at=at, test_drive=test_drive, model=model)
        return done[0]

    async def record_milestones(
        self,
        lead_ids: Sequence[int],
        state: LeadState,
        actor: str,
        note: str | None = None,
        *,
        at: datetime | None = None,
        test_drive: bool = False,
        model: str | None = None,
        from_doss: bool = False,
    ) -> list[Recorded]:
        """:meth:`record_milestone` for several leads (the manager's page), all or none: one lead that cannot
        take the change (:class:`LeadStateError` naming it and its state) refuses the batch.

        ``from_doss``: DOSS itself reported it (a re-imported export): the lead changes, its state event
        says ``source: doss``, and no outbox row is queued, since telling DOSS what it told us would be a
        second line for one visit."""
        if state not in MILESTONES:
            raise FormError("state", f"{state.value!r} is not a showroom milestone (visited or deal)")
        if test_drive and state is not LeadState.VISITED:
            raise FormError("test_drive", "a test drive is reported with a visit")
        if model is not None and (state is not LeadState.DEAL or not model.strip()):
            raise FormError("model", "the model bought is reported with a deal, and is not empty")
        now = self._clock.now()
        when = now if at is None else at
        if when > now:
            raise FormError("at", f"{when.isoformat()} is in the future: report what happened")
        detail: dict[str, Any] = {}
        if test_drive:
            detail["test_drive"] = True
        if model is not None:
            detail["model"] = model.strip()
        if from_doss:
            detail["source"] = "doss"
        result = state.zh + ("（试乘试驾）" if test_drive else "") + (f"（{model.strip()}）" if model else "")
        done: list[Recorded] = []
        async with self._db.write() as tx:
            for lead_id in dict.fromkeys(lead_ids):
                before = await self._leads.get(lead_id)
                # A repeated report would be a second DOSS line for one visit; change_state
                # treats "same state" as no change, so the check must happen here.
                check_transition(lead_id, before.state, state)
                lead = await self._leads.change_state(lead_id, state, when, actor, reason="showroom", data=detail)
                if from_doss:
                    done.append(Recorded(lead=lead, change=None, outbox_id=None))
                    continue
                record = DossRecord(
                    lead=_snapshot(lead, None),
                    at=when,
                    actor=actor,
                    state=state,
                    result=result,
                    intent=lead.intent,
                    note=note,
                )
                outbox_id = await self._queue(tx, OutboxKind.MILESTONE, record, None, now)
                done.append(Recorded(lead=lead, change=None, outbox_id=outbox_id))
        for recorded in done:
            log.info("doss.milestone_recorded", lead_id=recorded.lead.id, state=state.value,
                     outbox_id=recorded.outbox_id, test_drive=test_drive, actor=actor)  # fmt: skip
        return done

    async def record_visit_declined(self, lead_id: int, actor: str, reply: str) -> Recorded:
        """The customer called the booked visit off (an SMS reply such as "不需要"): the lead goes back to
        following, its visit cleared, and DOSS hears it, atomically. Not an opt-out: calls and SMS go on.

        :class:`LeadStateError` when the lead has no booked visit (it is not invited).
        """
        now = self._clock.now()
        reply = shown(reply)  # the customer's own text: control characters escaped, a long one cut
        async with self._db.write() as tx:
            before = await self._leads.get(lead_id)
            if before.state is not LeadState.INVITED:
                raise LeadStateError(f"lead {lead_id}: no booked visit to call off (state {before.state.value})")
            lead = await self._leads.change_state(lead_id, LeadState.FOLLOWING, now, actor, reason=VISIT_DECLINED_ZH,
                                                  cancel_visit=f"SMS {reply!r}", data={"result": VISIT_DECLINED_ZH})  # fmt: skip
            record = DossRecord(lead=_snapshot(lead, None), at=now, actor=actor, state=lead.state,
                                result=VISIT_DECLINED_ZH, intent=lead.intent, note=f"短信回复 {reply}")  # fmt: skip
            outbox_id = await self._queue(tx, OutboxKind.SMS_REPLY, record, None, now)
        log.info("doss.visit_declined", lead_id=lead_id, outbox_id=outbox_id)
        return Recorded(lead=lead, change=None, outbox_id=outbox_id)

    async def record_reactivation(self, lead_ids: Sequence[int], actor: str, reason: str) -> list[Lead]:
        """A manager brings defeated leads back: each state change and its DOSS row, all or none.

        DOSS records re-activations like any state change. A lead that is not defeated
        refuses the batch (:class:`LeadStateError`): re-activating twice is a mistake to
        show, not a no-op, since it would be a second line in the DOSS sheet.
        """
        now = self._clock.now()
        back: list[Lead] = []
        async with self._db.write() as tx:
            before = [await self._leads.get(lead_id) for lead_id in lead_ids]
            not_defeated = [
                f"{lead.id} ({lead.state.value})" for lead in before if lead.state is not LeadState.DEFEATED
            ]
            if not_defeated:
                raise LeadStateError(
                    f"only defeated leads can be re-activated; not defeated: {', '.join(not_defeated)}"
                )
            for lead_id in lead_ids:
                lead = await self._leads.change_state(lead_id, LeadState.REACTIVATED, now, actor, reason=reason)
                record = DossRecord(lead=_snapshot(lead, None), at=now, actor=actor, state=lead.state,
                                    result=LeadState.REACTIVATED.zh, intent=lead.intent, note=reason)  # fmt: skip
                await self._queue(tx, OutboxKind.REACTIVATION, record, None, now)
                back.append(lead)
        log.info("doss.reactivation_recorded", leads=[lead.id for lead in back])
        return back

    async def record_transfer(self, lead_ids: Sequence[int], to_owner: str, actor: str, reason: str) -> list[Transfer]:
        """A manager gives leads to ``to_owner``: owners, history and one DOSS row per changed lead, atomically.

        The import sheet carries the owner (负责人) and DOSS records transfers between
        employees, so a transfer is a DOSS change like a state change. Leads that
        already had ``to_owner`` get no row. Callers validate ``to_owner`` (LeadManager).
        """
        now = self._clock.now()
        async with self._db.write() as tx:
            done = await self._leads.transfer(lead_ids, to_owner, now, actor, reason)
            for transfer in done:
                if transfer.event_id is None:
                    continue
                lead = transfer.lead
                note = f"{TRANSFER_FROM_ZH}{transfer.previous_owner or '-'}; {reason}"
                record = DossRecord(lead=_snapshot(lead, None), at=now, actor=actor, state=lead.state, result=TRANSFER_RESULT_ZH,
                                    intent=lead.intent, note=note)  # fmt: skip
                await self._outbox.add(tx, key=new_idempotency_key(), kind=OutboxKind.TRANSFER, record=record,
                                       event_id=transfer.event_id, attempt_id=None, at=now)  # fmt: skip
        log.info("doss.transfer_recorded", to_owner=to_owner, leads=[t.lead.id for t in done if t.changed])
        return done

    async def _queue(self, tx: Tx, kind: OutboxKind, record: DossRecord, attempt_id: int | None, now: datetime) -> int:
        # The outbox row points at the newest history row: the event this change just wrote.
        events = await self._leads.events(record.lead.id)
        return await self._outbox.add(
            tx,
            key=new_idempotency_key(),
            kind=kind,
            record=record,
            event_id=events[-1].id,
            attempt_id=attempt_id,
            at=now,
        )

    async def _no_contact_streak(self, lead_id: int, outcome: Outcome) -> int:
        """Consecutive calls without a conversation, this one included; 1 after one with."""
        if outcome.talked_with_agent:
            return 1
        streak = 1
        for event in reversed(await self._leads.events(lead_id)):
            if event.kind == LeadEventKind.CONTACT:
                break
            if event.kind == LeadEventKind.ATTEMPT:
                streak += 1
        return streak


def _snapshot(lead: Lead, model: str | None) -> LeadSnapshot:
    phone = lead.primary_phone
    return LeadSnapshot(
        id=lead.id,
        name=lead.name,
        phone=None if phone is None else phone.e164,
        source=lead.source,
        owner=lead.owner,
        model=model or lead.model,
    )
