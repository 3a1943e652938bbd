"""Suite-wide rules.

In CI every test that needs the real Asterisk must run: a skipped or deselected
``asterisk`` test fails the run, so a green CI always means the telephony was
exercised for real.
"""

from __future__ import annotations

import os

import pytest

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
