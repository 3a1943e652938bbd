"""What services may ask of the store, independent of the database behind it.

Services and the CLI depend on these Protocols and records, never on a backend:
the store implements them in :mod:`dialer.store.attempts`, on SQLite or PostgreSQL
alike. This module imports no I/O library, so the core
and its tests can use the records freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.timestamps import to_db_or_none


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call attempt as stored: what was dialled (or who called), how far it got, how it ended.

    ``outcome`` is None while the call is in flight; it is set exactly once. ``recording`` is the
    file the PBX reported when the call ended (MixMonitor's WAV): the recordings registry takes it
    from there and owns the file from then on (compressed to FLAC, deleted by retention), so a face
    asks ``RecordingRegistry.current_files`` for where a recording is now.
    """

    id: int
    call_id: str
    direction: Direction
    number: str | None
    lead_id: int | None
    campaign_id: int | None
    agent: str | None
    state: CallState
    outcome: Outcome | None
    hangup_cause: int | None
    dial_status: str | None
    detail: str | None
    created_at: datetime
    started_at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    recording: str | None

    @property
    def in_flight(self) -> bool:
        """No outcome yet: the call is live, or the dialer lost sight of it."""
        return self.outcome is None

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``dialer attempts --json``, exports): enums as values, times as UTC ISO-8601.

        The number is given in full: exports are for people entitled to see it; logs mask it.
        """
        return {
            "id": self.id,
            "call_id": self.call_id,
            "direction": self.direction.value,
            "number": self.number,
            "lead_id": self.lead_id,
            "campaign_id": self.campaign_id,
            "agent": self.agent,
            "state": self.state.value,
            "outcome": None if self.outcome is None else self.outcome.value,
            "hangup_cause": self.hangup_cause,
            "dial_status": self.dial_status,
            "detail": self.detail,
            "created_at": to_db_or_none(self.created_at),
            "started_at": to_db_or_none(self.started_at),
            "answered_at": to_db_or_none(self.answered_at),
            "connected_at": to_db_or_none(self.connected_at),
            "ended_at": to_db_or_none(self.ended_at),
            "recording": self.recording,
        }


class AttemptRepository(Protocol):
    """The durable record of call attempts.

    Every method is atomic on its own; called inside an open ``db.write()`` of the
    same task it joins that transaction (the sqlite backend's contract), so a
    service can combine it with other repositories' writes.
    """

    async def create(
        self,
        *,
        call_id: str,
        direction: Direction,
        number: str | None,
        created_at: datetime,
        lead_id: int | None = None,
        campaign_id: int | None = None,
        agent: str | None = None,
    ) -> Attempt:
        """Record a new attempt in state ``pending``; committed when this returns.

        Outbound calls must await this BEFORE sending the Originate. ``number`` is E.164
        (None only for a withheld inbound caller). A reused ``call_id`` is an IntegrityError.
        """
        ...

    async def mark_started(self, call_id: str, at: datetime) -> bool:
        """The Originate was sent at ``at``: set ``started_at`` (first call wins) and ``pending`` -> ``originating``.

        A state the call already moved past is kept. False when no such attempt exists.
        """
        ...

    async def update_progress(
        self,
        call_id: str,
        *,
        state: CallState,
        answered_at: datetime | None = None,
        connected_at: datetime | None = None,
        agent: str | None = None,
        dial_status: str | None = None,
        hangup_cause: int | None = None,
    ) -> bool:
        """Record progress of a live call; None leaves a field unchanged.

        ``answered_at`` / ``connected_at`` keep their first value. ``state`` must not be
        ``ended`` (use :meth:`finish`). False when the attempt is unknown or already finished.
        """
        ...

    async def finish(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        ended_at: datetime,
        hangup_cause: int | None = None,
        dial_status: str | None = None,
        detail: str | None = None,
        recording: str | None = None,
    ) -> bool:
        """Set the outcome once. True when this call finished the attempt; False when it was
        already finished (its outcome is never overwritten) or does not exist. None keeps a field."""
        ...

    async def get(self, call_id: str) -> Attempt | None:
        """The attempt with this call id, or None."""
        ...

    async def recent(self, limit: int = 50, offset: int = 0, since: datetime | None = None) -> list[Attempt]:
        """Newest first; ``since`` keeps attempts created at or after that instant."""
        ...

    async def last_talk(self, lead_id: int, agent: str) -> Attempt | None:
        """The newest attempt on ``lead_id`` that was put through to ``agent`` (a talk, live or over), or None."""
        ...

    async def in_flight(self) -> list[Attempt]:
        """Every attempt without an outcome, oldest first: what to reconcile after a crash or reconnect."""
        ...

    async def count_in_flight(self, direction: Direction | None = None) -> int:
        """How many attempts are live (of one direction, or all): what line limits count."""
        ...
