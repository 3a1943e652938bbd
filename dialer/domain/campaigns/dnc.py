"""The do-not-call list: numbers no campaign dials, whatever lead they belong to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DncEntry:
    """A number on the do-not-call list, and who put it there and why."""

    e164: str
    reason: str
    added_at: datetime
    added_by: str


class DncList(Protocol):
    """Where the list is kept (``dialer.store.campaigns.DncStore``)."""

    async def add(self, e164: str, reason: str, at: datetime, actor: str) -> bool:
        """Put a number on the list; False if it was already there (the first entry is kept)."""
        ...

    async def remove(self, e164: str) -> bool:
        """Take a number off the list; False if it was not on it."""
        ...

    async def entries(self) -> list[DncEntry]:
        """Every number on the list, newest first."""
        ...
