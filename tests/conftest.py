"""Suite-wide rules.

In CI every test that needs the real Asterisk must run: a skipped or deselected
``asterisk`` test fails the run, so a green CI always means the telephony was
exercised for real.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.lab.lab import Lab
from dialer.settings import Settings

_skipped_asterisk: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "asterisk" in report.keywords:
        _skipped_asterisk.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_asterisk and os.environ.get("CI"):
        print(f"\nFAIL: {len(_skipped_asterisk)} Asterisk test(s) were skipped in CI:")
        for nodeid in _skipped_asterisk:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- the real Asterisk lab, shared by every test that needs it -----------------------------

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lab_settings() -> Settings:
    """The documented defaults, with relative paths resolved against the repository."""
    return Settings(base_dir=str(REPO))


@pytest.fixture(scope="session")
def lab(lab_settings: Settings) -> Iterator[Lab]:
    """One Asterisk + SIPp lab for the session on the default ports (reused if already up)."""
    lab = Lab(lab_settings)
    status = lab.up()
    yield lab
    if not status.already:
        lab.down()
