"""Fixtures of the lab tests on top of the suite-wide ``lab`` and ``lab_settings``
(tests/conftest.py): a fresh raw AMI connection per test, and every channel left over
hung up after each test so line counters and agents start clean."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialer.lab.lab import Lab
from dialer.settings import Settings
from tests.lab.rawami import RawAmi


@pytest.fixture
async def ami(lab: Lab, lab_settings: Settings) -> AsyncIterator[RawAmi]:
    pbx = lab_settings.pbx
    conn = await RawAmi.connect(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret)
    try:
        yield conn
    finally:
        await conn.close()
        lab.hangup_all()


@pytest.fixture(scope="session")
def recordings(lab: Lab) -> Path:
    return lab.layout.recordings


@pytest.fixture(scope="session")
def asterisk_major(lab: Lab) -> int:
    """The major version of the lab's Asterisk, for contract facts that differ between versions."""
    return lab.asterisk_version().major
