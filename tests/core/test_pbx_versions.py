"""Asterisk version strings as each source prints them, and a major's support state by date."""

from __future__ import annotations

from datetime import date

import pytest

from dialer.domain.pbx.versions import AsteriskVersion, Support, VersionError


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("Asterisk 16.28.0~dfsg-0+deb11u4 built by pbuilder @ localhost on a x86_64 running Linux", "16.28.0"),
        ("16.28.0~dfsg-0+deb11u4", "16.28.0"),
        ("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1\n", "22.10.1"),
        ("Asterisk certified/20.7-cert1", "20.7.0"),
    ],
)
def test_versions_parse_from_the_cli_ami_and_the_binary(text: str, short: str) -> None:
    assert AsteriskVersion.parse(text).short == short


def test_a_notice_before_the_version_is_not_part_of_its_text() -> None:
    # What `asterisk -rx "core show version"` prints on a host without ethernet (a network namespace).
    version = AsteriskVersion.parse(
        "No ethernet interface found for seeding global EID. You will have to set it manually.\n"
        "Asterisk 22.10.1+dfsg+~cs6.17.60671434-1 built by nobody @ buildd.debian.org on a unknown running Linux\n"
    )
    assert (version.short, version.text[:14]) == ("22.10.1", "Asterisk 22.10")


def test_text_without_a_version_is_refused_naming_it() -> None:
    with pytest.raises(VersionError, match="no Asterisk version in 'No such command'"):
        AsteriskVersion.parse("No such command")


@pytest.mark.parametrize(
    ("version", "day", "state"),
    [
        ("16.28.0", date(2023, 10, 8), Support.SECURITY_ONLY),
        ("16.28.0", date(2023, 10, 9), Support.END_OF_LIFE),
        ("13.38.3", date(2026, 12, 3), Support.END_OF_LIFE),  # older than every listed major
        ("20.15.1", date(2026, 12, 3), Support.SECURITY_ONLY),
        ("22.10.1", date(2026, 12, 3), Support.SUPPORTED),
        ("22.10.1", date(2029, 10, 16), Support.END_OF_LIFE),
        ("24.0.0", date(2026, 12, 3), Support.SUPPORTED),  # newer than the table
    ],
)
def test_support_follows_the_published_dates(version: str, day: date, state: Support) -> None:
    assert AsteriskVersion.parse(version).support(day) is state
