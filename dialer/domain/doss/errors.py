"""The DOSS package's errors: one base, flat below it, so callers catch what they can handle."""

from __future__ import annotations


class DossError(Exception):
    """Base of everything the DOSS sync raises on purpose."""


class FormError(DossError):
    """The agent's disposition form does not satisfy the mapping; ``field`` names the culprit.

    Raised at the agent's desk, so the message is the one the UI shows next to the field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class OutboxError(DossError):
    """An outbox operation refers to a row that does not exist or is in the wrong status."""
