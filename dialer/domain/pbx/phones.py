"""The phones' SIP accounts: every agent's phone and the supervisor's registers with a user name and password.

A password is generated (``secrets``, 20 characters from a 62-letter alphabet: ~119 bits), shown once
when the account is created or reset, and never stored: the store keeps only the SIP digest
``HA1 = MD5(username:realm:password)``, which is what Asterisk checks (``md5_cred``) and all a
rendering needs. HA1 opens only this SIP account (the realm is part of it), not any other login.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope

# The digest realm of every phone's challenge; part of each stored HA1, so it never changes.
REALM = "dcc"
PASSWORD_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits
# Endpoint names are dialled as PJSIP/<name> and matched as extensions: lower-case letters and digits,
# starting with a letter, so none can be mistaken for a phone number or a dialplan pattern.
_ENDPOINT = re.compile(r"^[a-z][a-z0-9]{0,31}$")


class PhoneError(Exception):
    """An account that cannot be created or changed; the message names the field and the value."""


class PhoneNotFound(PhoneError):
    """No account has this endpoint (a console answers 404, not 400)."""


@dataclass(frozen=True, slots=True)
class PhoneAccount:
    """One phone's SIP account as stored and rendered: ``ha1`` stands in for the password."""

    endpoint: str
    ha1: str
    created_at: datetime | None = None
    changed_at: datetime | None = None
    dealer_id: int = MAIN_DEALER_ID  # stored as the node's dealer's when added

    @property
    def username(self) -> str:
        """The SIP user name the phone registers with: the endpoint's name (Asterisk finds the
        registration's AOR by the user of the To header, so the two must be the same)."""
        return self.endpoint

    def __repr__(self) -> str:
        return f"PhoneAccount(endpoint={self.endpoint!r})"


@dataclass(frozen=True, slots=True)
class NewPassword:
    """An account with the password just generated for it: shown to the admin once, then gone."""

    account: PhoneAccount
    password: str

    def __repr__(self) -> str:
        return f"NewPassword({self.account!r})"


class PhoneRepository(Protocol):
    """Where the accounts live (``dialer/store/phones.py``)."""

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[PhoneAccount]: ...

    async def get(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> PhoneAccount | None: ...

    async def add(self, account: PhoneAccount) -> PhoneAccount | None:
        """The account as stored (on the store's dealer), or None when the endpoint is taken."""
        ...

    async def set_ha1(self, endpoint: str, ha1: str, at: datetime, dealers: DealerScope = EVERY_DEALER) -> bool: ...

    async def remove(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> bool: ...


def check_endpoint(endpoint: str) -> None:
    """Raise :class:`PhoneError` for a name that cannot be a phone's endpoint."""
    if not _ENDPOINT.match(endpoint):
        raise PhoneError(f"endpoint = {endpoint!r}: use a lower-case letter, then up to 31 letters or digits")


def new_password() -> str:
    """A strong random password, easy to type into a phone's keypad menu (letters and digits only)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


def account(endpoint: str, password: str) -> PhoneAccount:
    """The account of ``endpoint`` whose phone authenticates with ``password``."""
    check_endpoint(endpoint)
    return PhoneAccount(endpoint, ha1(endpoint, password))


def ha1(username: str, password: str, realm: str = REALM) -> str:
    """The SIP digest secret of ``username`` (RFC 2617's HA1), as Asterisk's ``md5_cred`` takes it."""
    # MD5 is what SIP digest authentication is defined with; this is not a password hash for storage.
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
