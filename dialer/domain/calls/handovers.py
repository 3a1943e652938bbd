"""Who had the customer when: a call's handovers (transfers), kept beside its attempt (migration 0180).

The attempt names the agent who first talked to the customer (``agent``, from ``connected_at``); each
handover names the party who had them from then on. A blind transfer and a completed attended transfer
hand the customer over; a 3-way call adds a party (``conference``) while the agent stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.settings import CallSettings

# A phone account's endpoint name (dialer phones): the only kind of transfer target, never a number.
ENDPOINT = re.compile(r"^[a-z][a-z0-9]{0,31}$")


class HandoverKind(StrEnum):
    BLIND = "blind"  # the customer rang the colleague's phone; the agent left at once
    ATTENDED = "attended"  # the agent spoke to the colleague first, then left the two together
    CONFERENCE = "conference"  # a third party joined the agent and the customer


@dataclass(frozen=True, slots=True)
class Handover:
    id: int
    call_id: str
    at: datetime
    kind: HandoverKind
    from_party: str  # the endpoint who had the customer
    to_party: str  # the endpoint who has them (with ``from_party`` still there for a conference)
    actor: str  # who asked (``web:<login>``)


class HandoverRepository(Protocol):
    async def add(
        self, *, call_id: str, at: datetime, kind: HandoverKind, from_party: str, to_party: str, actor: str
    ) -> Handover: ...

    async def of_call(self, call_id: str) -> list[Handover]: ...


def settings_problems(calls: CallSettings) -> list[str]:
    """What is wrong with ``[calls]``' transfer targets: each must be a phone's endpoint name, or empty."""
    return [
        f"calls.{key}: {value!r} is not a phone's endpoint name (a lower-case letter, then letters or digits)"
        for key, value in (
            ("telesales_endpoint", calls.telesales_endpoint),
            ("showroom_endpoint", calls.showroom_endpoint),
        )
        if value and not ENDPOINT.match(value)
    ]
