"""The SMS service: templates + rules + outbox + driver + replies + the repurchase cadence.

Why one service: every path that sends (a booked visit, the day-before reminder, a
repurchase wave, a person typing a message) must pass the same checks in the same
order: the suppression list, consent where ``[privacy]`` requires it, frequency caps for promotional text, the sending window,
then the outbox row. Nothing is submitted that is not first in the outbox.

Exactly once: each part is marked ``sending`` (committed) before submit_sm and ``sent``
with the gateway's id after. A gateway outage before the submit only delays the part.
A submit that got no answer, or a crash between the two commits, leaves the part in
``sending``: the message is flagged ambiguous and NOT resent; the delivery receipt
(matched by number + our client reference) reconciles it. See docs/sms.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType

from dialer.clock import Clock
from dialer.domain.access.dealers import MAIN_DEALER_ID, DealerScope
from dialer.domain.leads.deadlines import DueKind, DueRules
from dialer.domain.leads.errors import LeadNotFound
from dialer.domain.leads.model import Lead, LeadState
from dialer.domain.privacy.policy import ConsentPolicy
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.domain.sms import cadence
from dialer.domain.sms.driver import Inbound, OutPart, Receipt, SmsDriver
from dialer.domain.sms.encoding import segment
from dialer.domain.sms.errors import GatewayUnavailable, MessageRefused, SmsConfigError, SubmitAmbiguous, SubmitRejected
from dialer.domain.sms.rules import CAP_WEEK, ReplyKind, SendRules
from dialer.domain.sms.templates import Template, TemplateBook
from dialer.logs import get_logger
from dialer.phone import DialFormat, InvalidPhone, dial_string, normalize
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.errors import StoreError
from dialer.store.leads import LeadStore
from dialer.store.sms import BaseCustomer, NewMessage, OutboxMessage, SmsStore, WaveRow
from dialer.store.suppressions import SuppressionStore
from dialer.store.users import UserStore
from dialer.tasks import TaskHealth, supervised, wait_event

log = get_logger(__name__)

ACTOR = "sms"
# The template names the lead flow uses (config/sms_templates.toml must define them).
VISIT_CONFIRMATION = "visit_confirmation"
VISIT_CONSULTANT = "visit_consultant"
VISIT_REMINDER = "visit_reminder"
LEAD_FLOW_TEMPLATES = (VISIT_CONFIRMATION, VISIT_CONSULTANT, VISIT_REMINDER)
# The messages a customer answers about their booked visit: "1" confirms it, "不需要" calls it off.
_ABOUT_VISIT = frozenset({VISIT_CONFIRMATION, VISIT_REMINDER})
# How much of an opt-out reply the suppression entry quotes ("退订" fits; a whole letter does not).
_REPLY_IN_REASON = 60


@dataclass(frozen=True, slots=True)
class Queued:
    """A message in the outbox: ``created`` is False when the same cause had queued it already."""

    message_id: int
    created: bool
    parts: int
    not_before: datetime


@dataclass(frozen=True, slots=True)
class Draft:
    """A message that passed every rule, rendered, not yet in the outbox (the console's preview)."""

    to_e164: str
    body: str
    coding: int
    parts: int
    promotional: bool
    template: str | None
    lead_id: int | None
    not_before: datetime


@dataclass(frozen=True, slots=True)
class WaveSelection:
    """Which base customers a repurchase wave goes to, and the model it promotes."""

    promote_model: str
    models: tuple[str, ...] = ()  # current car or model of interest; empty: any
    min_car_age_years: float | None = None
    max_car_age_years: float | None = None
    limit: int | None = None

    def matches(self, customer: BaseCustomer, today: date) -> bool:
        """True if the customer is in the target group (a car of unknown age never matches an age filter)."""
        if self.models and not ({customer.current_car, customer.model} & set(self.models)):
            return False
        if self.min_car_age_years is None and self.max_car_age_years is None:
            return True
        if customer.purchase_date is None:
            return False
        age = (today - customer.purchase_date).days / 365.25
        return (self.min_car_age_years is None or age >= self.min_car_age_years) and (
            self.max_car_age_years is None or age <= self.max_car_age_years
        )

    def as_json(self) -> dict[str, object]:
        """The selection as stored with the wave."""
        return {
            "promote_model": self.promote_model,
            "models": list(self.models),
            "min_car_age_years": self.min_car_age_years,
            "max_car_age_years": self.max_car_age_years,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class WaveReport:
    """What starting a wave did."""

    wave_id: int
    selected: int
    queued: int
    parts: int
    refused: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class WavePreview:
    """Who a wave would go to now: ``selected`` customers, ``recipients`` of them the rules let through,
    and each one ``refused`` with the reason."""

    selected: int
    recipients: int
    refused: tuple[tuple[BaseCustomer, str], ...]


def _wave_values(customer: BaseCustomer, selection: WaveSelection) -> dict[str, str]:
    """A wave's template values for one customer."""
    return {"customer": customer.name, "model": selection.promote_model, "consultant": customer.owner or ""}


@dataclass(frozen=True, slots=True)
class ReplyResult:
    """What an inbound SMS was taken to mean."""

    inbound_id: int
    kind: ReplyKind
    lead_id: int | None
    reply_to: int | None
    call_task: bool


def _mobile(lead: Lead) -> str:
    """The lead's first mobile number: the one an SMS goes to."""
    mobile = next((p.e164 for p in lead.phones if p.kind.value == "mobile"), None)
    if mobile is None:
        raise MessageRefused(f"lead {lead.id} has no mobile number")
    return mobile


class SmsService:
    """Queues, sends and receives SMS; the composition root builds one per process."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        templates: TemplateBook,
        driver: SmsDriver | None = None,
        *,
        rng: random.Random | None = None,
        on_visit_declined: Callable[[int, str], Awaitable[object]] | None = None,
        dealer_id: int = MAIN_DEALER_ID,
    ) -> None:
        """``on_visit_declined(lead_id, reply)`` calls a booked visit off when its customer declines it
        by SMS (the composition root gives the DOSS service's, so DOSS hears it). ``dealer_id``: this
        node's dealer, whose messages, waves, replies and reminders this service works."""
        self._own = DealerScope.of(dealer_id)
        self._on_visit_declined = on_visit_declined
        self._cfg = settings.sms
        self._settings = settings
        self._clock = clock
        self._book = templates
        self._driver = driver
        self._rng = rng or random.Random()
        self.rules = SendRules.from_settings(settings.sms, settings.dealer.timezone)
        self.store = SmsStore(db, dealer_id=dealer_id)
        self.suppressions = SuppressionStore(db, dealer_id=dealer_id)
        self._consent = ConsentPolicy.from_settings(settings.privacy)
        self.leads = LeadStore(db, DueRules(settings.leads, self.rules.tz), clock, dealer_id=dealer_id)
        self._users = UserStore(db)
        self._segmenting = settings.sms.driver == "smpp"
        missing = [name for name in LEAD_FLOW_TEMPLATES if name not in templates.templates]
        if missing:
            raise SmsConfigError(f"SMS templates missing for the lead flow: {', '.join(missing)}")

    @property
    def on_visit_declined(self) -> Callable[[int, str], Awaitable[object]] | None:
        """The hook that calls a visit off (given to the other SMS services over the same store)."""
        return self._on_visit_declined

    # -- queueing --------------------------------------------------------------------------------

    async def check(
        self,
        to: str,
        *,
        template: str | None = None,
        values: Mapping[str, str] | None = None,
        text: str | None = None,
        lead_id: int | None = None,
    ) -> Draft:
        """Every rule a message must pass, in order, and the text it would have; nothing is written.

        The suppression list, consent where ``[privacy]`` requires it, the frequency caps for promotional
        text; the sending window only sets ``not_before``. Raises :class:`MessageRefused` (with the
        reason) when the message may not go out, :class:`SmsConfigError` for an unknown template or a
        value it needs and does not have.
        """
        now = self._clock.now()
        try:
            e164 = normalize(to, self._settings.dealer.region).e164
        except InvalidPhone as exc:
            raise MessageRefused(f"cannot send to {to!r}: {exc.reason}") from None
        if (template is None) == (text is None):
            raise ValueError("give either a template or a text")
        lead = await self.lead_for(lead_id, e164)
        entry = await self.suppressions.active(e164)
        if entry is not None:
            raise MessageRefused(f"the number is on the suppression list ({entry.source.value}: {entry.reason})")
        promotional = False
        if template is not None:
            promotional = self._book.get(template).promotional
            body = self._book.render(template, {"dealer": self._settings.dealer.name, **(values or {})})
        else:
            assert text is not None, "checked above: a template or a text"
            body = text if text.startswith(self._book.signature) else f"{self._book.signature}{text}"
        # Consent is the customer's: a number no lead owns (a consultant's) is not held to it.
        if lead is not None and lead.consent is not True and self._consent.sms_needs_consent(promotional):
            raise MessageRefused(f"lead {lead.id} has not consented to this SMS ([privacy] consent_required_for)")
        if promotional:
            reason = self.rules.cap_reason(now, await self.store.promo_times(e164, now - CAP_WEEK))
            if reason is not None:
                raise MessageRefused(reason)
        seg = segment(body, 0)
        parts = len(seg.parts) if self._segmenting else 1
        return Draft(
            e164, body, int(seg.coding), parts, promotional, template, lead.id if lead else None,
            self.rules.next_send_time(now),
        )  # fmt: skip

    async def queue(
        self,
        to: str,
        *,
        template: str | None = None,
        values: Mapping[str, str] | None = None,
        text: str | None = None,
        lead_id: int | None = None,
        wave_id: int | None = None,
        dedupe_key: str | None = None,
        actor: str = ACTOR,
    ) -> Queued:
        """Check consent, caps and window (:meth:`check`), render, and write the message to the outbox.

        Either ``template`` (+ ``values``) or free ``text`` (a person's message; never promotional).
        Raises :class:`MessageRefused` (with the reason) when the message may not go out.
        """
        draft = await self.check(to, template=template, values=values, text=text, lead_id=lead_id)
        msg = NewMessage(
            draft.to_e164,
            draft.body,
            draft.coding,
            draft.parts,
            draft.promotional,
            template,
            draft.lead_id,
            wave_id,
            dedupe_key,
            actor,
            draft.not_before,
        )
        message_id, created = await self.store.add_message(msg, self._clock.now())
        if created:
            log.info(
                "sms.queued",
                message_id=message_id,
                to=draft.to_e164,
                template=template,
                parts=msg.parts,
                not_before=draft.not_before.isoformat(),
            )
        return Queued(message_id, created, msg.parts, draft.not_before)

    async def lead_for(self, lead_id: int | None, e164: str) -> Lead | None:
        if lead_id is None:
            return await self.leads.find_by_phone(e164)
        try:
            return await self.leads.get(lead_id)
        except LeadNotFound:
            raise MessageRefused(f"lead {lead_id} does not exist") from None

    # -- the lead flow: booked visits and reminders ---------------------------------------------

    async def confirm_visit(self, lead_id: int, actor: str = ACTOR) -> list[Queued]:
        """A visit was booked: the confirmation to the customer and the notice to the consultant, the
        lead's owner (their own mobile, ``users.mobile``). The customer's confirmation never waits on the
        consultant: without their mobile it gives the showroom's number and only the notice is skipped.

        Idempotent per lead and visit time, so the DOSS disposition flow may call it again safely.
        """
        lead, values, mobile, consultant_phone = await self._visit_values(lead_id)
        stamp = lead.visit_at.isoformat() if lead.visit_at else ""
        sent = [
            await self.queue(
                mobile,
                template=VISIT_CONFIRMATION,
                values=values,
                lead_id=lead.id,
                dedupe_key=f"visit:{lead.id}:{stamp}:customer",
                actor=actor,
            )
        ]
        if consultant_phone:
            sent.append(
                await self.queue(
                    consultant_phone,
                    template=VISIT_CONSULTANT,
                    values=values,
                    dedupe_key=f"visit:{lead.id}:{stamp}:consultant",
                    actor=actor,
                )
            )
        else:
            log.warning("sms.consultant_unknown", lead_id=lead.id, consultant=lead.owner)
        return sent

    async def remind_visit(self, lead_id: int, actor: str = ACTOR) -> Queued:
        """The day-before reminder asking the customer to confirm; marks the lead's reminder done."""
        lead, values, mobile, _ = await self._visit_values(lead_id)
        stamp = lead.visit_at.isoformat() if lead.visit_at else ""
        queued = await self.queue(
            mobile,
            template=VISIT_REMINDER,
            values=values,
            lead_id=lead.id,
            dedupe_key=f"visit:{lead.id}:{stamp}:reminder",
            actor=actor,
        )
        await self.leads.record_visit_reminder(lead.id, self._clock.now(), actor)
        return queued

    async def send_reminders(self, day: date | None = None, actor: str = ACTOR) -> tuple[list[Queued], dict[int, str]]:
        """Remind every visit booked on ``day`` (default: tomorrow, dealer time). Returns queued and refused by lead."""
        tz = self.rules.tz
        day = day or (
            self._clock.now().astimezone(tz).date() + timedelta(days=self._settings.leads.visit_reminder_days_before)
        )
        start = datetime.combine(day, time(), tz)
        queued: list[Queued] = []
        refused: dict[int, str] = {}
        for lead_id in await self.store.visits_between(start, start + timedelta(days=1)):
            try:
                queued.append(await self.remind_visit(lead_id, actor))
            except (MessageRefused, SmsConfigError) as exc:
                refused[lead_id] = str(exc)
        return queued, refused

    async def remind_due(self, actor: str = ACTOR) -> int:
        """Send every visit reminder whose time has come (the lead's ``visit_reminder`` deadline): the worker's
        round does this, so reminders need no cron. A reminder that cannot go (no mobile, opted out) is
        logged and marked done, so the confirmation call (``visit_unconfirmed``) takes over. Returns how many
        were queued."""
        sent = 0
        await self.leads.refresh_due()  # a visit that began unreminded gets no reminder: its no-show call is due
        for lead in await self.leads.due(self._clock.now(), kind=DueKind.VISIT_REMINDER):
            try:
                await self.remind_visit(lead.id, actor)
                sent += 1
            except (MessageRefused, SmsConfigError) as exc:
                log.warning("sms.visit_reminder_not_sent", lead_id=lead.id, reason=str(exc))
                await self.leads.record_visit_reminder(lead.id, self._clock.now(), actor, not_sent=str(exc))
        return sent

    async def _visit_values(self, lead_id: int) -> tuple[Lead, dict[str, str], str, str | None]:
        """The lead, its template values, the customer's mobile and the consultant's (None: unknown)."""
        try:
            lead = await self.leads.get(lead_id)
        except LeadNotFound:
            raise MessageRefused(f"lead {lead_id} does not exist") from None
        if lead.visit_at is None:
            raise MessageRefused(f"lead {lead_id} has no booked visit")
        mobile = _mobile(lead)
        values, consultant_mobile = await self._lead_values(lead)
        return lead, values, mobile, consultant_mobile

    async def _lead_values(self, lead: Lead) -> tuple[dict[str, str], str | None]:
        """The template values a lead gives (the visit's date and time when one is booked), and its
        consultant's mobile (None: unknown)."""
        values = {"customer": lead.name, "model": lead.model or lead.current_car or ""}
        if lead.visit_at is not None:
            local = lead.visit_at.astimezone(self.rules.tz)
            values |= {"date": f"{local.month}月{local.day}日", "time": local.strftime("%H:%M")}
        # The owner is an agent identity; the customer reads the person's login name and gets their mobile, or
        # (no owner, no mobile) the dealer's name and the showroom's number (TemplateBook.phone). The identity
        # is the lead's dealer's: another showroom may have an agent of the same name.
        consultant = None if lead.owner is None else await self._users.by_agent(lead.owner, lead.dealer_id)
        values["consultant"] = consultant.name if consultant else self._settings.dealer.name
        if consultant is not None and consultant.mobile:
            values["consultant_phone"] = dial_string(consultant.mobile, DialFormat.NATIONAL)  # as customers dial it
        return values, None if consultant is None else consultant.mobile

    # -- one lead, from the console -------------------------------------------------------------

    def customer_templates(self) -> list[Template]:
        """The templates a person may send a lead's customer: all but the notice meant for the consultant."""
        return [t for name, t in sorted(self._book.templates.items()) if name != VISIT_CONSULTANT]

    async def draft_for_lead(self, lead_id: int, template: str) -> Draft:
        """The message ``template`` would be for the lead's mobile, filled from the lead, after every rule
        :meth:`check` applies. Raises :class:`MessageRefused` or :class:`SmsConfigError` naming why not."""
        return (await self._lead_draft(lead_id, template))[0]

    async def send_to_lead(self, lead_id: int, template: str, actor: str) -> Queued:
        """Queue ``template`` to the lead's mobile (the rules of :meth:`check`) and write the send into the
        lead's history (kind ``sms``: message id, template, parts, when it may go out)."""
        draft, values = await self._lead_draft(lead_id, template)
        queued = await self.queue(draft.to_e164, template=template, values=values, lead_id=lead_id, actor=actor)
        if queued.created:
            data = {"message_id": queued.message_id, "template": template, "parts": queued.parts,
                    "not_before": queued.not_before.isoformat()}  # fmt: skip
            await self.leads.record_sms(lead_id, self._clock.now(), actor, data)
        return queued

    async def _lead_draft(self, lead_id: int, template: str) -> tuple[Draft, dict[str, str]]:
        if template not in {t.name for t in self.customer_templates()}:
            raise SmsConfigError(f"SMS template {template!r} is not one to send a customer")
        try:
            lead = await self.leads.get(lead_id)
        except LeadNotFound:
            raise MessageRefused(f"lead {lead_id} does not exist") from None
        values, _ = await self._lead_values(lead)
        return await self.check(_mobile(lead), template=template, values=values, lead_id=lead.id), values

    # -- repurchase waves -----------------------------------------------------------------------

    def _cadence_rules(self, wave: WaveRow) -> cadence.CadenceRules:
        return cadence.CadenceRules(
            timedelta(hours=wave.wait_hours),
            wave.min_reply_rate,
            cadence.Handoff(wave.handoff),
            self._cfg.interested_priority,
            self._cfg.handoff_priority,
        )

    async def start_wave(
        self,
        name: str,
        template: str,
        selection: WaveSelection,
        *,
        actor: str = ACTOR,
        wait_hours: float | None = None,
        min_reply_rate: float | None = None,
        handoff: str | None = None,
    ) -> WaveReport:
        """Select base customers, queue the wave's SMS, and start the reply window."""
        now = self._clock.now()
        self._book.get(template)
        handoff = cadence.Handoff(handoff or self._cfg.cadence_handoff).value
        chosen = await self._wave_customers(selection)
        wave_id = await self.store.add_wave(
            name,
            template,
            selection.as_json(),
            self._cfg.cadence_wait_hours if wait_hours is None else wait_hours,
            self._cfg.cadence_min_reply_rate if min_reply_rate is None else min_reply_rate,
            handoff,
            actor,
            now,
        )
        refused: dict[str, int] = {}
        queued = parts = 0
        for customer in chosen:
            try:
                q = await self.queue(
                    customer.mobile,
                    template=template,
                    values=_wave_values(customer, selection),
                    lead_id=customer.lead_id,
                    wave_id=wave_id,
                    dedupe_key=f"wave:{wave_id}:lead:{customer.lead_id}",
                    actor=actor,
                )
            except (MessageRefused, SmsConfigError) as exc:  # e.g. a {consultant} for a customer without one
                refused[str(exc)] = refused.get(str(exc), 0) + 1
                continue
            queued += 1
            parts += q.parts
        wave = await self.store.wave(wave_id)
        assert wave is not None
        # The machine answers WaveSent with DecideAt(decide_at); the state carries the same instant.
        state, _ = cadence.step(await self._wave_state(wave), cadence.WaveSent(now), self._cadence_rules(wave))
        await self.store.update_wave(wave_id, state.phase.value, sent_at=now, decide_at=state.decide_at)
        log.info(
            "sms.wave_started",
            wave_id=wave_id,
            selected=len(chosen),
            queued=queued,
            parts=parts,
            refused=sum(refused.values()),
        )
        return WaveReport(wave_id, len(chosen), queued, parts, MappingProxyType(refused))

    async def preview_wave(self, template: str, selection: WaveSelection) -> WavePreview:
        """Who :meth:`start_wave` would send to now: the customers it selects, less those the rules of
        :meth:`check` refuse (no consent, over the caps), and the customers of the selection whose mobiles
        are all on the suppression list (never selected); each refused one with why. Nothing is written."""
        self._book.get(template)
        chosen = await self._wave_customers(selection)
        unlimited = dataclasses.replace(selection, limit=None)
        free = {c.lead_id for c in await self._wave_customers(unlimited)}
        suppressed = [
            c for c in await self._wave_customers(unlimited, include_suppressed=True) if c.lead_id not in free
        ]
        refused: list[tuple[BaseCustomer, str]] = []
        for customer in suppressed + chosen:
            try:
                await self.check(
                    customer.mobile,
                    template=template,
                    values=_wave_values(customer, selection),
                    lead_id=customer.lead_id,
                )
            except (MessageRefused, SmsConfigError) as exc:
                refused.append((customer, str(exc)))
        selected = len(suppressed) + len(chosen)
        return WavePreview(selected, selected - len(refused), tuple(refused))

    async def _wave_customers(
        self, selection: WaveSelection, *, include_suppressed: bool = False
    ) -> list[BaseCustomer]:
        today = self._clock.now().astimezone(self.rules.tz).date()
        found = await self.store.base_customers(include_suppressed=include_suppressed)
        chosen = [c for c in found if selection.matches(c, today)]
        return chosen if selection.limit is None else chosen[: selection.limit]

    async def _wave_state(self, wave: WaveRow) -> cadence.WaveState:
        """Rebuild the cadence state from the store by replaying the wave's replies through the machine."""
        rules = self._cadence_rules(wave)
        state = cadence.WaveState(
            cadence.Phase(wave.phase),
            frozenset(await self.store.wave_members(wave.id)),
            decide_at=wave.decide_at,
            reply_rate=wave.reply_rate,
        )
        for lead_id, kind, at in await self.store.wave_replies(wave.id):
            state, _ = cadence.step(state, cadence.ReplyReceived(lead_id, ReplyKind(kind), at), rules)
        return state

    async def tick_waves(self) -> list[tuple[int, cadence.Decided]]:
        """Decide every wave whose reply window is over: close it, or hand its segment to calling."""
        now = self._clock.now()
        decided: list[tuple[int, cadence.Decided]] = []
        for wave in await self.store.waves(phase=cadence.Phase.WAITING.value, dealers=self._own):
            _, decisions = cadence.step(await self._wave_state(wave), cadence.Tick(now), self._cadence_rules(wave))
            await self._apply(decisions, wave.id, now)
            for d in decisions:
                if isinstance(d, cadence.Decided):
                    await self.store.update_wave(wave.id, d.phase.value, decided_at=now, reply_rate=d.reply_rate)
                    decided.append((wave.id, d))
                    log.info(
                        "sms.wave_decided",
                        wave_id=wave.id,
                        phase=d.phase.value,
                        reply_rate=round(d.reply_rate, 4),
                        handed_off=d.handed_off,
                    )
        return decided

    async def _apply(self, decisions: Sequence[cadence.CadenceDecision], wave_id: int | None, now: datetime) -> int:
        tasks = [(d.lead_id, d.priority, d.reason) for d in decisions if isinstance(d, cadence.CallTask)]
        # Calls start when calls may start: the hopper applies the calling windows itself.
        return await self.store.add_call_tasks(tasks, now, wave_id, now) if tasks else 0

    # -- the outbox ------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Call once before sending: parts interrupted mid-submit by a crash become ambiguous."""
        flagged = await self.store.recover(self._clock.now())
        if flagged:
            log.warning("sms.recovered_ambiguous", messages=flagged)
        return flagged

    async def send_ready(self) -> int:
        """Submit every message whose time has come; returns how many parts the gateway took."""
        if self._driver is None:
            raise SmsConfigError("no SMS driver configured")
        messages = await self.store.ready(self._clock.now(), self._cfg.batch_size)
        gate = asyncio.Semaphore(self._cfg.smpp_window)

        async def one(msg: OutboxMessage) -> int:
            async with gate:
                return await self._send(msg)

        return sum(await asyncio.gather(*(one(m) for m in messages)))

    async def _send(self, msg: OutboxMessage) -> int:
        assert self._driver is not None
        now = self._clock.now()
        if self.rules.next_send_time(now) != now:
            await self.store.defer(msg.id, self.rules.next_send_time(now), now)
            return 0
        if await self.suppressions.active(msg.to_e164) is not None:
            await self.store.mark_dead(msg.id, "the number went on the suppression list before it was sent", now)
            return 0
        seg = segment(msg.body, msg.id & 0xFF)
        payloads = seg.parts if self._segmenting else (msg.body.encode("utf-8"),)
        taken = 0
        for part in await self.store.parts(msg.id):
            if part.status != "queued":
                continue
            out = OutPart(
                msg.id,
                part.seq,
                msg.parts,
                msg.to_e164,
                payloads[part.seq - 1],
                int(seg.coding),
                part.client_ref,
                msg.body,
            )
            if not await self.store.mark_sending(msg.id, part.seq, self._clock.now()):
                return taken  # another worker claimed it
            try:
                smsc_id = await self._driver.submit(out)
            except GatewayUnavailable as exc:
                await self.store.release(
                    msg.id, part.seq, str(exc), self._clock.now(), self._clock.now(), count=False, dead=False
                )
                return taken
            except SubmitRejected as exc:
                attempts = msg.attempts + 1
                dead = attempts >= self._cfg.max_attempts
                retry = self._clock.now() + timedelta(seconds=self._backoff(attempts))
                await self.store.release(msg.id, part.seq, str(exc), retry, self._clock.now(), count=True, dead=dead)
                log.warning("sms.refused", message_id=msg.id, part=part.seq, status=exc.status, dead=dead)
                return taken
            except SubmitAmbiguous as exc:
                await self.store.mark_ambiguous(msg.id, str(exc), self._clock.now())
                log.warning("sms.ambiguous", message_id=msg.id, part=part.seq, error=str(exc))
                return taken
            await self.store.mark_sent(msg.id, part.seq, smsc_id, self._clock.now())
            taken += 1
        return taken

    def _backoff(self, attempts: int) -> float:
        """Full-jitter exponential backoff: spreads retries after a gateway hiccup."""
        cap = min(self._cfg.backoff_max_s, self._cfg.backoff_base_s * 2 ** (attempts - 1))
        return self._rng.uniform(cap / 2, cap)

    async def requeue_stale_ambiguous(self) -> int:
        """Resend ambiguous messages no receipt confirmed, if the dealer configured a limit (else none)."""
        after = self._cfg.ambiguous_resend_after_s
        if after is None:
            return 0
        now = self._clock.now()
        return await self.store.requeue_ambiguous(now - timedelta(seconds=after), now)

    # -- what comes back --------------------------------------------------------------------------

    async def on_receipt(self, receipt: Receipt) -> int | None:
        """A delivery receipt: update its part; it also reconciles an ambiguous submit."""
        handset = self._e164(receipt.handset)
        message_id = await self.store.apply_receipt(
            receipt.smsc_id, handset, receipt.client_ref, receipt.delivered, receipt.state, self._clock.now()
        )
        if message_id is None:
            log.warning("sms.receipt_unmatched", smsc_id=receipt.smsc_id, handset=handset, state=receipt.state)
        return message_id

    async def on_inbound(self, inbound: Inbound) -> ReplyResult:
        """A customer's SMS: match it (number, latest message to it), keep it, act on opt-out / interest."""
        now = self._clock.now()
        sender = self._e164(inbound.sender)
        lead = await self.leads.find_by_phone(sender)
        latest = await self.store.latest_outbound(sender, now - timedelta(days=self._cfg.reply_match_days))
        lead_id = lead.id if lead is not None else (latest.lead_id if latest is not None else None)
        # An answer to a visit's own messages: "1" confirms it, "不需要" calls it off (never an opt-out).
        about_visit = latest is not None and latest.template in _ABOUT_VISIT
        kind = self.rules.classify(inbound.text, about_visit=about_visit)
        reply_to = latest.id if latest is not None else None
        wave = await self.store.wave(latest.wave_id) if latest is not None and latest.wave_id is not None else None
        # The wave as it was before this reply: the machine decides what a first "1" means.
        before = await self._wave_state(wave) if wave is not None else None
        inbound_id = await self.store.add_inbound(now, sender, inbound.text, kind.value, lead_id, reply_to)
        task = False
        if about_visit and lead is not None and kind in (ReplyKind.INTERESTED, ReplyKind.DECLINED):
            await self._visit_answer(lead, kind, inbound.text, now)
        elif kind is ReplyKind.OPT_OUT:
            # The person asked: the number they wrote from and every number of their lead.
            reason = f"SMS reply {inbound.text[:_REPLY_IN_REASON]!r}"
            if lead_id is None:
                await self.suppressions.add(sender, reason, SuppressionSource.SMS_REPLY, now, ACTOR)
            else:
                await self.suppressions.add_lead(lead_id, reason, SuppressionSource.SMS_REPLY, now, ACTOR, sender)
                await self.leads.record_suppression(
                    lead_id, now, ACTOR, {"source": SuppressionSource.SMS_REPLY.value, "reason": reason}
                )
        elif kind is ReplyKind.INTERESTED and lead_id is not None and await self._wants_call(lead_id, latest):
            if wave is not None and before is not None:
                _, decisions = cadence.step(
                    before, cadence.ReplyReceived(lead_id, kind, now), self._cadence_rules(wave)
                )
                task = await self._apply(decisions, wave.id, now) > 0
            else:
                task = (
                    await self.store.add_call_tasks(
                        [(lead_id, self._cfg.interested_priority, "sms_interested")], now, None, now
                    )
                    > 0
                )
        log.info(
            "sms.inbound",
            inbound_id=inbound_id,
            sender=sender,
            kind=kind.value,
            lead_id=lead_id,
            reply_to=reply_to,
            call_task=task,
        )
        return ReplyResult(inbound_id, kind, lead_id, reply_to, task)

    async def _wants_call(self, lead_id: int, latest: OutboxMessage | None) -> bool:
        """An interested reply asks for a call, except "1" to a visit's messages: that confirms the visit."""
        if latest is not None and latest.template in _ABOUT_VISIT:
            return False
        return (await self.leads.get(lead_id)).opt_out_at is None  # every number suppressed: no call either

    async def _visit_answer(self, lead: Lead, kind: ReplyKind, text: str, now: datetime) -> None:
        """The customer confirmed the booked visit, or called it off (back to follow-up, not an opt-out).
        A late answer, once the visit is no longer booked (visited, called off), is only kept."""
        if lead.state is not LeadState.INVITED or lead.visit_at is None:
            log.info("sms.visit_answer_late", lead_id=lead.id, kind=kind.value, state=lead.state.value)
        elif kind is ReplyKind.INTERESTED:
            await self.leads.record_visit_confirmed(lead.id, now, ACTOR, text)
            log.info("sms.visit_confirmed", lead_id=lead.id)
        elif self._on_visit_declined is None:
            log.error("sms.visit_decline_unhandled", lead_id=lead.id)
        else:
            await self._on_visit_declined(lead.id, text)
            log.info("sms.visit_declined", lead_id=lead.id)

    def _e164(self, raw: str) -> str:
        try:
            return normalize(raw, self._settings.dealer.region).e164
        except InvalidPhone:
            return raw

    # -- the worker ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, health: TaskHealth) -> None:
        """Run until ``stop``: queue the visit reminders due, send the outbox, take receipts and replies,
        decide waves.

        The receipts and replies are taken by a listener supervised beside the sending loop: if it
        dies it is counted in ``health`` and started again, never left dead while sending goes on.
        """
        if self._driver is None:
            raise SmsConfigError("no SMS driver configured")
        await self._driver.start()
        await self.recover()
        listener = asyncio.create_task(supervised("sms-listen", self._listen, health), name="sms-listen")
        try:
            while not stop.is_set():
                sent = 0
                try:
                    if self._driver.connected:
                        sent = await self.send_ready()
                    await self.remind_due()
                    await self.tick_waves()
                    await self.requeue_stale_ambiguous()
                except StoreError as exc:  # e.g. the database busy for a moment: the outbox keeps everything
                    log.error("sms.worker_round_failed", error=str(exc))
                if not sent:
                    await wait_event(stop, self._cfg.idle_poll_s)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self._driver.close()

    async def _listen(self) -> None:
        assert self._driver is not None
        async for event in self._driver.events():
            try:
                if isinstance(event, Receipt):
                    await self.on_receipt(event)
                else:
                    await self.on_inbound(event)
            except Exception as exc:  # one bad event must not stop receipts and replies for everyone
                log.error("sms.event_failed", error=str(exc), kind=type(event).__name__)
