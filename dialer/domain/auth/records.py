"""Console users and their browser sessions, as the user store keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.access.policy import Role


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A stored login; ``password_hash`` never leaves the auth code (it is kept out of repr)."""

    id: int
    name: str
    role: Role
    agent: str | None
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None
    mobile: str | None = None  # E.164: where the visit notices for this person's customers go
    # The dealer whose rows this person sees; None: a group-wide person (docs/store.md "Dealers").
    dealer_id: int | None = MAIN_DEALER_ID

    def __repr__(self) -> str:
        return f"UserRecord(id={self.id}, name={self.name!r}, role={self.role.value}, agent={self.agent!r}, dealer_id={self.dealer_id})"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live browser session and the user behind it."""

    token_hash: str
    user: UserRecord
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
