"""A seeded store and recordings folder to back up: three recorded calls (tests/recording's seed)."""

from __future__ import annotations

from pathlib import Path

from dialer.settings import BackupSettings, RecordingSettings, Settings, StoreSettings
from tests.conftest import REPO


def settings_for(tmp_path: Path, **backup: object) -> Settings:
    """Store, recordings and backups below ``tmp_path`` (the paths ``tests.recording.test_cli.seed`` writes)."""
    return Settings(
        base_dir=str(REPO),
        store=StoreSettings(path=str(tmp_path / "store.sqlite3")),
        recording=RecordingSettings(dir=str(tmp_path / "recordings"), compress="none"),
        backup=BackupSettings(dir=str(tmp_path / "backups"), **backup),  # type: ignore[arg-type]
    )
