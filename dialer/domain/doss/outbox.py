"""The outbox's vocabulary and delivery policy. Pure: no I/O, randomness and time come in.

A :class:`DossRecord` is one change as DOSS must see it: the lead's identity at the
time of the change plus what changed. It is frozen into the outbox row when the
change commits, so the export and the push send what was true then, even if the
lead changes again later. Delivery is at-least-once; the idempotency key makes a
repeat harmless on the receiving side (docs/doss.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, FollowUpPurpose
from dialer.domain.leads.model import IntentLevel, LeadSource, LeadState


class OutboxStatus(StrEnum):
    """Where a change is in its delivery."""

    PENDING = "pending"  # not yet acknowledged; due at next_attempt_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # refused for good, or too many failures: a person must look


class OutboxKind(StrEnum):
    """What produced the change."""

    DISPOSITION = "disposition"  # a call's outcome and the agent's result
    MILESTONE = "milestone"  # the showroom: the customer visited, or bought
    TRANSFER = "transfer"  # a manager gave the lead to another employee (the owner column changed)
    REACTIVATION = "reactivation"  # a manager brought a defeated lead back
    SMS_REPLY = "sms_reply"  # the customer's SMS answer to a booked visit called it off


class Verdict(StrEnum):
    """What one delivery try means for the row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


# Client errors that say "not now" rather than "never": request timeout, rate limited.
_RETRYABLE_4XX = frozenset({408, 429})


def verdict_for_status(status: int) -> Verdict:
    """2xx delivered; 4xx (except 408 and 429) will never succeed, so dead at once; the rest retry."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        return Verdict.DEAD
    return Verdict.RETRY


def backoff_s(failures: int, base_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """Delay after the ``failures``-th consecutive failure: exponential, capped, with equal jitter.

    Half the capped step is fixed and half random, so a fleet of rows that failed
    together spreads out, yet no retry comes sooner than half the intended step
    (full jitter could retry at once and burn the attempt budget in a short outage).
    """
    if failures < 1:
        raise ValueError(f"failures = {failures}: backoff starts after the first failure")
    # min() before the power would overflow a float for a long outage; clamp the exponent.
    step = min(max_s, base_s * (1 << min(failures - 1, 62)))
    return step / 2 + rand() * step / 2


def new_idempotency_key() -> str:
    """A key unique across databases: a restored or rebuilt store must never reuse a delivered key."""
    return f"dcc-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class LeadSnapshot:
    """Who the change is about, as the DOSS import template identifies a customer."""

    id: int
    name: str
    phone: str | None  # E.164
    source: LeadSource
    owner: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class DossRecord:
    """One change for DOSS: the outbox row's payload, the push body and one export line."""

    lead: LeadSnapshot
    at: datetime
    actor: str
    state: LeadState  # the lead's state after the change
    result: str  # 跟进结果
    intent: IntentLevel | None = None
    visit_at: datetime | None = None
    next_follow_up_at: datetime | None = None
    defeat_reason: str | None = None
    purpose: FollowUpPurpose | None = None
    note: str | None = None
    outcome: Outcome | None = None  # None for showroom milestones
    disposition: Disposition | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready; times as ISO 8601 with offset."""
        return {
            "lead": {
                "id": self.lead.id,
                "name": self.lead.name,
                "phone": self.lead.phone,
                "source": self.lead.source.value,
                "owner": self.lead.owner,
                "model": self.lead.model,
            },
            "at": self.at.isoformat(),
            "actor": self.actor,
            "state": self.state.value,
            "result": self.result,
            "intent": _value(self.intent),
            "visit_at": _iso(self.visit_at),
            "next_follow_up_at": _iso(self.next_follow_up_at),
            "defeat_reason": self.defeat_reason,
            "purpose": _value(self.purpose),
            "note": self.note,
            "outcome": _value(self.outcome),
            "disposition": _value(self.disposition),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> DossRecord:
        """Inverse of :meth:`to_payload`."""
        lead = data["lead"]
        return cls(
            lead=LeadSnapshot(
                id=int(lead["id"]),
                name=lead["name"],
                phone=lead.get("phone"),
                source=LeadSource(lead["source"]),
                owner=lead.get("owner"),
                model=lead.get("model"),
            ),
            at=datetime.fromisoformat(data["at"]),
            actor=data["actor"],
            state=LeadState(data["state"]),
            result=data["result"],
            intent=IntentLevel(data["intent"]) if data.get("intent") else None,
            visit_at=_when(data.get("visit_at")),
            next_follow_up_at=_when(data.get("next_follow_up_at")),
            defeat_reason=data.get("defeat_reason"),
            purpose=FollowUpPurpose(data["purpose"]) if data.get("purpose") else None,
            note=data.get("note"),
            outcome=Outcome(data["outcome"]) if data.get("outcome") else None,
            disposition=Disposition(data["disposition"]) if data.get("disposition") else None,
        )


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox row as the worker, the export and the dead-letter list see it."""

    id: int
    idempotency_key: str
    kind: OutboxKind
    record: DossRecord
    created_at: datetime
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
