"""The disk watch: levels, the keep/stop policy, and loud logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialer.clock import VirtualClock
from dialer.domain.recording.model import DiskLevel
from dialer.recording.disk import DiskWatch, Usage, disk_level
from dialer.settings import RecordingSettings

MB = 1024 * 1024


class FakeDisk:
    """A disk whose free space the test sets."""

    def __init__(self, free_mb: int) -> None:
        self.free_mb = free_mb

    def __call__(self, _path: Path) -> Usage:
        return Usage(total=100_000 * MB, used=(100_000 - self.free_mb) * MB, free=self.free_mb * MB)


@pytest.mark.parametrize(
    ("free_mb", "level"), [(6000, DiskLevel.OK), (5119, DiskLevel.LOW), (1023, DiskLevel.FULL), (0, DiskLevel.FULL)]
)
def test_levels_follow_the_thresholds(free_mb: int, level: DiskLevel) -> None:
    assert disk_level(free_mb, RecordingSettings(low_free_mb=5120, min_free_mb=1024)) is level


@pytest.mark.parametrize(("policy", "allowed"), [("keep_recording", True), ("stop_recording", False)])
def test_a_full_disk_is_an_error_and_the_policy_decides(tmp_path: Path, policy: str, allowed: bool) -> None:
    disk = FakeDisk(500)
    watch = DiskWatch(RecordingSettings(disk_full_policy=policy), tmp_path, VirtualClock(), usage=disk)
    with capture_logs() as logs:
        status = watch.check()
        watch.check()
    assert status.level is DiskLevel.FULL and status.recording_allowed is allowed
    assert watch.recording_allowed() is allowed
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 2 and errors[0]["event"] == "recording.disk_full"  # every check while full, not just once
    assert status.to_json_dict()["level"] == "full"


def test_low_warns_once_and_recovery_is_logged(tmp_path: Path) -> None:
    disk = FakeDisk(3000)
    watch = DiskWatch(RecordingSettings(disk_full_policy="stop_recording"), tmp_path, VirtualClock(), usage=disk)
    with capture_logs() as logs:
        watch.check()
        watch.check()
        disk.free_mb = 90_000
        status = watch.check()
    assert [e["event"] for e in logs] == ["recording.disk_low", "recording.disk_recovered"]
    assert status.level is DiskLevel.OK and status.recording_allowed


def test_an_unreadable_folder_counts_as_full(tmp_path: Path) -> None:
    watch = DiskWatch(RecordingSettings(disk_full_policy="stop_recording"), tmp_path / "absent", VirtualClock())
    with capture_logs() as logs:
        status = watch.check()
    assert status.level is DiskLevel.FULL and not status.recording_allowed
    assert logs[0]["event"] == "recording.disk_unreadable"


def test_the_real_disk_of_tmp_is_measured(tmp_path: Path) -> None:
    status = DiskWatch(RecordingSettings(low_free_mb=0, min_free_mb=0), tmp_path, VirtualClock()).check()
    assert status.total_mb > 0 and status.level is DiskLevel.OK
