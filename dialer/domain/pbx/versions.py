"""Asterisk's version string and its maintenance state on a given day.

A dealer's IT person installs whatever Asterisk the distribution ships; `dialer doctor` tells them
when that one no longer gets security fixes. The dates follow the Asterisk project's release policy
(a long-term-support major, even-numbered, is fully supported 4 years and gets security fixes one
more year; a standard major, odd-numbered, 1 + 1 years) and the dates it published for each major.
A major missing from the table is newer than this list, so it is taken as supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Support(StrEnum):
    """Where a major version stands on a given day."""

    SUPPORTED = "supported"
    SECURITY_ONLY = "security_only"  # no more bug fixes; plan the move
    END_OF_LIFE = "end_of_life"  # no more fixes of any kind


@dataclass(frozen=True, slots=True)
class Lifetime:
    """The day a major stops getting bug fixes and the day it stops getting security fixes."""

    security_only_from: date
    end_of_life: date


# The majors a dealer may still meet; older ones are all past their end of life.
LIFETIMES: dict[int, Lifetime] = {
    16: Lifetime(date(2022, 10, 9), date(2023, 10, 9)),
    17: Lifetime(date(2020, 10, 25), date(2021, 10, 25)),
    18: Lifetime(date(2024, 10, 20), date(2025, 10, 20)),
    19: Lifetime(date(2022, 11, 2), date(2023, 11, 2)),
    20: Lifetime(date(2026, 10, 16), date(2027, 10, 16)),
    21: Lifetime(date(2024, 10, 16), date(2025, 10, 16)),
    22: Lifetime(date(2028, 10, 16), date(2029, 10, 16)),
    23: Lifetime(date(2026, 10, 15), date(2027, 10, 15)),
}
OLDEST_LISTED = min(LIFETIMES)

# "Asterisk 16.28.0~dfsg-0+deb11u4 built by ..." (CLI), "16.28.0~dfsg-0+deb11u4" (AMI CoreSettings),
# "Asterisk 22.10.1+dfsg+~cs6.17.60671434-1" (asterisk -V), "certified/20.7-cert1".
_VERSION = re.compile(r"(?:^|[\s/])(\d+)\.(\d+)(?:\.(\d+))?")


class VersionError(ValueError):
    """The text names no Asterisk version."""


@dataclass(frozen=True, slots=True, order=True)
class AsteriskVersion:
    """An Asterisk release; ``text`` keeps the distribution's full string for reports."""

    major: int
    minor: int
    patch: int
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> AsteriskVersion:
        """The version in a string as the CLI, AMI or ``asterisk -V`` print it; ``text`` is its line
        (Asterisk may print a notice first: on a host without ethernet, "No ethernet interface found
        for seeding global EID")."""
        for line in text.strip().splitlines():
            found = _VERSION.search(line.strip())
            if found is not None:
                major, minor, patch = found.groups()
                return cls(int(major), int(minor), int(patch or 0), line.strip())
        raise VersionError(f"no Asterisk version in {text.strip()[:80]!r}")

    @property
    def short(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def support(self, today: date) -> Support:
        """This major's state on ``today``."""
        lifetime = LIFETIMES.get(self.major)
        if lifetime is None:
            return Support.END_OF_LIFE if self.major < OLDEST_LISTED else Support.SUPPORTED
        if today >= lifetime.end_of_life:
            return Support.END_OF_LIFE
        if today >= lifetime.security_only_from:
            return Support.SECURITY_ONLY
        return Support.SUPPORTED

    def lifetime(self) -> Lifetime | None:
        """The published dates of this major, when listed."""
        return LIFETIMES.get(self.major)
