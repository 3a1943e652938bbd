"""The manifest, the schedule and retention: pure rules, no files."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from dialer.domain.backup.manifest import BackupError, FileEntry, Manifest, RecordingsMode, StoreEntry
from dialer.domain.backup.schedule import folder_name, next_run, settings_problems, to_remove
from dialer.settings import BackupSettings
from tests.conftest import START

SHA = "a" * 64


def manifest(*paths: str) -> Manifest:
    return Manifest(
        created_at=START,
        store=StoreEntry(size=4096, sha256=SHA, schema_version=90, tables={"leads": 3, "attempts": 5}),
        recordings_mode=RecordingsMode.COPY,
        recordings=tuple(FileEntry(p, 10, SHA) for p in paths),
        missing=("2026/11/29/gone.wav",),
    )


def test_a_manifest_reads_back_what_it_wrote() -> None:
    m = manifest("2026/11/29/c1.wav", "2026/11/29/c2.flac")
    again = Manifest.from_json(m.to_json(), "manifest.json")
    assert again == m
    assert again.recordings_bytes == 20


@pytest.mark.parametrize("path", ["../store.sqlite3", "/etc/passwd", "2026/../../x.wav", "a//b.wav", "a/./b", "a b"])
def test_a_path_that_could_leave_the_folder_is_refused(path: str) -> None:
    text = manifest("ok.wav").to_json().replace('"ok.wav"', f'"{path}"')
    with pytest.raises(BackupError, match=r"where\.json: unsafe recording path"):
        Manifest.from_json(text, "where.json")


def test_bad_checksums_counts_and_formats_are_refused_naming_the_file() -> None:
    good = manifest("ok.wav").to_json()
    for bad, message in [
        (good.replace(SHA, "XYZ", 1), "not a SHA-256"),
        (good.replace('"size": 4096', '"size": -1'), "malformed manifest"),
        (good.replace('"format": 1', '"format": 2'), "format 2"),
        ("{", "not valid JSON"),
        (good.replace('"mode": "copy"', '"mode": "zip"'), "malformed manifest"),
    ]:
        with pytest.raises(BackupError, match=message) as caught:
            Manifest.from_json(bad, "b/manifest.json")
        assert "b/manifest.json" in str(caught.value)


def test_next_run_is_the_next_local_time_strictly_after() -> None:
    # START is 09:00 in Shanghai: 02:30 has passed today, so tomorrow's; 10:00 is still today's.
    assert next_run(START, time(2, 30), "Asia/Shanghai") == datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    assert next_run(START, time(10, 0), "Asia/Shanghai") == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    due = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    assert next_run(due, time(2, 30), "Asia/Shanghai") == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)


def test_folder_names_use_dealer_time_and_retention_keeps_the_newest() -> None:
    assert folder_name(START, "Asia/Shanghai") == "20261129-090000"
    names = ["20261127-023000", "20261129-023000", ".pool", "20261128-023000", "notes.txt", ".20261130-023000.partial"]
    assert to_remove(names, 2) == ["20261127-023000"]
    assert to_remove(names, 5) == []


def test_settings_problems() -> None:
    assert settings_problems(BackupSettings()) == []
    assert settings_problems(BackupSettings(time="")) == []
    found = settings_problems(BackupSettings(keep=0, time="25:00", recordings="zip", dir=""))
    assert len(found) == 4 and any("backup.time = '25:00'" in p for p in found)
