"""What an erasure keeps of the number it erased: a slow salted digest, never the number.

The record of an erasure must prove, when the person asks again, that their data was erased,
without being a list of the numbers of everyone who asked. A phone number has about 10^10
values, so a plain salted hash is found by trying them all; PBKDF2 with many iterations makes
each try cost milliseconds, and a fresh salt per erasure stops one table serving all records.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

ITERATIONS = 200_000
SALT_BYTES = 16
# What the erased rows keep in place of text that named or described the person.
ERASED = "(已删除)"


def digest(e164: str, salt: bytes) -> str:
    """The number's digest under ``salt`` (hex)."""
    return hashlib.pbkdf2_hmac("sha256", e164.encode("ascii"), salt, ITERATIONS).hex()


def matches(e164: str, salt: bytes, expected: str) -> bool:
    """Whether ``expected`` is the digest of ``e164`` under ``salt`` (constant time)."""
    return hmac.compare_digest(digest(e164, salt), expected)


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """How many rows of each kind an erasure anonymized or deleted."""

    leads: int = 0
    lead_events: int = 0
    attempts: int = 0
    sms_messages: int = 0
    sms_inbound: int = 0
    recordings_deleted: int = 0
    recordings_scheduled: int = 0


@dataclass(frozen=True, slots=True)
class Erasure:
    """The record of one erasure."""

    id: int
    at: datetime
    actor: str
    salt: bytes
    number_digest: str
    counts: ErasureCounts
