"""Password hashing with scrypt (RFC 7914) from the standard library: no native extension to install.

The stored form is self-describing, ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the
cost can be raised later without invalidating existing passwords: :func:`needs_rehash` tells the
login to re-hash with the current cost after a successful check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from dialer.domain.auth.errors import BadUserInput


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's work factors. The default is OWASP's minimum for scrypt (N=2^17, r=8, p=1), about 128 MiB."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        """OpenSSL refuses the default 32 MiB cap for N=2^17; allow what the parameters need, plus slack."""
        return 2 * 128 * self.r * (1 << self.log2_n) + 1024 * 1024


DEFAULT_COST = ScryptCost()
# Longer than NIST SP 800-63B's floor of 8: a console that can play every recording and export every
# customer deserves more, and a passphrase of a few words passes easily.
MIN_PASSWORD_LENGTH = 10
# At least this many different characters: "aaaaaaaaaa" and "1111111111" are one keystroke held down.
_MIN_DISTINCT = 5
# The passwords every guessing list starts with (checked lower-cased, spaces removed).
_COMMON = frozenset({
    "password", "password1", "password123", "passw0rd", "1234567890", "0123456789", "12345678910",
    "qwertyuiop", "qwerty123", "1q2w3e4r5t", "abcdefghij", "abc1234567", "iloveyou", "admin12345",
    "administrator", "changeme", "change-me", "letmein123", "welcome123", "woaini1314", "5201314520",
})  # fmt: skip
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCHEME = "scrypt"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**cost.log2_n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=_HASH_BYTES
    )


def check_new_password(password: str, name: str) -> None:
    """Refuse a password a guesser would try first (the value itself is never echoed)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadUserInput("password", "***", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    folded = "".join(password.lower().split())
    if len(set(folded)) < _MIN_DISTINCT:
        raise BadUserInput("password", "***", f"must use at least {_MIN_DISTINCT} different characters")
    login = name.lower()
    # A short login ("li") is inside many good passphrases; a longer one inside the password is a guess.
    if folded in _COMMON or folded == login or (len(login) >= 4 and login in folded):
        raise BadUserInput("password", "***", "is one of the first a guesser tries (a common password, or the name)")


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    """A fresh salted hash of ``password`` in the self-describing stored form."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return "$".join(
        (_SCHEME, str(cost.log2_n), str(cost.r), str(cost.p), _b64(salt), _b64(_derive(password, salt, cost)))
    )


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
        return cost, base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; a malformed stored hash never matches."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    return hmac.compare_digest(_derive(password, salt, cost), expected)


def needs_rehash(stored: str, cost: ScryptCost = DEFAULT_COST) -> bool:
    """The stored hash was made with another cost than today's: re-hash it at the next login."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != cost
