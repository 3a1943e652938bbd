"""``dialer users add`` / ``list`` through the real CLI; the stored hash logs in through the service."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dialer.cli import main
from tests.conftest import write_config


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_users_add_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(_config(tmp_path))
    monkeypatch.setenv("NEW_PW", "a long enough secret")
    assert main(["--config", cfg, "users", "add", "zhang", "--role", "agent", "--agent", "agent1", "--password-env", "NEW_PW"]) == 0
    assert "zhang" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert main(["--config", cfg, "users", "add", "li", "--role", "supervisor"]) == 0
    capsys.readouterr()
    assert main(["--config", cfg, "users", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {"name": "li", "role": "supervisor", "agent": None, "disabled": False},
        {"name": "zhang", "role": "agent", "agent": "agent1", "disabled": False},
    ]
    # The same name twice, or a short password, is one clear line and exit code 2.
    assert main(["--config", cfg, "users", "add", "zhang", "--role", "qa", "--password-env", "NEW_PW"]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("SHORT", "abc")
    assert main(["--config", cfg, "users", "add", "wang", "--role", "qa", "--password-env", "SHORT"]) == 2
    assert "password" in capsys.readouterr().err
