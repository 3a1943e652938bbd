"""The auth package's errors: one base, flat below it."""

from __future__ import annotations


class AuthError(Exception):
    """Base of everything the auth package raises on purpose."""


class BadUserInput(AuthError):
    """A user name, role or password that cannot be stored; the message names the field and the value."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} = {value!r}: {reason}")
        self.field = field


class UserExists(AuthError):
    """``dialer users add`` for a name that is already taken."""


class LoginRefused(AuthError):
    """Wrong name or password, or too many recent failures; ``retry_after_s`` > 0 means throttled.

    Deliberately does not say which of name or password was wrong.
    """

    def __init__(self, retry_after_s: float = 0.0) -> None:
        super().__init__("login refused" + (f"; retry after {retry_after_s:.0f} s" if retry_after_s else ""))
        self.retry_after_s = retry_after_s
