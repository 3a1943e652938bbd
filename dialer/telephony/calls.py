"""Placing outbound calls and following each one to its recorded outcome.

Each call runs as its own task (:meth:`CallService.dial`) with the call and lead
ids bound to its logs. The application's one AMI reader hands every event to
:meth:`CallService.route`, which drops it into the inbox of the call it belongs to,
so a slow database write for one call never delays another call's agent connect.

Crash safety, in order of the steps of a call:
- the attempt row is committed before the Originate is sent, so no call is ever
  placed without a record;
- an Originate is sent once and never repeated (the AMI layer does not replay
  it after a reconnect, and nothing here retries it);
- after the AMI link comes back, calls the PBX no longer knows are ended from
  what was known (``CallVanished``); a periodic snapshot on a live link does the
  same for a call it misses, but only after a grace and a second look, and never
  for a call still being originated (its channel may not exist yet); after a
  dialer restart, :meth:`recover` does the same for attempts left in flight, and
  adopts those still live.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol

import structlog

from dialer.ami import events as ami
from dialer.ami.errors import AmiError, AmiLinkDown, AmiTimeout
from dialer.ami.reconcile import gone_after_grace
from dialer.clock import Clock
from dialer.domain.calls import events as ev
from dialer.domain.calls.attempts import Attempt, AttemptRepository
from dialer.domain.calls.machine import (
    AwaitEvidence,
    CallDecision,
    CallMachine,
    CallProgress,
    CallResult,
    CallRules,
    ConnectAgent,
    Finished,
)
from dialer.domain.calls.outcome import CallState, Direction
from dialer.logs import get_logger
from dialer.phone import DialFormat, Phone, dial_string
from dialer.settings import Settings
from dialer.tasks import BackgroundTasks
from dialer.telephony.legs import CallLegs, other_channel_id
from dialer.telephony.lines import LineLimiter

log = get_logger(__name__)

# Contexts of the shipped dialplan (asterisk/extensions.conf); see docs/telephony.md.
OUTBOUND_CONTEXT = "dcc-outbound"
ANSWERED_CONTEXT = "dcc-answered"
AGENT_CONTEXT = "dcc-agent"
MACHINE_CONTEXT = "dcc-machine"  # ends a MACHINE-judged call nobody is free to take, without the apology
MANUAL_CONTEXT = "dcc-manual"  # a manual call: the agent's phone, once answered, dials the customer here
# A call in these states may have no channel in the PBX yet: a periodic snapshot never ends it.
_NOT_YET_PLACED = frozenset({CallState.PENDING, CallState.ORIGINATING})


class AmiPort(Protocol):
    """What the call service needs from the AMI layer (``dialer.ami.client.AmiClient``, or a test double)."""

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        channel_id: str,
        other_channel_id: str,
        timeout_ms: int,
        caller_id: str,
        variables: Mapping[str, str],
    ) -> None: ...

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None: ...

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]: ...

    @property
    def connected(self) -> bool:
        """True while actions can be sent (logged in, booted, reconciled, not lost)."""
        ...


class AgentPicker(Protocol):
    """Chooses the agent for an answered call at the moment it is answered (predictive dialing
    cannot know earlier). Returns an agent endpoint, or None when nobody is free."""

    def pick(self, call_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call in progress, as pacing and the wallboard see it."""

    call_id: str
    state: CallState
    placed_at: datetime
    lead_id: int | None
    campaign_id: int | None


@dataclass
class _Call:
    """The dialer's live view of one call."""

    call_id: str
    machine: CallMachine
    legs: CallLegs
    agent: str | AgentPicker | None
    placed_at: datetime
    lead_id: int | None = None
    campaign_id: int | None = None
    inbox: asyncio.Queue[ev.CallEvent] = field(default_factory=asyncio.Queue)
    writes: asyncio.Future[None] | None = None  # the latest progress write; each waits for the one before
    second_look: bool = False  # a periodic snapshot missed the call; a fresh look is due after the grace


class CallService:
    """Outbound calls through the PBX: line limit, attempt records, agent connect, outcome."""

    def __init__(
        self,
        *,
        ami_client: AmiPort,
        attempts: AttemptRepository,
        settings: Settings,
        clock: Clock,
        after_call: Sequence[Callable[[Attempt], Awaitable[object]]] = (),
        recording_allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        """``after_call`` hooks run in the background once an attempt is recorded (e.g. the
        recordings registry); ``recording_allowed`` says whether new calls may be recorded
        (False when the recordings disk is full and the policy is to stop recording)."""
        self._ami = ami_client
        self._after_call = tuple(after_call)
        self._recording_allowed = recording_allowed
        self._attempts = attempts
        self._settings = settings
        self._clock = clock
        self._rules = CallRules(
            early_hangup_s=settings.calls.early_hangup_s, abandon_after_s=settings.calls.abandon_after_s
        )
        self.lines = LineLimiter(settings.pbx.outbound_lines)
        self._calls: dict[str, _Call] = {}
        self._background = BackgroundTasks()
        # After-call hooks apart, so closing the app can wait for them (a recording registered)
        # without waiting for the evidence timers of calls still in the air.
        self._hooks = BackgroundTasks()

    @property
    def pbx_reachable(self) -> bool:
        """Whether a call started now reaches the PBX: False while the AMI link is down, when its
        Originate would fail at once and the attempt end ``failed`` without a ring."""
        return self._ami.connected

    def live(self) -> list[LiveCall]:
        """Every call this service is following right now."""
        return [
            LiveCall(c.call_id, c.machine.state, c.placed_at, c.lead_id, c.campaign_id) for c in self._calls.values()
        ]

    def parties(self, call_id: str) -> tuple[str, str, str] | None:
        """A connected call's customer channel (its recording rides on it), the agent's channel (both
        uniqueids) and the agent's endpoint; None for a call not followed here or not connected."""
        call = self._calls.get(call_id)
        if call is None or call.machine.state is not CallState.CONNECTED:
            return None
        legs = call.legs
        customer = legs.recording_channel
        if customer is None or legs.agent_uniqueid is None or legs.agent is None:
            return None
        return customer, legs.agent_uniqueid, legs.agent

    # -- event routing -----------------------------------------------------------------

    def route(self, event: ami.AmiEvent) -> None:
        """Deliver one AMI event to the call it belongs to (or reconcile on a fresh snapshot)."""
        if isinstance(event, ami.Reconciled):
            self._reconcile(event)
            return
        key = _routing_key(event)
        call = self._calls.get(key) if key else None
        if call is None:
            return
        for call_event in call.legs.translate(event):
            call.inbox.put_nowait(call_event)

    def _reconcile(self, snapshot: ami.Reconciled) -> None:
        for call in list(self._calls.values()):
            if _listed(snapshot.channels, call.call_id):
                continue
            if not snapshot.periodic:
                log.warning("call vanished from the PBX", call_id=call.call_id)
                call.inbox.put_nowait(ev.CallVanished(snapshot.at))
            elif call.machine.state not in _NOT_YET_PLACED and not call.second_look:
                call.second_look = True
                self._background.spawn(self._look_again(call))

    async def _look_again(self, call: _Call) -> None:
        """End a call a periodic snapshot missed if, after the grace, the PBX still does not list it."""
        try:
            gone = await gone_after_grace(
                self._settings.pbx.action_timeout_s,
                lambda: self._calls.get(call.call_id) is call and call.machine.state is not CallState.ENDED,
                self._ami.core_show_channels,
                partial(_listed, call_id=call.call_id),
            )
        finally:
            call.second_look = False
        if gone:
            # Not a warning yet: a machine that has its own Hangup waits on for the evidence, and
            # "call ended" says whether the call ended as vanished (its detail).
            log.info("call not listed by the PBX after a second look", call_id=call.call_id)
            call.inbox.put_nowait(ev.CallVanished(self._clock.now(), on_live_link=True))

    # -- placing a call ---------------------------------------------------------------

    async def dial(
        self,
        number: Phone,
        *,
        agent: str | AgentPicker | None,
        lead_id: int | None = None,
        campaign_id: int | None = None,
        caller_id: Phone | None = None,
        wait_for_line: bool = True,
        agent_first: bool = False,
        on_attempt: Callable[[Attempt], object] | None = None,
    ) -> Attempt:
        """Place one call to ``number``, connect it to ``agent`` when answered, return the finished attempt.

        ``agent_first`` (a manual call; ``agent`` must be an endpoint): the agent's own phone rings
        first, and only once they pick up does the PBX dial the customer from it ([dcc-manual]), so
        an answering customer never waits for anyone. An agent who does not pick up within
        ``calls.agent_answer_timeout_s`` ends the attempt as ``failed``; the customer was not called.

        ``caller_id``: the number the customer sees (a campaign's own, in ``pbx.dial_format``);
        without it, ``pbx.caller_id`` as configured.

        ``agent`` is a fixed endpoint, or an :class:`AgentPicker` asked when the customer
        answers, whatever AMD said. With no agent (None, or the picker finds nobody) the PBX plays
        the abandon message once ``calls.abandon_after_s`` have passed since the answer; a call AMD
        judged MACHINE is ended at once instead, without the message.

        Waits for a free line (or raises :class:`~dialer.telephony.lines.LinesBusy`
        with ``wait_for_line=False``). ``on_attempt`` is told the attempt as soon as its row is
        committed, before the Originate (a face answers the person who clicked with it).
        """
        if agent_first and not isinstance(agent, str):
            raise ValueError("agent_first needs the agent's endpoint")
        await self.lines.acquire(wait=wait_for_line)
        call_id = uuid.uuid4().hex
        try:
            with structlog.contextvars.bound_contextvars(call_id=call_id, lead_id=lead_id):
                shown = self._settings.pbx.caller_id if caller_id is None else self._dial_digits(caller_id)
                return await self._dial(
                    call_id, number, agent, lead_id, campaign_id, shown, agent_first=agent_first, on_attempt=on_attempt
                )
        finally:
            self._calls.pop(call_id, None)
            self.lines.release()

    async def _dial(
        self,
        call_id: str,
        number: Phone,
        agent: str | AgentPicker | None,
        lead_id: int | None,
        campaign_id: int | None,
        caller_id: str,
        *,
        agent_first: bool,
        on_attempt: Callable[[Attempt], object] | None,
    ) -> Attempt:
        recording = self.recording_path(call_id) if self._recording_allowed() else ""
        created = await self._attempts.create(
            call_id=call_id,
            direction=Direction.OUTBOUND,
            number=number.e164,
            lead_id=lead_id,
            campaign_id=campaign_id,
            created_at=self._clock.now(),
            # A manual call is the agent's from the start: their phone rings before the customer's.
            agent=agent if agent_first and isinstance(agent, str) else None,
        )
        if on_attempt is not None:
            on_attempt(created)
        call = _Call(
            call_id,
            CallMachine(call_id, self._rules),
            CallLegs(call_id, agent_first=agent if agent_first and isinstance(agent, str) else None),
            agent,
            self._clock.now(),
            lead_id,
            campaign_id,
        )
        self._calls[call_id] = call  # before the Originate: its first events can beat the reply
        log.info("dialing", number=number.e164, agent_first=agent_first)
        pbx = self._settings.pbx
        digits = self._dial_digits(number)
        if agent_first:
            channel, context, exten = f"PJSIP/{agent}", MANUAL_CONTEXT, digits
            timeout_s = self._settings.calls.agent_answer_timeout_s
            variables = {"DCC_AGENT": str(agent), "DCC_RING": str(max(1, math.ceil(pbx.ring_timeout_s)))}
        else:
            channel, context, exten = f"Local/{digits}@{OUTBOUND_CONTEXT}/n", ANSWERED_CONTEXT, "s"
            timeout_s = pbx.ring_timeout_s
            variables = {
                "DCC_AMD": "1" if self._settings.calls.amd else "0",
                "DCC_HOLD": f"{self._settings.calls.abandon_after_s:g}",
            }
        try:
            await self._ami.originate(
                channel=channel,
                context=context,
                exten=exten,
                priority=1,
                channel_id=call_id,
                other_channel_id=other_channel_id(call_id),
                timeout_ms=int(timeout_s * 1000),
                caller_id=caller_id,
                variables={"DCC_CALL": call_id, "DCC_REC": str(recording), **variables},
            )
        except (AmiTimeout, AmiLinkDown) as exc:
            if isinstance(exc, AmiLinkDown) and not exc.sent:
                call.inbox.put_nowait(ev.OriginateRefused(self._clock.now(), str(exc)))
            else:
                # Asterisk may or may not have queued it. Never send it again: watch for
                # its events, and let a look at the live channels settle it later.
                log.warning("originate unconfirmed; waiting for its events", error=str(exc))
                self._settle_later(call)
        except AmiError as exc:
            call.inbox.put_nowait(ev.OriginateRefused(self._clock.now(), str(exc)))
        else:
            now = self._clock.now()
            self._write_later(call, partial(self._attempts.mark_started, call_id, now))
            call.inbox.put_nowait(ev.OriginateSent(now))
        return await self._follow(call)

    async def _follow(self, call: _Call) -> Attempt:
        """Feed the call's events to its machine and carry out the decisions until it ends."""
        while True:
            event = await call.inbox.get()
            for decision in call.machine.feed(event):
                result = await self._carry_out(call, decision)
                if result is not None:
                    return result

    async def _carry_out(self, call: _Call, decision: CallDecision) -> Attempt | None:
        match decision:
            case ConnectAgent(channel=channel, machine=machine):
                await self._connect_agent(call, channel, machine=machine)
            case AwaitEvidence():
                self._background.spawn(self._evidence_overdue(call))
            case CallProgress(state=state, at=at, agent=agent):
                # CallProgress is bookkeeping: written in order, but never in the way of the next
                # event (a DialEnd ANSWER's write must not delay the agent connect that follows).
                self._write_later(
                    call,
                    partial(
                        self._attempts.update_progress,
                        call.call_id,
                        state=state,
                        answered_at=at if state is CallState.ANSWERED else None,
                        connected_at=at if state is CallState.CONNECTED else None,
                        agent=agent,
                    ),
                )
            case Finished(result=result):
                if call.writes is not None:
                    await call.writes
                return await self._record(call, result)
        return None

    @staticmethod
    def _write_later(call: _Call, write: Callable[[], Awaitable[object]]) -> None:
        """Queue a record update of ``call`` behind the ones before it, without waiting for it.

        The update is made when its turn comes, not when queued: a queue cancelled at shutdown
        then leaves no coroutine behind that was never awaited.
        """

        async def after(previous: asyncio.Future[None] | None) -> None:
            if previous is not None:
                await previous
            await write()

        call.writes = asyncio.ensure_future(after(call.writes))

    async def _connect_agent(self, call: _Call, channel: str, *, machine: bool) -> None:
        agent = call.agent if call.agent is None or isinstance(call.agent, str) else call.agent.pick(call.call_id)
        if agent is None and not machine:
            log.warning("no agent free; the PBX will play the abandon message")
            return
        context, exten = (AGENT_CONTEXT, agent) if agent is not None else (MACHINE_CONTEXT, "s")
        try:
            await self._ami.redirect(channel, context, exten, 1)
            if agent is None:
                log.info("AMD said MACHINE and no agent is free: ending the call")
            else:
                log.info("agent connect requested", agent=agent, amd_machine=machine)
        except AmiError as exc:
            # The PBX's own hold timer still ends the call: the apology, or for MACHINE a plain hang-up.
            log.error("redirect failed", context=context, agent=agent, error=str(exc))

    async def _record(self, call: _Call, result: CallResult) -> Attempt:
        await self._attempts.finish(
            call.call_id,
            outcome=result.outcome,
            ended_at=result.ended_at,
            hangup_cause=result.hangup_cause,
            dial_status=result.dial_status,
            detail=result.detail,
            recording=result.recording,
        )
        attempt = await self._attempts.get(call.call_id)
        assert attempt is not None, "an attempt row exists from before the Originate"
        log.info("call ended", outcome=str(attempt.outcome), hangup_cause=attempt.hangup_cause, detail=attempt.detail)
        for hook in self._after_call:
            self._hooks.spawn(_logged(hook(attempt), call.call_id))
        return attempt

    async def _evidence_overdue(self, call: _Call) -> None:
        """Tell the machine to decide without the OriginateResponse once the PBX should have sent it."""
        await asyncio.sleep(self._settings.pbx.action_timeout_s)
        call.inbox.put_nowait(ev.EvidenceOverdue(self._clock.now()))

    def _settle_later(self, call: _Call) -> None:
        """Check on an unconfirmed Originate once it would have rung out."""
        delay = self._settings.pbx.ring_timeout_s + self._settings.pbx.action_timeout_s
        self._background.spawn(self._settle_unconfirmed(call, delay))

    async def _settle_unconfirmed(self, call: _Call, delay: float) -> None:
        """End an unconfirmed call as vanished unless the PBX shows it live (then its events will end it)."""
        while True:
            await asyncio.sleep(delay)
            if call.machine.state not in (CallState.PENDING, CallState.ORIGINATING):
                return
            try:
                channels = await self._ami.core_show_channels()
            except AmiError:
                continue  # link still down: look again later; the Reconciled snapshot may settle it first
            if not any(c.linkedid == call.call_id for c in channels):
                call.inbox.put_nowait(ev.CallVanished(self._clock.now(), on_live_link=True))
                return

    # -- restart ---------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every finished call's after-call hooks have run (shutdown, tests)."""
        await self._hooks.drain()

    async def recover(self) -> list[Attempt]:
        """After a dialer restart: end attempts left in flight whose call is gone.

        Outbound calls still live in the PBX are adopted and followed to their end in the
        background; attempts whose call is gone (inbound ones too) are closed as ``unknown``
        (or ``answered`` when an agent already had them), never re-dialled.
        """
        in_flight = await self._attempts.in_flight()
        if not in_flight:
            return []
        live = {c.linkedid for c in await self._ami.core_show_channels()}
        closed: list[Attempt] = []
        for attempt in in_flight:
            machine = CallMachine(attempt.call_id, self._rules)
            for replay in _replay_known_progress(attempt):
                machine.feed(replay)
            call = _Call(
                attempt.call_id,
                machine,
                CallLegs(attempt.call_id, agent_first=_manual_agent(attempt)),
                attempt.agent,
                attempt.started_at or attempt.created_at,
                attempt.lead_id,
                attempt.campaign_id,
            )
            if attempt.call_id in live and attempt.direction is Direction.INBOUND:
                continue  # its legs are the inbound service's; it ends when the caller hangs up
            if attempt.call_id in live:
                self._calls[attempt.call_id] = call
                self._background.spawn(self._adopt(call))
                if machine.state in (CallState.PENDING, CallState.ORIGINATING):
                    # Its OriginateResponse went to the process that died, and a periodic snapshot spares an
                    # originating call: look again once it would have rung out, as for a fresh unconfirmed one.
                    self._settle_later(call)
                continue
            call.inbox.put_nowait(ev.CallVanished(self._clock.now()))
            closed.append(await self._follow(call))
        return closed

    async def _adopt(self, call: _Call) -> None:
        with structlog.contextvars.bound_contextvars(call_id=call.call_id):
            try:
                await self._follow(call)
            finally:
                self._calls.pop(call.call_id, None)

    # -- helpers ----------------------------------------------------------------------

    def recording_path(self, call_id: str) -> Path:
        """Where MixMonitor writes this call: our own name, never caller-ID text."""
        day = self._clock.now()
        folder = self._settings.path(self._settings.recording.dir).resolve() / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{call_id}.wav"

    def _dial_digits(self, number: Phone) -> str:
        return dial_string(number, DialFormat(self._settings.pbx.dial_format), self._settings.dealer.region)


async def _logged(work: Awaitable[object], call_id: str) -> None:
    """Run an after-call hook; its failure is logged, never raised into the call flow."""
    try:
        await work
    except Exception:
        log.exception("after-call hook failed", call_id=call_id)


def _listed(channels: Sequence[ami.ChannelInfo], call_id: str) -> bool:
    """Does the PBX still have a channel of this call (the Originate's own, or any leg linked to it)?"""
    return any(call_id in (c.uniqueid, c.linkedid) for c in channels)


def _routing_key(event: ami.AmiEvent) -> str | None:
    if isinstance(event, ami.ChannelEvent):
        return event.linkedid or event.uniqueid
    if isinstance(event, ami.OriginateResponse):
        return event.uniqueid
    return None


def _manual_agent(attempt: Attempt) -> str | None:
    """The agent of a manual call not yet connected (its legs are read the other way round), else None.

    Only a manual call names its agent before the connect (``dial(agent_first=True)`` records it with the
    row); once connected, the rest of any call is its hang-ups, which both readings take alike."""
    if attempt.direction is Direction.OUTBOUND and attempt.agent and attempt.connected_at is None:
        return attempt.agent
    return None


def _replay_known_progress(attempt: Attempt) -> list[ev.CallEvent]:
    """What the store knows of an in-flight attempt, as events for a fresh machine."""
    replay: list[ev.CallEvent] = []
    if attempt.started_at is not None:
        replay.append(ev.OriginateSent(attempt.started_at))
    if attempt.answered_at is not None:
        replay.append(ev.CustomerAnswered(attempt.answered_at))
    if attempt.connected_at is not None and attempt.agent:
        replay.append(ev.AgentConnected(attempt.connected_at, attempt.agent))
    return replay
