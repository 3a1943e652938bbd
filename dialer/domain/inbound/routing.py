"""The pure core of inbound routing: where a caller goes, and how an inbound call ended.

No I/O here: the service (:mod:`dialer.inbound.service`) feeds it facts (the caller's lead
owner, the clock, the PBX's events already sorted by leg) and carries out its answers.
The outcome vocabulary and the call decisions are the outbound call model's own
(:mod:`dialer.domain.calls.outcome`, :class:`~dialer.domain.calls.machine.CallResult`), so the store,
reports and DOSS treat an inbound attempt exactly like an outbound one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dialer.domain.calls import events as ev
from dialer.domain.calls.machine import CallDecision, CallProgress, CallResult, Finished
from dialer.domain.calls.outcome import CallState, Outcome
from dialer.domain.campaigns.errors import PolicyError
from dialer.domain.campaigns.policy import CallingWindows
from dialer.settings import InboundSettings


class RouteKind(StrEnum):
    """Where the dialplan sends the caller; the values are what ``DCC_ROUTE`` carries."""

    AGENT = "agent"  # ring the lead's owner first, then overflow to the queue
    QUEUE = "queue"  # straight to the DCC queue (unknown caller, or a lead nobody owns)
    CLOSED = "closed"  # after hours: the callback message, no ringing


@dataclass(frozen=True, slots=True)
class Route:
    """The routing decision for one caller; ``owner`` is an agent endpoint, set only for AGENT."""

    kind: RouteKind
    owner: str | None = None


def decide_route(at: datetime, owner: str | None, hours: CallingWindows) -> Route:
    """Closed outside ``hours``; the owner's phone first when the caller's lead has one; else the queue."""
    if not hours.is_open(at):
        return Route(RouteKind.CLOSED)
    if owner:
        return Route(RouteKind.AGENT, owner)
    return Route(RouteKind.QUEUE)


def callback_at(at: datetime, hours: CallingWindows) -> datetime:
    """When a caller nobody answered is called back: now if the DCC is open, else at the next opening."""
    return hours.next_opening(at)


@dataclass(frozen=True, slots=True)
class CallerMissed(ev.CallEvent):
    """The PBX plays the callback message: after hours, or no agent took the call (``DCCInboundMissed``)."""

    route: str
    queue_status: str


class InboundCallMachine:
    """One inbound call from the PBX's answer to its hang-up.

    The PBX answers every caller it admits at once (the dialplan's ``Answer()``), so the
    call starts in ``answered``; it becomes ``connected`` when an agent's phone answers.
    The outcome is decided once, at the caller channel's hang-up: ``answered`` with an
    agent, otherwise ``abandoned`` (the caller heard the callback message or gave up).
    """

    def __init__(self, call_id: str, answered_at: datetime) -> None:
        self.call_id = call_id
        self.state = CallState.ANSWERED
        self.result: CallResult | None = None
        self._answered_at = answered_at
        self._connected_at: datetime | None = None
        self._agent: str | None = None
        self._recording: str | None = None
        self._missed: CallerMissed | None = None

    def feed(self, event: ev.CallEvent) -> list[CallDecision]:
        """Apply one event; return what the service must record."""
        if self.state is CallState.ENDED:
            return []
        match event:
            case ev.AgentConnected(at=at, agent=agent):
                if self._connected_at is None:
                    self._connected_at, self._agent = at, agent
                    self.state = CallState.CONNECTED
                    return [CallProgress(CallState.CONNECTED, at, agent)]
            case ev.RecordingStarted(path=path):
                self._recording = path
            case CallerMissed():
                self._missed = self._missed or event
            case ev.CallHungUp(at=at, cause=cause):
                return self._finish(at, cause)
            case ev.CallVanished(at=at):
                return self._finish(at, None, vanished=True)
        return []

    def _finish(self, at: datetime, cause: int | None, vanished: bool = False) -> list[CallDecision]:
        self.state = CallState.ENDED
        if self._connected_at is not None:
            outcome, detail = Outcome.ANSWERED, "call vanished from the PBX" if vanished else None
        elif vanished:
            outcome, detail = Outcome.UNKNOWN, "call vanished from the PBX"
        elif self._missed is not None and self._missed.route == RouteKind.CLOSED:
            outcome, detail = Outcome.ABANDONED, "after hours: callback message played"
        elif self._missed is not None:
            outcome, detail = (
                Outcome.ABANDONED,
                f"no agent answered (queue {self._missed.queue_status or 'not joined'})",
            )
        else:
            outcome, detail = Outcome.ABANDONED, "caller hung up before an agent answered"
        self.result = CallResult(
            outcome=outcome,
            ended_at=at,
            answered_at=self._answered_at,
            connected_at=self._connected_at,
            agent=self._agent,
            hangup_cause=cause,
            recording=self._recording if self._connected_at is not None else None,
            detail=detail,
        )
        return [Finished(self.result)]


def settings_problems(i: InboundSettings, timezone: str) -> list[str]:
    """What is wrong in ``[inbound]``; the hours are parsed by the campaign window code that uses them."""
    problems: list[str] = []
    for name in ("owner_ring_s", "queue_wait_s"):
        if getattr(i, name) <= 0:
            problems.append(f"inbound.{name} = {getattr(i, name)}: must be positive")
    if not i.actor:
        problems.append("inbound.actor: must not be empty")
    try:
        CallingWindows.from_settings(i.hours, timezone)
    except PolicyError as exc:
        problems.append(f"inbound.hours: {exc}")
    return problems
