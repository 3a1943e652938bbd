"""What every SMS driver offers the outbox, whatever it speaks underneath (SMPP, SIP MESSAGE).

The outbox thinks in parts: one submit per part, each with our own client reference,
so a receipt or a reconciliation can be tied to exactly one row. Drivers turn their
library's events into the small frozen events below; nothing above a driver sees a PDU.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutPart:
    """One part to submit: payload already encoded (UDH included when concatenated)."""

    message_id: int
    seq: int
    total: int
    to: str  # E.164
    payload: bytes
    coding: int
    client_ref: int  # 16-bit, sent as user_message_reference and echoed by receipts
    text: str  # the whole message's text, for drivers that send text (SIP MESSAGE)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: the final fate of one submitted part."""

    smsc_id: str
    delivered: bool
    state: str  # DELIVRD, UNDELIV, EXPIRED, REJECTD, ...
    handset: str  # the number the part was sent to, as the gateway wrote it
    client_ref: int | None  # our user_message_reference, when the gateway echoes it
    error: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message a customer sent us (mobile originated), parts already reassembled."""

    sender: str  # as the gateway wrote it; the service normalizes it
    recipient: str
    text: str


DriverEvent = Receipt | Inbound


class SmsDriver(Protocol):
    """A way to send SMS. ``submit`` raises GatewayUnavailable (not sent: retry freely),
    SubmitRejected (refused: retry per policy) or SubmitAmbiguous (may have been taken: never
    resend blindly)."""

    @property
    def connected(self) -> bool:
        """True while a submit can go out now."""
        ...

    async def start(self) -> None:
        """Begin connecting (in the background; the link comes and goes on its own)."""
        ...

    async def close(self) -> None:
        """Stop and release the link."""
        ...

    async def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the link; True if it is up."""
        ...

    async def submit(self, part: OutPart) -> str:
        """Send one part; returns the gateway's message id for it."""
        ...

    def events(self) -> AsyncIterator[DriverEvent]:
        """Receipts and inbound messages, in arrival order, across reconnects."""
        ...
