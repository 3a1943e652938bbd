"""``dialer leads transfer`` and ``dialer leads owners`` end to end, against a store in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.leads.sheets import write_sheet
from tests.conftest import write_config


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DIALER_CONFIG", raising=False)
    monkeypatch.setenv("DCC_TEST_PW", "correct horse battery")
    path = write_config(tmp_path, store={"path": str(tmp_path / "cli.sqlite3")})
    leads = tmp_path / "hq.csv"
    write_sheet(leads, ["姓名", "手机", "负责人"], [["张三", "13800138000", "agent1"], ["李四", "13900139000", ""]])
    for name, agent in (("zhang", "agent1"), ("wu", "agent2")):
        add = ["users", "add", name, "--role", "agent", "--agent", agent, "--password-env", "DCC_TEST_PW"]
        assert main(["--config", str(path), *add]) == 0
    assert main(["--config", str(path), "leads", "import", str(leads), "--source", "hq"]) == 0
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "leads", *args])


def test_transfer_then_owners(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(config, "transfer", "1", "2", "--to", "agent2", "--reason", "agent1 on leave", "--actor", "zhao") == 0
    out = capsys.readouterr().out
    assert "已转交 2 条" in out and "agent1" in out
    assert run(config, "transfer", "1", "--to", "agent2", "--reason", "again", "--json") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"lead_id": 1, "name": "张三", "from": "agent2", "to": "agent2", "result": "unchanged"}
    ]
    assert run(config, "owners", "--json") == 0
    owners = json.loads(capsys.readouterr().out)
    assert owners == [
        {"owner": "agent2", "by_state": {"new": 2}, "total": 2, "overdue": 0},
        {"owner": None, "by_state": {}, "total": 0, "overdue": 0},
    ]
    assert run(config, "owners") == 0
    assert "（未分配）" in capsys.readouterr().out


def test_refusals_name_what_is_wrong(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(config, "transfer", "1", "--to", "agent9", "--reason", "x") == 2
    assert "to_owner 'agent9'" in capsys.readouterr().err
    assert run(config, "transfer", "1", "99", "--to", "agent2", "--reason", "x") == 2
    assert "lead 99 does not exist" in capsys.readouterr().err
    assert run(config, "owners", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["owner"] == "agent1"  # nothing moved
