"""Time-based one-time codes (RFC 6238) for the logins that can do the most: supervisors and admins.

pyotp computes the codes; what is decided here is the dealer's rule: which roles may enrol, which
time steps a code may come from (the current one and one on either side, for a phone's clock a few
seconds off), and that a code is used once: a step at or before the last one accepted is refused, so a
code seen over a shoulder or in a proxy log is worth nothing after its owner logged in with it.
Time is an argument (the injected clock's), never read here.
"""

from __future__ import annotations

from datetime import datetime

import pyotp
from pyotp.utils import strings_equal

from dialer.domain.access.policy import Role

ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may enrol (docs/web.md, "Two-factor login")."""

ISSUER = "DCC Dialer"
STEP_S = 30
# Steps before and after the current one whose code is still taken (RFC 6238 section 5.2).
_DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 secret (160 bits, from the OS's random source)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, login: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=login, issuer_name=ISSUER)


def step_of(at: datetime) -> int:
    """The time step ``at`` falls in."""
    return int(at.timestamp()) // STEP_S


def code_at(secret: str, step: int) -> str:
    """The code of one time step (what the user's app shows during it)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(step * STEP_S)


def accepted_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The step ``code`` belongs to when it is valid at ``at`` and newer than ``last_step``; else None.

    The caller stores the returned step as the new ``last_step`` before it lets the user in."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    now = step_of(at)
    for step in range(now - _DRIFT_STEPS, now + _DRIFT_STEPS + 1):
        if (last_step is None or step > last_step) and strings_equal(code_at(secret, step), code):
            return step
    return None
