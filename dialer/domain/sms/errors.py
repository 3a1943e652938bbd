"""The SMS package's errors: one flat family, so callers catch exactly what they can handle."""

from __future__ import annotations


class SmsError(Exception):
    """Something in the SMS path failed; the message says what and where."""


class SmsConfigError(SmsError):
    """The SMS configuration or a template is unusable (names the template, field and value)."""


class GatewayUnavailable(SmsError):
    """The SMS gateway cannot be reached right now; the outbox keeps the message and tries later."""


class SubmitRejected(SmsError):
    """The gateway answered a submit with an error status: this part was not accepted."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"gateway refused the message: status 0x{status:08X}{' ' + detail if detail else ''}")
        self.status = status


class SubmitAmbiguous(SmsError):
    """The submit went out but no answer came back: the gateway may or may not have taken it."""


class MessageRefused(SmsError):
    """A message may not be sent (opt-out, frequency cap, no number); nothing was queued."""
