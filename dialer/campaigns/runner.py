"""The campaign runner: pacing decides how many calls, the hopper which leads, agents take the answered ones.

One runner drives one running campaign against the PBX through :class:`CallService`.
Its loop, every ``tick_s`` or as soon as a call ends:

1. read the campaign's status: only ``running`` dials (so ``pause`` and ``stop`` take effect
   before the next dial and never cut a live call);
2. end wrap-ups that timed out;
3. ask pacing for "dial N now" from a snapshot of agents, live calls and lines;
4. take N claimed picks from the hopper and start a call for each.

Each call, when it ends: the hopper records the result (retry policy), pacing learns from it,
the lead's history and DOSS change are written (``no_contact`` for calls no agent talked in;
the agent's own disposition for the others), and the agent goes to wrap-up.

Preview mode (docs/campaigns.md, "Preview mode"): instead of dialling straight away the runner
offers each available agent one claimed lead (:class:`PreviewOffered` on the bus); the agent
accepts it (:meth:`CampaignRunner.accept_preview`: the call goes out, when a line is free, to
that agent and nobody else) or skips it (:meth:`CampaignRunner.skip_preview`: the claim is
released and the agent gets the next lead). An offer nobody answers within
``campaigns.preview_timeout_s`` is released the same way, and every open offer is released when
the campaign stops dialling. Offers live only in the runner: after a crash ``Hopper.recover``
releases their claims, since no attempt was made for them.

Agents and the desk: which agents take calls follows their phone presence
(:mod:`dialer.campaigns.presence`: logged out, available, paused), read at start and on every
loop; a runner without a presence reader has every listed agent logged in and available. The
desk learns about this agent's calls from the bus: :class:`AgentCallConnected` when a customer
is put through, :class:`WrapUpStarted` when the talk ends and a disposition is owed (with its
deadline), :class:`WrapUpEnded` when it is filed (:meth:`CampaignRunner.submit_disposition`),
timed out, or the agent's phone never took the call.

Crash safety comes from the parts: the attempt row is committed before the Originate, the
hopper's claim survives a restart, ``CallService.recover`` settles attempts the crash left in
flight, and ``Hopper.recover`` then settles or releases their claims, so no lead is dialled
twice because of a crash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from dialer.actors import SYSTEM_ACTOR
from dialer.campaigns.hopper import Hopper
from dialer.clock import Clock
from dialer.domain.access.dealers import DealerScope
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentRoster, AgentState, Transition, TransitionCause
from dialer.domain.campaigns.engine import CampaignEngine
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command, IllegalCampaignTransition
from dialer.domain.campaigns.pacing import PacingMode, make_pacer
from dialer.domain.campaigns.policy import CampaignRules
from dialer.domain.campaigns.presence import PresenceReader, default_presence, reconcile
from dialer.domain.campaigns.progress import CampaignRepository, LeadProgress, Pick, ProgressStatus
from dialer.domain.campaigns.stats import AbandonmentHistory, AbandonTally, PacingStats, window_since
from dialer.domain.doss.mapping import Disposition, DispositionForm, FormField
from dialer.doss.service import DossService
from dialer.events.bus import BusEvent, EventBus
from dialer.logs import get_logger
from dialer.phone import Phone, normalize
from dialer.settings import Settings
from dialer.store.leads import LeadStore
from dialer.store.leases import NodeLease
from dialer.tasks import BackgroundTasks, wait_event
from dialer.telephony.calls import CallService

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WrapUp:
    """An agent's talk ended: the desk (or a simulated agent) now owes a disposition."""

    campaign_id: int
    agent: str
    lead_id: int
    attempt: Attempt
    ends_at: datetime  # when the runner gives up waiting (campaigns.wrap_up_timeout_s after the hang-up)


WrapUpHandler = Callable[[WrapUp], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one :meth:`CampaignRunner.run` did."""

    campaign_id: int
    status: CampaignStatus
    dialled: int
    outcomes: dict[Outcome, int]
    failures: int  # calls whose after-call bookkeeping raised (logged with the error)


class PreviewRefused(CampaignError):
    """An accept or skip that does not fit the agent's current offer (none, already accepted, expired)."""


class OfferEnd(StrEnum):
    """Why a preview offer ended without a call; logged and sent to the desk so it clears the card."""

    SKIPPED = "skipped"  # the agent chose not to call this lead now
    TIMED_OUT = "timed_out"  # no answer within campaigns.preview_timeout_s
    NOT_RUNNING = "not_running"  # the campaign was paused or stopped
    AGENT_AWAY = "agent_away"  # the agent paused or logged out of the phone


@dataclass(frozen=True, slots=True)
class PreviewOffer:
    """A claimed lead on one agent's screen, waiting for Accept or Skip (``accepted_at`` set once accepted)."""

    campaign_id: int
    agent: str
    pick: Pick
    offered_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None

    @property
    def lead_id(self) -> int:
        """The offered lead."""
        return self.pick.lead_id


@dataclass(frozen=True, slots=True)
class PreviewOffered(BusEvent):
    """A preview campaign put a lead on an agent's desk; the console shows that agent its card."""

    campaign_id: int
    agent: str
    lead_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PreviewWithdrawn(BusEvent):
    """An offer ended without a call (skip, timeout, campaign paused); the console clears the card."""

    campaign_id: int
    agent: str
    lead_id: int
    reason: OfferEnd


class WrapUpEnd(StrEnum):
    """Why an agent's after-call work ended; the desk clears its wrap-up card either way."""

    SUBMITTED = "submitted"  # the disposition was filed
    TIMED_OUT = "timed_out"  # nothing filed within the wrap-up timeout (the contact is still recorded)
    NOT_CONNECTED = "not_connected"  # the agent was reserved, but their phone never took the call


@dataclass(frozen=True, slots=True)
class AgentCallConnected(BusEvent):
    """A campaign call is being put through to an agent: their desk pops the lead's card."""

    campaign_id: int
    agent: str
    lead_id: int
    call_id: str


@dataclass(frozen=True, slots=True)
class WrapUpStarted(BusEvent):
    """The agent's talk ended: their desk asks for the disposition of this lead before ``ends_at``."""

    campaign_id: int
    agent: str
    lead_id: int
    attempt_id: int
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class WrapUpEnded(BusEvent):
    """The agent's after-call work on this lead is over; they are free for the next call (unless paused)."""

    campaign_id: int
    agent: str
    lead_id: int
    reason: WrapUpEnd


class _EnginePicker:
    """Asked by the call service when the customer answers: the engine chooses the agent (see
    :meth:`CampaignEngine.answered`), and the runner tells that agent's desk."""

    def __init__(self, runner: CampaignRunner, pick: Pick, key: str) -> None:
        self._runner = runner
        self._pick = pick
        self._key = key
        self.agent: str | None = None

    def pick(self, call_id: str) -> str | None:
        now = self._runner.clock.now()
        self.agent = self._runner.engine.answered(self._key, now, owner=self._pick.owner)
        if self.agent is not None:
            self._runner.connected(self._pick, self.agent, call_id, now)
        return self.agent


class CampaignRunner:
    """Runs one campaign until it completes or a person stops it."""

    def __init__(
        self,
        *,
        campaign_id: int,
        campaigns: CampaignRepository,
        hopper: Hopper,
        calls: CallService,
        doss: DossService,
        leads: LeadStore,
        history: AbandonmentHistory,
        settings: Settings,
        clock: Clock,
        on_wrap_up: WrapUpHandler | None = None,
        bus: EventBus | None = None,
        presence: PresenceReader | None = None,
        lease: NodeLease | None = None,
        tick_s: float = 0.5,
    ) -> None:
        """``bus`` receives the preview offers and the agents' call and wrap-up events for their desks
        (a runner without one still keeps its offers, readable through :meth:`offers`). ``presence``
        decides who is logged in and paused; without it every listed agent is available. ``lease``:
        on a shared PostgreSQL, this node's lease on its PBX; once it is lost the runner stops
        (:class:`~dialer.store.leases.LeaseLost` out of :meth:`run`), dialling nothing more."""
        self.campaign_id = campaign_id
        self.clock = clock
        self._campaigns = campaigns
        self._hopper = hopper
        self._calls = calls
        self._doss = doss
        self._leads = leads
        self._history = history
        self._settings = settings
        self._on_wrap_up = on_wrap_up
        self._tick_s = tick_s
        self._wake = asyncio.Event()
        self._tasks = BackgroundTasks()
        self._dialled = 0
        self._failures = 0
        self._waiting_for_pbx = False  # the AMI link is down: nothing is dialled until it is back
        self._adopted_claims = 0  # claims whose call a previous run left live (see _prepare)
        self._outcomes: dict[Outcome, int] = {}
        # The configured defaults until _prepare() reads the campaign's own definition.
        self.engine = self._engine_for(
            PacingMode(settings.campaigns.pacing.mode), AgentRoster(settings.campaigns.wrap_up_timeout_s)
        )
        self._pending_wrap_up: dict[str, WrapUp] = {}
        self._live_lead: dict[str, int] = {}  # agent -> lead of the call they are on now
        self._submitting: set[str] = set()  # agents whose disposition is being written
        self._presence = presence
        self._lease = lease
        self._rules: CampaignRules | None = None  # the campaign's own rules, read in _prepare()
        self._caller_id: Phone | None = None  # the campaign's number shown to customers, read in _prepare()
        self._bus = bus
        self._preview_timeout = timedelta(seconds=settings.campaigns.preview_timeout_s)
        self._offers: dict[str, PreviewOffer] = {}  # agent -> offer not dialled yet
        # Offers are claimed and released across awaits; one change at a time so no agent holds two.
        self._offer_lock = asyncio.Lock()

    @property
    def roster(self) -> AgentRoster:
        """This campaign's agents and their states (the desks and the wallboard read it)."""
        return self.engine.roster

    def _engine_for(
        self, mode: PacingMode, roster: AgentRoster, history: Mapping[date, AbandonTally] | None = None
    ) -> CampaignEngine:
        stats = PacingStats(self._settings.campaigns.pacing, self.clock, self._settings.dealer.timezone, history)
        pacer = make_pacer(mode, stats, self._settings.campaigns.pacing.warmup_attempts)
        return CampaignEngine(mode, roster, stats, pacer)

    async def run(self) -> RunSummary:
        """Dial until the campaign is completed or stopped; return what was done."""
        with structlog.contextvars.bound_contextvars(campaign_id=self.campaign_id):
            if self._lease is not None:
                self._lease.check()  # before _prepare's recovery: a successor may own this PBX's claims now
            await self._prepare()
            try:
                while True:
                    if self._lease is not None:
                        self._lease.check()  # another node may be reconciling this PBX already
                    # Only this node's dealer's campaigns: another dealer's is none of this node's.
                    record = await self._campaigns.get(self.campaign_id, DealerScope.of(self._leads.dealer_id))
                    now = self.clock.now()
                    for moved in self.engine.tick(now):
                        self._wrap_up_timed_out(moved)
                    await self._apply_presence(now)
                    if self._adopted_claims:
                        # Calls a previous run left live end on their own; settle their claims then.
                        self._adopted_claims = (await self._hopper.recover(self.campaign_id, now)).in_flight
                    if record.status is CampaignStatus.RUNNING:
                        await self._dial_more(record.definition.lines, now)
                        if not self._tasks and await self._exhausted():
                            try:
                                await self._campaigns.transition(self.campaign_id, Command.COMPLETE, now, SYSTEM_ACTOR)
                                log.info("campaign.completed", dialled=self._dialled)
                            except IllegalCampaignTransition:
                                # A person paused or stopped it meanwhile: their word stands.
                                log.info("campaign.completion_overtaken", dialled=self._dialled)
                            continue
                    else:
                        await self._withdraw_offers(OfferEnd.NOT_RUNNING)
                        # Agents still owe dispositions of the last calls: the runner stays (the desk's
                        # form ends their wrap-up through it) until each is filed or times out.
                        if record.status.final and not self._tasks and not self._pending_wrap_up:
                            return RunSummary(
                                self.campaign_id, record.status, self._dialled, dict(self._outcomes), self._failures
                            )
                    self._wake.clear()
                    await wait_event(self._wake, self._tick_s)
            finally:
                await self._tasks.cancel()

    async def submit_disposition(self, agent: str, form: DispositionForm, actor: str | None = None) -> None:
        """The agent's disposition for the call they just had: writes the lead and DOSS change, ends wrap-up.

        The wrap-up stays pending until the write succeeded: a form the DOSS mapping refuses
        (a required field missing) can be corrected and sent again before the timeout."""
        wrap = self._pending_wrap_up.get(agent)
        if wrap is None:
            raise CampaignError(f"agent {agent} has no call waiting for a disposition")
        if agent in self._submitting:
            raise CampaignError(f"agent {agent}: the disposition of lead {wrap.lead_id} is already being filed")
        assert wrap.attempt.outcome is not None
        self._submitting.add(agent)
        try:
            await self._doss.record_disposition(
                wrap.lead_id, wrap.attempt.id, wrap.attempt.outcome, form, actor or agent
            )
        finally:
            self._submitting.discard(agent)
        if self._pending_wrap_up.get(agent) is wrap:
            del self._pending_wrap_up[agent]
        now = self.clock.now()
        self.engine.disposition(agent, now)
        self._publish(WrapUpEnded(now, self.campaign_id, agent, wrap.lead_id, WrapUpEnd.SUBMITTED))
        self._wake.set()

    def wrap_up_of(self, agent: str) -> WrapUp | None:
        """The call ``agent`` still owes a disposition for in this campaign, if any."""
        return self._pending_wrap_up.get(agent)

    def lead_in_hand(self, agent: str) -> int | None:
        """The lead ``agent`` is talking to now or owes a disposition for: theirs to open and file, owned or not."""
        wrap = self._pending_wrap_up.get(agent)
        return wrap.lead_id if wrap is not None else self._live_lead.get(agent)

    def connected(self, pick: Pick, agent: str, call_id: str, now: datetime) -> None:
        """A customer is being put through to ``agent`` (called by the picker at answer time)."""
        self._live_lead[agent] = pick.lead_id
        log.info("campaign.agent_connected", agent=agent, lead_id=pick.lead_id, call_id=call_id)
        self._publish(AgentCallConnected(now, self.campaign_id, agent, pick.lead_id, call_id))

    # -- preview mode ---------------------------------------------------------------------

    def offers(self) -> tuple[PreviewOffer, ...]:
        """Every offer not dialled yet (open or accepted and waiting for a line), for the desks."""
        return tuple(self._offers.values())

    def accept_preview(self, agent: str) -> PreviewOffer:
        """The agent will call the offered lead: it is dialled as soon as a line is free, to them only."""
        offer = self._open_offer(agent)
        now = self.clock.now()
        if now >= offer.expires_at:
            raise PreviewRefused(
                f"agent {agent}: the offer of lead {offer.lead_id} expired at {offer.expires_at.isoformat()}"
            )
        accepted = dataclasses.replace(offer, accepted_at=now)
        self._offers[agent] = accepted
        self.engine.accept(agent)
        log.info("campaign.preview_accepted", agent=agent, lead_id=offer.lead_id)
        self._wake.set()
        return accepted

    async def skip_preview(self, agent: str, reason: str) -> PreviewOffer:
        """The agent will not call this lead now: it goes back to the hopper (no attempt counted)
        and the agent is offered the next one. ``reason`` is the agent's own words, kept in the log."""
        if not reason.strip():
            raise PreviewRefused(f"agent {agent}: a skip needs a reason")
        async with self._offer_lock:
            offer = self._open_offer(agent)
            await self._replace_offer(offer, OfferEnd.SKIPPED, self.clock.now(), note=reason.strip())
        self._wake.set()
        return offer

    def _open_offer(self, agent: str) -> PreviewOffer:
        offer = self._offers.get(agent)
        if offer is None:
            raise PreviewRefused(f"agent {agent} has no preview offer in campaign {self.campaign_id}")
        if offer.accepted_at is not None:
            raise PreviewRefused(f"agent {agent}: lead {offer.lead_id} is already accepted and about to be dialled")
        return offer

    async def _preview(self, dial_for: tuple[str, ...], now: datetime) -> None:
        """Dial the accepted offers the engine gave lines to, end the timed-out ones, offer a lead to
        every free agent."""
        for agent in dial_for:
            offer = self._offers.pop(agent)
            self._dial(offer.pick, agent=offer.agent)
        async with self._offer_lock:
            for offer in [o for o in self._offers.values() if o.accepted_at is None and now >= o.expires_at]:
                await self._replace_offer(offer, OfferEnd.TIMED_OUT, now)
            held = self.engine.held_for_previews()
            for session in sorted(self.roster.in_state(AgentState.AVAILABLE), key=lambda s: s.since):
                busy = session.agent_id in self._offers or session.agent_id in held
                if not busy and not await self._offer(session.agent_id, now):
                    break  # nothing more to offer now (none due, window closed)

    async def _offer(self, agent: str, now: datetime) -> bool:
        """Claim the best lead for ``agent`` and put it on their desk; False when there is none."""
        picks = await self._hopper.next_batch(self.campaign_id, 1, now)
        if not picks:
            return False
        offer = PreviewOffer(self.campaign_id, agent, picks[0], now, now + self._preview_timeout)
        self._offers[agent] = offer
        log.info(
            "campaign.preview_offered", agent=agent, lead_id=offer.lead_id, expires_at=offer.expires_at.isoformat()
        )
        self._publish(PreviewOffered(now, self.campaign_id, agent, offer.lead_id, offer.expires_at))
        return True

    async def _replace_offer(self, offer: PreviewOffer, why: OfferEnd, now: datetime, note: str = "") -> None:
        """End ``offer`` and give its agent the next lead; the new one is claimed before the old is
        released, so the agent is not handed back the very lead they just passed on."""
        if self._offers.get(offer.agent) is not offer:
            return  # accepted or replaced meanwhile
        del self._offers[offer.agent]
        if self.roster.get(offer.agent).state is AgentState.AVAILABLE:
            await self._offer(offer.agent, now)
        await self._end_offer(offer, why, now, note)

    async def _withdraw_offers(self, why: OfferEnd) -> None:
        """Release every offer not dialled yet (the campaign stopped dialling)."""
        if not self._offers:
            return
        async with self._offer_lock:
            for offer in list(self._offers.values()):
                del self._offers[offer.agent]
                self.engine.withdraw(offer.agent)
                await self._end_offer(offer, why, self.clock.now())

    async def _end_offer(self, offer: PreviewOffer, why: OfferEnd, now: datetime, note: str = "") -> None:
        # No lead-history API records a non-call, so the skip and its reason live in the log.
        await self._hopper.release(self.campaign_id, offer.lead_id)
        log.info("campaign.preview_ended", agent=offer.agent, lead_id=offer.lead_id, why=why.value, note=note or None)
        self._publish(PreviewWithdrawn(now, self.campaign_id, offer.agent, offer.lead_id, why))

    # -- the loop's steps -----------------------------------------------------------------

    async def _prepare(self) -> None:
        record = await self._campaigns.get(self.campaign_id)
        d = record.definition
        now = self.clock.now()
        self.engine = self._engine_for(d.mode, AgentRoster(d.wrap_up_timeout_s), await self._abandonment_history(now))
        self._rules = self._hopper.rules(record)
        # The definition keeps its number in E.164 (validated at load); the call service formats it.
        self._caller_id = normalize(d.caller_id, self._settings.dealer.region) if d.caller_id else None
        for agent in d.agents:
            self.roster.add(agent, now)
        await self._apply_presence(now)
        recovery = await self._hopper.recover(self.campaign_id, now)
        self._adopted_claims = recovery.in_flight
        await settle_unfiled_talks(self._campaigns, self._leads, self.campaign_id)
        log.info("campaign.runner_started", agents=len(d.agents), mode=d.mode.value, recovered=recovery.settled)

    async def _abandonment_history(self, now: datetime) -> dict[date, AbandonTally]:
        """This campaign's answered and abandoned calls of the guard's window, from the store: the
        abandonment guard's day and 30-day counts survive a restart (docs/pacing.md)."""
        tz = ZoneInfo(self._settings.dealer.timezone)
        since = window_since(now, tz, self._settings.campaigns.pacing.rolling_days)
        return await self._history.abandonment_by_day(since, tz, self.campaign_id)

    async def _apply_presence(self, now: datetime) -> None:
        """Bring the roster in line with the agents' presence; an open preview offer of an agent
        who left goes back to the hopper."""
        wanted = {} if self._presence is None else await self._presence.current()
        held = self.engine.held_for_previews()
        for session in self.roster:
            offer = self._offers.get(session.agent_id)
            busy = session.agent_id in held or (offer is not None and offer.accepted_at is not None)
            for moved in reconcile(
                session, wanted.get(session.agent_id) or default_presence(session.agent_id), now, busy=busy
            ):
                self.engine.observe(moved)
                log.info(
                    "campaign.agent_presence", agent=moved.agent_id, state=moved.after.value, cause=moved.cause.value
                )
            if offer is not None and offer.accepted_at is None and session.state is not AgentState.AVAILABLE:
                async with self._offer_lock:
                    if self._offers.get(session.agent_id) is offer:
                        del self._offers[session.agent_id]
                        await self._end_offer(offer, OfferEnd.AGENT_AWAY, now)

    async def _dial_more(self, campaign_lines: int, now: datetime) -> None:
        if not self._calls.pbx_reachable:
            # Every call would fail at once and use up its lead as a `failed` attempt that never rang
            # (seen in the Asterisk-restart drill: 40 leads in one second before the reconnect).
            if not self._waiting_for_pbx:
                self._waiting_for_pbx = True
                log.warning("campaign.waiting_for_pbx")
            return
        if self._waiting_for_pbx:
            self._waiting_for_pbx = False
            log.info("campaign.pbx_back")
        # Every outbound line on the PBX counts (other campaigns' and manual calls hold lines too).
        plan = self.engine.plan(now, self._calls.lines.in_use, min(campaign_lines, self._calls.lines.capacity))
        if self.engine.mode is PacingMode.PREVIEW:
            await self._preview(plan.for_agents, now)
            return
        if plan.count < 1:
            return
        for pick in await self._hopper.next_batch(self.campaign_id, plan.count, now):
            self._dial(pick)

    def _dial(self, pick: Pick, agent: str | None = None) -> None:
        """Start the call of ``pick``; ``agent`` set: an accepted preview, for that agent only. The
        engine counts the call (and holds the preview's agent) from now on, before its task runs."""
        key = uuid.uuid4().hex  # the engine's name for this call (the call service names its own)
        self.engine.placed(key, self.clock.now(), agent)
        self._spawn(self._call(pick, key))

    async def _call(self, pick: Pick, key: str) -> None:
        with structlog.contextvars.bound_contextvars(lead_id=pick.lead_id):
            picker = _EnginePicker(self, pick, key)
            recorded: list[Attempt] = []
            try:
                attempt = await self._calls.dial(
                    pick.phone,
                    agent=picker,
                    lead_id=pick.lead_id,
                    campaign_id=self.campaign_id,
                    caller_id=self._caller_id,
                    on_attempt=recorded.append,
                )
            except BaseException as exc:
                # Nothing was recorded for this call: free its line and its agent in the engine.
                self.engine.ended(key, Outcome.FAILED, self.clock.now(), talked=False)
                if not recorded and isinstance(exc, Exception):
                    # Failed before its attempt row, so before any Originate (the row comes first): the lead
                    # goes back to the hopper. Kept claimed, it held the campaign open while this node lived
                    # (seen: a store write refused under load in the two-site drill). A cancelled call keeps
                    # its claim for the next start's recovery, which releases it the same way.
                    await self._hopper.release(self.campaign_id, pick.lead_id)
                raise
            self._dialled += 1
            outcome = attempt.outcome or Outcome.UNKNOWN
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1
            now = self.clock.now()
            talked = picker.agent is not None and attempt.connected_at is not None
            self.engine.ended(key, outcome, now, talked=talked)
            progress = await self._hopper.record_result(self.campaign_id, pick.lead_id, attempt.id, outcome, now)
            if picker.agent is not None:
                self._live_lead.pop(picker.agent, None)
                if not talked:  # reserved at answer, but the agent's phone never took the call
                    self._publish(
                        WrapUpEnded(now, self.campaign_id, picker.agent, pick.lead_id, WrapUpEnd.NOT_CONNECTED)
                    )
            if talked:
                assert picker.agent is not None
                ends_at = self.roster.get(picker.agent).wrap_up_ends_at
                assert ends_at is not None, "the hang-up just put the agent in wrap-up"
                wrap = WrapUp(self.campaign_id, picker.agent, pick.lead_id, attempt, ends_at)
                self._pending_wrap_up[picker.agent] = wrap
                self._publish(WrapUpStarted(now, self.campaign_id, picker.agent, pick.lead_id, attempt.id, ends_at))
                if self._on_wrap_up is not None:
                    self._spawn(self._on_wrap_up(wrap))
            else:
                await self._record_no_contact(pick, attempt, outcome, progress, now)
            self._wake.set()

    async def _record_no_contact(
        self, pick: Pick, attempt: Attempt, outcome: Outcome, progress: LeadProgress, now: datetime
    ) -> None:
        """Every outcome maps to a DOSS change: for calls no agent talked in, the dialer files it."""
        rule = self._doss.mapping.rule(outcome, Disposition.NO_CONTACT)
        wants_date = FormField.NEXT_FOLLOW_UP_AT in rule.requires | rule.allows
        next_at = await self._next_follow_up(pick, progress, now) if wants_date else None
        form = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=next_at)
        await self._doss.record_disposition(pick.lead_id, attempt.id, outcome, form, SYSTEM_ACTOR)

    async def _next_follow_up(self, pick: Pick, progress: LeadProgress, now: datetime) -> datetime:
        """When the lead will be called again: this campaign's retry, else the lead's own due time,
        else the next calling day (DOSS is told the lead stays open until then)."""
        if progress.next_attempt_at is not None:
            return progress.next_attempt_at
        lead = await self._leads.get(pick.lead_id)
        assert self._rules is not None
        return lead.due_at or self._rules.windows.next_day_opening(now)

    def _wrap_up_timed_out(self, moved: Transition) -> None:
        """No disposition in time: the call still counts as a contact in the lead's history."""
        if moved.cause is not TransitionCause.WRAP_UP_TIMEOUT:
            return
        wrap = self._pending_wrap_up.pop(moved.agent_id, None)
        if wrap is not None and wrap.attempt.outcome is not None:
            log.warning("campaign.disposition_missing", agent=wrap.agent, lead_id=wrap.lead_id)
            self._publish(WrapUpEnded(moved.at, self.campaign_id, wrap.agent, wrap.lead_id, WrapUpEnd.TIMED_OUT))
            self._spawn(
                self._leads.record_contact(wrap.lead_id, moved.at, wrap.agent, wrap.attempt.outcome, wrap.attempt.id)
            )

    async def _exhausted(self) -> bool:
        """Nothing left to dial in this campaign: no claim open, no lead with attempts left."""
        counts = await self._campaigns.counts(self.campaign_id, self.clock.now())
        return counts.dialable == 0 and counts.by_status.get(ProgressStatus.CLAIMED, 0) == 0

    def _publish(self, event: BusEvent) -> None:
        if self._bus is not None:
            self._bus.publish(event)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(work).add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failures += 1
            log.error("campaign.call_task_failed", error=repr(task.exception()))
        self._wake.set()


async def settle_unfiled_talks(campaigns: CampaignRepository, leads: LeadStore, campaign_id: int | None) -> int:
    """Write the contact of talks a runner held for a disposition when it went away (stopped, crashed,
    killed); None: of every campaign, as a process starts. How many there were."""
    talks = await campaigns.unfiled_talks(campaign_id)
    for talk in talks:
        assert talk.lead_id is not None and talk.outcome is not None and talk.ended_at is not None
        log.warning(
            "campaign.disposition_missing", agent=talk.agent, lead_id=talk.lead_id, attempt_id=talk.id, recovered=True
        )
        await leads.record_contact(talk.lead_id, talk.ended_at, talk.agent or SYSTEM_ACTOR, talk.outcome, talk.id)
    return len(talks)
