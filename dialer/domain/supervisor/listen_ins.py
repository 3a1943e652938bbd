"""The listen-in audit: one record per time a supervisor listened, whispered or barged in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.timestamps import to_db


@dataclass(frozen=True, slots=True)
class ListenIn:
    """One audited listen-in: who, whom, when, how long, and how (every mode used, in order)."""

    id: int
    supervisor: str
    agent: str
    phone: str
    channel_id: str
    modes: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    dealer_id: int  # the node's dealer, whose agent was listened to

    @property
    def seconds(self) -> float | None:
        """How long it lasted; None while it runs."""
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for ``dialer supervise log --json`` and the console."""
        return {
            "id": self.id,
            "supervisor": self.supervisor,
            "agent": self.agent,
            "phone": self.phone,
            "modes": list(self.modes),
            "started_at": to_db(self.started_at),
            "ended_at": None if self.ended_at is None else to_db(self.ended_at),
            "end_reason": self.end_reason,
            "seconds": self.seconds,
            "dealer_id": self.dealer_id,
        }
