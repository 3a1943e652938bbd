"""Suite-wide rules.

In CI every test that needs the real Asterisk must run: a skipped or deselected
``asterisk`` test fails the run, so a green CI always means the telephony was
exercised for real.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.lab.lab import Lab
from dialer.settings import LabSettings, PbxSettings, RecordingSettings, Settings, StoreSettings

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


def settings_beside(tmp_path: Path, offset: int, customers_file: Path | None = None) -> Settings:
    """Settings for a second lab beside the session's: every port shifted by ``offset``, own folders.

    Files the repository ships (DOSS mapping, QA form, campaign samples) resolve against it;
    everything written (lab, store, recordings) goes below ``tmp_path``.
    """
    d = LabSettings()
    return Settings(
        base_dir=str(REPO),
        store=StoreSettings(path=str(tmp_path / "dialer.sqlite3")),
        pbx=PbxSettings(ami_port=PbxSettings().ami_port + offset),
        lab=LabSettings(
            dir=str(tmp_path / "lab"),
            sip_port=d.sip_port + offset,
            carrier_port=d.carrier_port + offset,
            agents_port=d.agents_port + offset,
            supervisor_port=d.supervisor_port + offset,
            inbound_port=d.inbound_port + offset,
            rtp_start=d.rtp_end + 1 + offset * 10,
            rtp_end=d.rtp_end + 1000 + offset * 10,
            customers_file=str(customers_file or REPO / d.customers_file),
        ),
        recording=RecordingSettings(dir=str(tmp_path / "recordings")),
    )


def write_config(tmp_path: Path, **sections: dict[str, object]) -> Path:
    """A config file for CLI tests: store and recordings below ``tmp_path``, the repository's
    shipped files (DOSS mapping, QA form, SMS templates) by absolute path, plus ``sections``
    (``doss={"export_dir": ...}``) merged over those defaults."""
    tables: dict[str, dict[str, object]] = {
        "store": {"path": str(tmp_path / "store.sqlite3")},
        "recording": {
            "dir": str(tmp_path / "recordings"),
            "compress": "none",
            "qa_form": str(REPO / "config" / "qa_form.toml"),
        },
        "doss": {"mapping_file": str(REPO / "config" / "doss_mapping.toml")},
        "log": {"level": "warning"},
    }
    if (REPO / "config" / "sms_templates.toml").exists():
        tables["sms"] = {"templates_file": str(REPO / "config" / "sms_templates.toml")}
    for name, values in sections.items():
        tables.setdefault(name, {}).update(values)
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items())
    path = tmp_path / "dialer.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
