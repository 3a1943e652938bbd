"""What the call state machine can be told.

These are telephony facts about ONE call, already sorted by leg: the customer
leg (the carrier channel), the agent leg, and the call itself (the dialer's own
channel, whose id is the call id). ``dialer.telephony.legs`` produces them from
AMI events; tests and the simulator produce them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Base class: every event carries the instant it happened."""

    at: datetime


@dataclass(frozen=True, slots=True)
class OriginateSent(CallEvent):
    """The PBX accepted our Originate; the call now exists in the PBX."""


@dataclass(frozen=True, slots=True)
class OriginateRefused(CallEvent):
    """The Originate never got going (action error, link down, timeout)."""

    reason: str


@dataclass(frozen=True, slots=True)
class LineLimitReached(CallEvent):
    """The PBX refused the call: all outbound lines were busy."""


@dataclass(frozen=True, slots=True)
class CustomerRinging(CallEvent):
    """The customer's phone rings (180/183)."""


@dataclass(frozen=True, slots=True)
class CustomerAnswered(CallEvent):
    """The customer (or a machine) picked up."""


@dataclass(frozen=True, slots=True)
class CustomerDialEnded(CallEvent):
    """Asterisk's verdict on dialling the customer (DialEnd DialStatus)."""

    status: str


@dataclass(frozen=True, slots=True)
class CustomerHungUp(CallEvent):
    """The customer leg is gone; ``cause`` is the Q.850 hang-up cause."""

    cause: int


@dataclass(frozen=True, slots=True)
class MachineDetection(CallEvent):
    """Answering-machine detection finished (AMDSTATUS / AMDCAUSE)."""

    status: str
    cause: str = ""


@dataclass(frozen=True, slots=True)
class WaitingForAgent(CallEvent):
    """The answered customer is on hold in the PBX: connect an agent now, within ``hold_ms``
    (what is left of the abandon budget since the answer, once AMD has had its time)."""

    channel: str  # the channel to redirect to the agent
    hold_ms: int | None = None  # None: the PBX did not say (a dialplan rendered before HoldMs)


@dataclass(frozen=True, slots=True)
class AgentConnected(CallEvent):
    """The agent's phone answered and the two are bridged."""

    agent: str


@dataclass(frozen=True, slots=True)
class AgentFailed(CallEvent):
    """The agent leg did not answer (busy, no answer, unreachable)."""

    agent: str
    status: str


@dataclass(frozen=True, slots=True)
class AgentPhoneUnanswered(CallEvent):
    """A manual call rings the agent's own phone first: it was not answered (or the PBX could not
    reach it), so the customer was never dialled."""

    agent: str
    why: str  # the OriginateResponse reason or the phone channel's hang-up cause, for the record


@dataclass(frozen=True, slots=True)
class AbandonStarted(CallEvent):
    """No agent in time: the PBX plays the abandon message to the customer."""


@dataclass(frozen=True, slots=True)
class RecordingStarted(CallEvent):
    """MixMonitor is writing this file (known once MIXMONITOR_FILENAME is set)."""

    path: str


@dataclass(frozen=True, slots=True)
class OriginateFinished(CallEvent):
    """OriginateResponse: whether the originated channel was answered, and Asterisk's reason code."""

    success: bool
    reason: int


@dataclass(frozen=True, slots=True)
class CallHungUp(CallEvent):
    """The dialer's own channel for this call is gone: the call is over."""

    cause: int


@dataclass(frozen=True, slots=True)
class EvidenceOverdue(CallEvent):
    """The service waited long enough after :class:`~dialer.domain.calls.machine.AwaitEvidence`: decide with what is known."""


@dataclass(frozen=True, slots=True)
class CallVanished(CallEvent):
    """The PBX no longer knows the call (reconciliation).

    ``on_live_link``: a look on a link that never dropped missed it (a periodic snapshot and the look
    after its grace, or the check of an Originate nobody confirmed). None of the call's events was
    lost then, though some may not have arrived yet: AMI does not order the legs' events, nor them
    against an action's reply. False: after a reconnect or a restart, when the events sent in the
    gap are lost for good.
    """

    on_live_link: bool = False
