"""The one vocabulary for how a call ended, and the states a call passes through.

Every part of the product (store, retry rules, DOSS mapping, KPIs, reports) speaks
these enums; nothing else defines an outcome.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How an attempt ended, as the dialer observed it (before the agent's disposition)."""

    ANSWERED = "answered"  # a person answered and talked to an agent
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang out, or declined without a busy signal
    REJECTED = "rejected"  # the customer declined (603)
    CONGESTION = "congestion"  # network or trunk congestion (503, no circuits)
    VACANT = "vacant"  # number does not exist (404, unallocated)
    FAILED = "failed"  # our side failed: PBX down, line limit, originate error
    EARLY_HANGUP = "early_hangup"  # answered, hung up within the early window before an agent
    ABANDONED = "abandoned"  # answered, no agent connected within the abandon window
    MACHINE = "machine"  # answering machine detected
    UNKNOWN = "unknown"  # the dialer lost sight of the call (crash, PBX restart); reconciled later

    @property
    def reached_person(self) -> bool:
        """A human picked up: pacing's answer rate, and the regulator's abandonment ratio, count it."""
        return self in (Outcome.ANSWERED, Outcome.EARLY_HANGUP, Outcome.ABANDONED)

    @property
    def talked_with_agent(self) -> bool:
        """The customer spoke with an agent: the handbook's follow-up (跟进). A customer who hung up
        during the hold or was never put through (abandoned) was reached, but not followed up."""
        return self is Outcome.ANSWERED


class CallState(StrEnum):
    """Where a call is in its life."""

    PENDING = "pending"  # attempt recorded, Originate not yet sent
    ORIGINATING = "originating"  # Originate sent, no channel event yet
    RINGING = "ringing"  # the customer's phone rings
    ANSWERED = "answered"  # the customer picked up; waiting for AMD / an agent
    CONNECTED = "connected"  # bridged to an agent, talking
    ENDED = "ended"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
