"""Inbound routing as a service: admit each caller, tell the PBX where they go, follow the call to its outcome.

The dialplan (``[dcc-inbound]``, docs/inbound.md) answers the caller, raises
``UserEvent(DCCInbound)`` and waits up to two seconds for this service's answer, which
it sends as channel variables (``Setvar``; ``DCC_ROUTE`` last). If the answer does not
come (dialer down, AMI link lost) the PBX sends the caller to the queue on its own, so a
caller always reaches someone: the dialer adds ownership routing, recording and records
on top of a dialplan that works without it.

Per call, in order: look the caller's number up (:meth:`LeadStore.find_by_phone`), decide
the route (:func:`~dialer.domain.inbound.routing.decide_route`), tell the PBX, then write what
may take longer: a new lead for an unknown caller, the attempt row (direction inbound).
The call is then followed like an outbound one (a periodic snapshot that misses it ends it only
after a grace and a second look, :mod:`dialer.ami.reconcile`): its events go through the pure
:class:`~dialer.domain.inbound.routing.InboundCallMachine`; the answering agent gets a
:class:`ScreenPop` on the event bus; a call no agent took leaves a callback on the lead.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import structlog

from dialer.ami import events as ami
from dialer.ami.errors import AmiError
from dialer.ami.reconcile import gone_after_grace
from dialer.clock import Clock
from dialer.domain.calls import events as ev
from dialer.domain.calls.attempts import Attempt, AttemptRepository
from dialer.domain.calls.machine import CallProgress, CallResult, Finished
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.campaigns.policy import CallingWindows
from dialer.domain.inbound.errors import LeadNotCreated
from dialer.domain.inbound.routing import InboundCallMachine, Route, RouteKind, callback_at, decide_route
from dialer.domain.leads.model import Lead, LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.events.bus import BusEvent, EventBus
from dialer.i18n import translate as tr
from dialer.inbound.legs import translate
from dialer.logs import get_logger
from dialer.phone import InvalidPhone, Phone, normalize
from dialer.settings import Settings
from dialer.store.leads import LeadStore
from dialer.tasks import BackgroundTasks

log = get_logger(__name__)

# The UserEvents of [dcc-inbound] (asterisk/extensions.conf).
ARRIVED_EVENT = "DCCInbound"
BUSY_EVENT = "DCCInboundBusy"
# Q.850 cause the dialplan refuses an over-the-limit caller with (SIP 486).
_BUSY_CAUSE = 17


class InboundAmiPort(Protocol):
    """What inbound routing needs from the AMI layer (``dialer.ami.client.AmiClient``, or a test double)."""

    async def setvar(self, channel: str, name: str, value: str) -> None: ...

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]: ...


@dataclass(frozen=True, slots=True)
class ScreenPop(BusEvent):
    """Show this caller's lead card on ``agent``'s screen: their phone just answered the call.

    ``lead_id`` is None only for a withheld number (no lead can be made without a number).
    """

    call_id: str
    agent: str
    number: str | None
    lead_id: int | None
    lead_name: str | None
    new_lead: bool


@dataclass(frozen=True, slots=True)
class InboundCallEnded(BusEvent):
    """An inbound call is over and recorded: the wallboard counts it, and the agent (if any) goes to wrap-up."""

    call_id: str
    agent: str | None
    outcome: Outcome
    lead_id: int | None


@dataclass
class _InboundCall:
    """The dialer's live view of one inbound call; registered the moment the PBX announces it."""

    call_id: str
    channel: str
    caller: str
    arrived_at: datetime
    inbox: asyncio.Queue[ev.CallEvent] = field(default_factory=asyncio.Queue)
    lead: Lead | None = None
    new_lead: bool = False
    number: str | None = None
    second_look: bool = False  # a periodic snapshot missed the call; a fresh look is due after the grace


class InboundService:
    """Callers on the inbound lines: routing, records, screen pops, callbacks."""

    def __init__(
        self,
        *,
        ami_client: InboundAmiPort,
        attempts: AttemptRepository,
        leads: LeadStore,
        bus: EventBus,
        settings: Settings,
        clock: Clock,
        recording_path: Callable[[str], Path],
        after_call: Sequence[Callable[[Attempt], Awaitable[object]]] = (),
        recording_allowed: Callable[[], bool] = lambda: True,
        owner_endpoint: Callable[[str], str | None] = lambda owner: owner,
    ) -> None:
        """``recording_path`` is the call service's (one naming rule for every recording);
        ``owner_endpoint`` maps a lead's owner to the agent endpoint that rings (identity by
        default: owners are recorded under their endpoint names)."""
        self._ami = ami_client
        self._attempts = attempts
        self._leads = leads
        self._bus = bus
        self._settings = settings
        self._cfg = settings.inbound
        self._clock = clock
        self._recording_path = recording_path
        self._after_call = tuple(after_call)
        self._recording_allowed = recording_allowed
        self._owner_endpoint = owner_endpoint
        self._hours = CallingWindows.from_settings(settings.inbound.hours, settings.dealer.timezone)
        self._calls: dict[str, _InboundCall] = {}
        self._background = BackgroundTasks()

    # -- event routing -----------------------------------------------------------------

    def route(self, event: ami.AmiEvent) -> None:
        """Take one AMI event: a new caller, a refused caller, or news of a call being followed."""
        if isinstance(event, ami.Reconciled):
            for call in self._calls.values():
                if _listed(event.channels, call.call_id):
                    continue
                if not event.periodic:
                    call.inbox.put_nowait(ev.CallVanished(event.at))
                elif not call.second_look:
                    call.second_look = True
                    self._background.spawn(self._look_again(call))
            return
        if isinstance(event, ami.UserEvent) and event.user_event == ARRIVED_EVENT:
            if event.uniqueid not in self._calls:
                call = _InboundCall(event.uniqueid, event.channel, event.get("Caller") or event.caller_id_num, event.at)
                self._calls[call.call_id] = call  # now: the caller's next events may beat our first await
                self._background.spawn(self._handle(call))
            return
        if isinstance(event, ami.UserEvent) and event.user_event == BUSY_EVENT:
            self._background.spawn(self._refused(event))
            return
        if isinstance(event, ami.ChannelEvent):
            followed = self._calls.get(event.linkedid or event.uniqueid)
            if followed is not None:
                for call_event in translate(followed.call_id, event):
                    followed.inbox.put_nowait(call_event)

    async def drain(self) -> None:
        """Wait until every call this service follows has been recorded (shutdown, tests)."""
        await self._background.drain()

    async def _look_again(self, call: _InboundCall) -> None:
        """End a call a periodic snapshot missed if, after the grace, the PBX still does not list it."""
        try:
            gone = await gone_after_grace(
                self._settings.pbx.action_timeout_s,
                lambda: self._calls.get(call.call_id) is call,
                self._ami.core_show_channels,
                lambda channels: _listed(channels, call.call_id),
            )
        finally:
            call.second_look = False
        if gone:
            log.warning("inbound.call_vanished", periodic=True, call_id=call.call_id)
            call.inbox.put_nowait(ev.CallVanished(self._clock.now(), on_live_link=True))

    # -- one call ------------------------------------------------------------------------

    async def _handle(self, call: _InboundCall) -> None:
        with structlog.contextvars.bound_contextvars(call_id=call.call_id):
            try:
                await self._admit(call)
                await self._follow(call)
            except Exception:
                log.exception("inbound.call_failed")
            finally:
                self._calls.pop(call.call_id, None)

    async def _admit(self, call: _InboundCall) -> None:
        phone = self._phone(call.caller)
        call.number = phone.e164 if phone else None
        call.lead = await self._leads.find_by_phone(phone.e164) if phone else None
        owner = self._owner_endpoint(call.lead.owner) if call.lead and call.lead.owner else None
        route = decide_route(self._clock.now(), owner, self._hours)
        recording = ""
        if route.kind is not RouteKind.CLOSED and self._recording_allowed():
            recording = str(self._recording_path(call.call_id))
        await self._tell_pbx(call, route, recording)
        if call.lead is None and phone is not None:
            call.lead, call.new_lead = await self._new_lead(phone, call.call_id)
        await self._attempts.create(
            call_id=call.call_id,
            direction=Direction.INBOUND,
            number=call.number,
            lead_id=call.lead.id if call.lead else None,
            created_at=call.arrived_at,
        )
        await self._attempts.update_progress(call.call_id, state=CallState.ANSWERED, answered_at=call.arrived_at)
        log.info(
            "inbound.admitted", number=call.number, route=route.kind.value, owner=route.owner, new_lead=call.new_lead
        )

    async def _tell_pbx(self, call: _InboundCall, route: Route, recording: str) -> None:
        # Dial() and Queue() take whole seconds; never round a ring time down to zero.
        values = {
            "DCC_REC": recording,
            "DCC_OWNER": route.owner or "",
            "DCC_OWNER_RING": str(max(1, math.ceil(self._cfg.owner_ring_s))),
            "DCC_QUEUE_WAIT": str(max(1, math.ceil(self._cfg.queue_wait_s))),
            "DCC_ROUTE": route.kind.value,  # last: the dialplan acts as soon as it sees this one
        }
        try:
            for name, value in values.items():
                await self._ami.setvar(call.channel, name, value)
        except AmiError as exc:
            log.warning("inbound.route_not_sent; the PBX queues the caller itself", error=str(exc))

    async def _follow(self, call: _InboundCall) -> None:
        machine = InboundCallMachine(call.call_id, call.arrived_at)
        while True:
            event = await call.inbox.get()
            for decision in machine.feed(event):
                match decision:
                    case CallProgress(state=state, at=at, agent=agent):
                        await self._attempts.update_progress(call.call_id, state=state, connected_at=at, agent=agent)
                        self._pop(call, agent, at)
                    case Finished(result=result):
                        await self._record(call, result)
                        return

    def _pop(self, call: _InboundCall, agent: str | None, at: datetime) -> None:
        if agent is None:
            return
        lead = call.lead
        self._bus.publish(
            ScreenPop(
                at,
                call.call_id,
                agent,
                call.number,
                lead.id if lead else None,
                lead.name if lead else None,
                call.new_lead,
            )
        )
        log.info("inbound.connected", agent=agent, lead_id=lead.id if lead else None)

    async def _record(self, call: _InboundCall, result: CallResult) -> None:
        await self._attempts.finish(
            call.call_id,
            outcome=result.outcome,
            ended_at=result.ended_at,
            hangup_cause=result.hangup_cause,
            detail=result.detail,
            recording=result.recording,
        )
        attempt = await self._attempts.get(call.call_id)
        assert attempt is not None, "the attempt row was written when the call was admitted"
        await self._after_lead(call.lead, attempt, result.agent)
        self._bus.publish(
            InboundCallEnded(result.ended_at, call.call_id, result.agent, result.outcome, attempt.lead_id)
        )
        log.info("inbound.ended", outcome=result.outcome.value, agent=result.agent)

    async def _refused(self, event: ami.UserEvent) -> None:
        """A caller over the line limit heard busy: record it, and call them back."""
        call_id = event.uniqueid
        with structlog.contextvars.bound_contextvars(call_id=call_id):
            try:
                phone = self._phone(event.get("Caller") or event.caller_id_num)
                lead = await self._leads.find_by_phone(phone.e164) if phone else None
                if lead is None and phone is not None:
                    lead, _ = await self._new_lead(phone, call_id)
                await self._attempts.create(
                    call_id=call_id,
                    direction=Direction.INBOUND,
                    number=phone.e164 if phone else None,
                    lead_id=lead.id if lead else None,
                    created_at=event.at,
                )
                await self._attempts.finish(
                    call_id,
                    outcome=Outcome.FAILED,
                    ended_at=event.at,
                    hangup_cause=_BUSY_CAUSE,
                    detail="all inbound lines busy (PBX line limit)",
                )
                attempt = await self._attempts.get(call_id)
                assert attempt is not None, "just written"
                await self._after_lead(lead, attempt, None)
                log.info("inbound.refused_busy", number=phone.e164 if phone else None)
            except Exception:
                log.exception("inbound.refused_record_failed")

    async def _after_lead(self, lead: Lead | None, attempt: Attempt, agent: str | None) -> None:
        """A talk with an agent is a contact on the lead; any other call leaves a callback. Then the after-call hooks.

        A caller who only heard the callback message (or busy) was not followed up: recording
        it as a contact would count it in the follow-up KPIs and clear a due callback.
        """
        assert attempt.outcome is not None and attempt.ended_at is not None, "called for finished attempts only"
        if lead is not None and attempt.outcome is Outcome.ANSWERED:
            await self._leads.record_contact(
                lead.id, attempt.ended_at, agent or self._cfg.actor, attempt.outcome, attempt.id
            )
        elif lead is not None:
            when = callback_at(attempt.ended_at, self._hours)
            await self._leads.change_state(lead.id, lead.state, attempt.ended_at, self._cfg.actor, callback_at=when)
            log.info("inbound.callback_scheduled", lead_id=lead.id, callback_at=when.isoformat())
        for hook in self._after_call:
            try:
                await hook(attempt)
            except Exception:
                log.exception("inbound.after_call_hook_failed")

    # -- helpers ---------------------------------------------------------------------------

    def _phone(self, raw: str) -> Phone | None:
        """The caller's number, or None when withheld or not a number (it is still recorded as a call)."""
        try:
            return normalize(raw, self._settings.dealer.region) if raw else None
        except InvalidPhone as exc:
            log.warning("inbound.caller_number_unusable", reason=exc.reason)
            return None

    async def _new_lead(self, phone: Phone, call_id: str) -> tuple[Lead, bool]:
        """Store an unknown caller as a lead with source ``inbound`` (through the import path, one row).

        Returns the lead and whether this call created it (a second call from the same new
        number in the same instant finds the first one's lead instead).
        """
        draft = LeadDraft(
            row=1,
            name=tr("inbound.new_lead_name", self._settings.ui.language, tail=phone.e164[-4:]),
            phones=(LeadPhone(phone.e164, PhoneKind.MOBILE if phone.mobile else PhoneKind.LANDLINE),),
            source=LeadSource.INBOUND,
        )
        src = ImportSource(
            file_name=f"inbound call {call_id}",
            file_sha256=hashlib.sha256(f"inbound-call:{call_id}".encode()).hexdigest(),
            source=LeadSource.INBOUND,
            rows_total=1,
            phone_field="caller",
        )
        run = await self._leads.import_drafts([draft], [], src, self._cfg.actor)
        if run.plan.created:
            log.info("inbound.lead_created", lead_id=run.plan.created[0].id)
            return run.plan.created[0], True
        lead = await self._leads.find_by_phone(phone.e164)
        if lead is None:
            reasons = "; ".join(f"{r.field}={r.value!r}: {r.reason}" for r in run.plan.rejections)
            raise LeadNotCreated(
                f"inbound call {call_id}, caller {phone.masked}: no lead created ({reasons or 'no reason given'})"
            )
        return lead, False


def _listed(channels: Sequence[ami.ChannelInfo], call_id: str) -> bool:
    """Does the PBX still have the caller's channel (an inbound call's id is its uniqueid)?"""
    return any(c.uniqueid == call_id for c in channels)
