"""The suppression list: the one list of numbers that get no call and no SMS, whoever's lead they are.

One list, number-based (a person is reached through a number, and a number outlives the lead it
was imported with), fed by every place a customer can say "do not contact me": an SMS reply
("T", "退订"), the agent's 勿扰 disposition on an outbound or inbound call, an import's opt-out
column, and a supervisor on the console or the command line. Each entry keeps why, from where,
when and who; lifting an entry keeps it, stamped with who lifted it and why, so the list's
history survives every change.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope

# A reason is a sentence, not a document: long enough for "客户来电要求勿扰，投诉过两次".
REASON_MAX = 200


class SuppressionSource(StrEnum):
    """Where an entry came from; the i18n key is ``privacy.source.<value>``."""

    SMS_REPLY = "sms_reply"  # the customer answered an SMS with an opt-out keyword
    CALL = "call"  # the agent's 勿扰 disposition on an outbound call
    INBOUND = "inbound"  # the agent's 勿扰 disposition on a call the customer made
    IMPORT = "import"  # a lead file's opt-out column
    CONSOLE = "console"  # a supervisor on the console's DNC screen
    CLI = "cli"  # `dialer dnc add`


class SuppressionError(ValueError):
    """An entry or a change to the list that cannot be accepted; the message names what, and
    ``field`` which of the entry's fields (``number`` or ``reason``), for a form to show it there."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Suppression:
    """One entry: the number, why, from where, when and who; ``lifted_*`` once taken off the list."""

    id: int
    e164: str
    reason: str
    source: SuppressionSource
    at: datetime
    actor: str
    lead_id: int | None = None  # the lead the number belonged to when it was added
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    dealer_id: int = MAIN_DEALER_ID  # the dealer whose people added it (the number stays undialled group-wide)

    @property
    def active(self) -> bool:
        """True while the number is suppressed."""
        return self.lifted_at is None

    def to_json_dict(self) -> dict[str, object]:
        """The entry as the command line and the console's API show it (times ISO 8601)."""
        return {
            "id": self.id,
            "number": self.e164,
            "reason": self.reason,
            "source": self.source.value,
            "at": self.at.isoformat(),
            "by": self.actor,
            "lead_id": self.lead_id,
            "lifted_at": None if self.lifted_at is None else self.lifted_at.isoformat(),
            "lifted_by": self.lifted_by,
            "lift_reason": self.lift_reason,
            "dealer_id": self.dealer_id,
        }


def check_reason(text: str) -> str:
    """A reason as it is kept: trimmed; :class:`SuppressionError` for an empty, overlong or control-laden one."""
    reason = text.strip()
    if not reason:
        raise SuppressionError("reason: say why (it is kept with the entry)", "reason")
    if len(reason) > REASON_MAX:
        raise SuppressionError(f"reason: {len(reason)} characters, at most {REASON_MAX}", "reason")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in reason):
        raise SuppressionError("reason: contains control or unassigned characters", "reason")
    return reason


class SuppressionList(Protocol):
    """Where the list is kept (``dialer.store.suppressions.SuppressionStore``)."""

    async def add(
        self,
        e164: str,
        reason: str,
        source: SuppressionSource,
        at: datetime,
        actor: str,
        lead_id: int | None = None,
        dealer_id: int | None = None,
    ) -> bool:
        """Put a number on the list (an entry of ``dealer_id``: None, the lead's dealer or this node's); False
        if it was on it already (the first entry is kept)."""
        ...

    async def lift(self, e164: str, reason: str, at: datetime, actor: str, dealers: DealerScope = EVERY_DEALER) -> bool:
        """Take a number off the list, keeping the entry with who and why; False if it was not on it (or
        its entry is of a dealer ``dealers`` does not see)."""
        ...

    async def search(
        self, text: str, *, include_lifted: bool, limit: int, dealers: DealerScope = EVERY_DEALER
    ) -> list[Suppression]:
        """Entries (``dealers``') whose number contains ``text`` (digits) or whose reason does, newest first."""
        ...

    async def active(self, e164: str) -> Suppression | None:
        """The number's active entry, or None when it may be contacted."""
        ...
