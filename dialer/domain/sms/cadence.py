"""The repurchase cadence: SMS first, calls only where the SMS did not work. Pure: events + clock -> decisions.

The handbook's rule for base customers: send an SMS wave to the chosen owners; if the
first round's reply rate is too low, call everyone or a chosen segment. So a wave goes
through sending -> waiting (a configured window for replies) -> a decision:

- reply rate >= threshold: closed (the SMS did its job; interested repliers are called anyway);
- below it: handed_off; the segment (non-repliers, all, or only the interested) becomes call tasks.

Interested repliers ("1", "好的") are called first: each gets a call task with the
interested priority the moment the reply arrives, and keeps it in the hand-off.
Customers who opted out are never handed to calling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from dialer.domain.sms.rules import ReplyKind


class Phase(StrEnum):
    """Where a wave is."""

    SENDING = "sending"
    WAITING = "waiting"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


class Handoff(StrEnum):
    """Which customers a wave below the threshold hands to calling."""

    NON_REPLIERS = "non_repliers"
    ALL = "all"
    INTERESTED = "interested"


@dataclass(frozen=True, slots=True)
class CadenceRules:
    """One wave's knobs (defaults from SmsSettings, overridable per wave)."""

    wait: timedelta
    min_reply_rate: float
    handoff: Handoff
    interested_priority: int
    handoff_priority: int


@dataclass(frozen=True, slots=True)
class WaveState:
    """What the cadence knows about a wave: who got the SMS and who answered how."""

    phase: Phase
    members: frozenset[int]  # leads whose SMS was queued
    replies: Mapping[int, ReplyKind] = field(default_factory=lambda: MappingProxyType({}))
    decide_at: datetime | None = None
    reply_rate: float | None = None


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaveSent:
    """Every member's SMS is queued; the reply window starts."""

    at: datetime


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    """A member answered (the first meaningful reply of a lead counts; opt-out always wins)."""

    lead_id: int
    kind: ReplyKind
    at: datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; the reply window may be over."""

    now: datetime


CadenceEvent = WaveSent | ReplyReceived | Tick


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallTask:
    """Hand one lead to calling with a priority (higher is called first)."""

    lead_id: int
    priority: int
    reason: str  # 'sms_interested' | 'cadence_handoff'


@dataclass(frozen=True, slots=True)
class DecideAt:
    """Look at the wave again at this instant."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Decided:
    """The window is over: the reply rate and what the wave became."""

    phase: Phase
    reply_rate: float
    handed_off: int


CadenceDecision = CallTask | DecideAt | Decided


def step(state: WaveState, event: CadenceEvent, rules: CadenceRules) -> tuple[WaveState, list[CadenceDecision]]:
    """Apply one event; returns the new state and what the service must do."""
    if isinstance(event, WaveSent):
        if state.phase is not Phase.SENDING:
            return state, []
        decide_at = event.at + rules.wait
        return replace(state, phase=Phase.WAITING, decide_at=decide_at), [DecideAt(decide_at)]
    if isinstance(event, ReplyReceived):
        return _reply(state, event, rules)
    return _tick(state, event.now, rules)


def _reply(state: WaveState, event: ReplyReceived, rules: CadenceRules) -> tuple[WaveState, list[CadenceDecision]]:
    if event.lead_id not in state.members:
        return state, []
    previous = state.replies.get(event.lead_id)
    # Opt-out is final; otherwise "interested" outranks a chatty "other".
    if (
        previous is ReplyKind.OPT_OUT
        or previous is event.kind
        or (previous is ReplyKind.INTERESTED and event.kind is ReplyKind.OTHER)
    ):
        return state, []
    replies = MappingProxyType({**state.replies, event.lead_id: event.kind})
    decisions: list[CadenceDecision] = []
    if event.kind is ReplyKind.INTERESTED and state.phase is not Phase.CLOSED:
        decisions.append(CallTask(event.lead_id, rules.interested_priority, "sms_interested"))
    return replace(state, replies=replies), decisions


def _tick(state: WaveState, now: datetime, rules: CadenceRules) -> tuple[WaveState, list[CadenceDecision]]:
    if state.phase is not Phase.WAITING or state.decide_at is None or now < state.decide_at:
        return state, []
    rate = reply_rate(state)
    if rate >= rules.min_reply_rate:
        return replace(state, phase=Phase.CLOSED, reply_rate=rate), [Decided(Phase.CLOSED, rate, 0)]
    opted_out = {lead for lead, kind in state.replies.items() if kind is ReplyKind.OPT_OUT}
    interested = sorted(lead for lead, kind in state.replies.items() if kind is ReplyKind.INTERESTED)
    if rules.handoff is Handoff.NON_REPLIERS:
        others = sorted(state.members - set(state.replies))
    elif rules.handoff is Handoff.ALL:
        others = sorted(state.members - opted_out - set(interested))
    else:
        others = []
    tasks: list[CadenceDecision] = [CallTask(lead, rules.handoff_priority, "cadence_handoff") for lead in others]
    decided = Decided(Phase.HANDED_OFF, rate, len(tasks))
    return replace(state, phase=Phase.HANDED_OFF, reply_rate=rate), [*tasks, decided]


def reply_rate(state: WaveState) -> float:
    """Members who replied at all (opt-outs included: they read it) over members; 0 for an empty wave."""
    return len(state.replies) / len(state.members) if state.members else 0.0
