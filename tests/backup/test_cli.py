"""``dialer backup``, ``dialer backup verify`` and ``dialer restore`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.store.process_lock import pbx_lock
from tests.conftest import START, write_config
from tests.recording.test_cli import seed


@pytest.fixture
def cfg(tmp_path: Path) -> str:
    seed(tmp_path)
    return str(write_config(tmp_path, backup={"dir": str(tmp_path / "backups"), "keep": 3}))


def test_backup_verify_and_restore_into_a_new_folder(cfg: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["--config", cfg, "--lang", "en", "backup"], clock=VirtualClock(START)) == 0
    captured = capsys.readouterr()
    folder = tmp_path / "backups" / "20261129-090000"
    assert f"backup made and verified: {folder}" in captured.out
    assert "recordings: 3 files" in captured.out and "new or changed ones copied" in captured.out
    assert "recordings: 3/3 files" in captured.err  # progress

    assert main(["--config", cfg, "backup", "verify", str(folder)]) == 0
    assert "完好" in capsys.readouterr().out

    fresh = tmp_path / "fresh"
    assert main(["--config", cfg, "--lang", "en", "restore", str(folder), "--into", str(fresh)]) == 0
    out = capsys.readouterr().out
    assert f"store {fresh / 'store.sqlite3'}" in out and "3 files written" in out and "[store] path" in out
    for wav in (tmp_path / "recordings").rglob("*.wav"):
        assert (fresh / "recordings" / wav.relative_to(tmp_path / "recordings")).read_bytes() == wav.read_bytes()

    # Again into the same folder: the store is there now.
    assert main(["--config", cfg, "--lang", "en", "restore", str(folder), "--into", str(fresh)]) == 2
    assert "restore refused" in capsys.readouterr().err


def test_verify_names_a_tampered_file_and_restore_refuses(cfg: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--config", cfg, "backup", "--to", str(tmp_path / "usb")], clock=VirtualClock(START)) == 0
    folder = tmp_path / "usb" / "20261129-090000"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["store"]["size"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", cfg, "--lang", "en", "backup", "verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAILED its check (1 problem(s))" in out and "store copy" in out and "dialer.sqlite3" in out
    assert main(["--config", cfg, "--lang", "en", "restore", str(folder), "--into", str(tmp_path / "x")]) == 2
    assert "restore refused" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_restore_onto_the_configured_store_needs_force_and_a_stopped_service(cfg: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--config", cfg, "backup"], clock=VirtualClock(START)) == 0
    folder = str(tmp_path / "backups" / "20261129-090000")
    capsys.readouterr()
    assert main(["--config", cfg, "--lang", "en", "restore", folder]) == 2
    assert "exists: a restore never replaces a store without --force" in capsys.readouterr().err
    with pbx_lock(load(cfg)):  # what `dialer web` holds while it runs
        assert main(["--config", cfg, "--lang", "en", "restore", folder, "--force"]) == 2
    assert "in use by another live dialer process" in capsys.readouterr().err
    assert main(["--config", cfg, "--lang", "en", "restore", folder, "--force"]) == 0
    assert "0 files written, 3 already there" in capsys.readouterr().out


def test_restoring_a_backup_that_only_listed_the_recordings_says_so(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    cfg = str(write_config(tmp_path, backup={"dir": str(tmp_path / "backups"), "recordings": "list"}))
    assert main(["--config", cfg, "--lang", "en", "backup"], clock=VirtualClock(START)) == 0
    assert "listed with checksums, not copied" in capsys.readouterr().out
    folder = str(tmp_path / "backups" / "20261129-090000")
    assert main(["--config", cfg, "--lang", "en", "restore", folder, "--into", str(tmp_path / "x")]) == 0
    assert "only listed the recordings" in capsys.readouterr().out
