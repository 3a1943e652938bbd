"""``dialer users add`` / ``list`` through the real CLI; the stored hash logs in through the service."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from dialer.cli import main
from tests.conftest import checkout_env, write_config


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_users_add_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(_config(tmp_path))
    monkeypatch.setenv("NEW_PW", "a long enough secret")
    assert (
        main(
            [
                "--config",
                cfg,
                "users",
                "add",
                "zhang",
                "--role",
                "agent",
                "--agent",
                "agent1",
                "--password-env",
                "NEW_PW",
            ]
        )
        == 0
    )
    assert "zhang" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert main(["--config", cfg, "users", "add", "li", "--role", "supervisor"]) == 0
    capsys.readouterr()
    assert main(["--config", cfg, "users", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {"name": "li", "role": "supervisor", "agent": None, "mobile": None, "disabled": False, "dealer": "main"},
        {"name": "zhang", "role": "agent", "agent": "agent1", "mobile": None, "disabled": False, "dealer": "main"},
    ]
    # The same name twice, or a short password, is one clear line and exit code 2.
    assert main(["--config", cfg, "users", "add", "zhang", "--role", "qa", "--password-env", "NEW_PW"]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("SHORT", "abc")
    assert main(["--config", cfg, "users", "add", "wang", "--role", "qa", "--password-env", "SHORT"]) == 2
    assert "password" in capsys.readouterr().err


def test_users_of_a_dealer_or_of_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dealer names a dealer the group has (a node makes its own on start), --group makes a group-wide user."""
    path = _config(tmp_path)
    monkeypatch.setenv("NEW_PW", "a long enough secret")
    add = ["users", "add", "--password-env", "NEW_PW"]
    assert main(["--config", str(path), *add, "sup_b", "--role", "supervisor", "--dealer", "b"]) == 2
    assert "没有代码为 b 的经销商" in capsys.readouterr().err
    # A node of dealer b (its own config) starts once: dealer b exists from then on.
    other = tmp_path / "b.toml"
    other.write_text(path.read_text(encoding="utf-8") + "\n[dealer]\ncode = 'b'\n", encoding="utf-8")
    assert main(["--config", str(other), "users", "list"]) == 0
    assert main(["--config", str(path), *add, "sup_b", "--role", "supervisor", "--dealer", "b"]) == 0
    assert main(["--config", str(path), *add, "boss", "--role", "sales_manager", "--group"]) == 0
    assert main(["--config", str(path), *add, "a1", "--role", "agent"]) == 0
    assert main(["--config", str(path), *add, "roamer", "--role", "agent", "--group"]) == 2
    assert "an agent works for one dealer" in capsys.readouterr().err
    # Logins are per dealer: b has an a1 of its own; a group user's login is no dealer user's (a node's
    # plain login then means one person), nor the reverse.
    assert main(["--config", str(path), *add, "a1", "--role", "agent", "--dealer", "b"]) == 0
    assert main(["--config", str(path), *add, "a1", "--role", "qa", "--group"]) == 2
    assert "a dealer's user's login" in capsys.readouterr().err
    assert main(["--config", str(path), *add, "boss", "--role", "qa", "--dealer", "b"]) == 2
    assert "a group-wide user's login" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["--config", str(path), "users", "list", "--json"]) == 0
    listed = sorted((u["name"], u["dealer"]) for u in json.loads(capsys.readouterr().out))
    assert listed == [("a1", "b"), ("a1", "main"), ("boss", None), ("sup_b", "b")]
    # Owner names are a dealer's own too: 王丽 names b's a1 at b, nobody at this node's dealer.
    assert main(["--config", str(path), "users", "alias", "add", "王丽", "a1", "--dealer", "b"]) == 0
    for dealer, expected in ((["--dealer", "b"], [{"alias": "王丽", "user": "a1", "agent": "a1"}]), ([], [])):
        capsys.readouterr()
        assert main(["--config", str(path), "users", "alias", "list", "--json", *dealer]) == 0
        assert json.loads(capsys.readouterr().out)["aliases"] == expected
    assert main(["--config", str(path), "users", "alias", "remove", "王丽"]) == 2
    assert main(["--config", str(path), "users", "alias", "remove", "王丽", "--dealer", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["--config", str(path), "users", "alias", "remove", "王丽", "--dealer", "b"]) == 0
    # Another dealer's user is named code/login: b's a1 is disabled, this node's a1 is not.
    assert main(["--config", str(path), "users", "disable", "b/a1"]) == 0
    assert main(["--config", str(path), "users", "disable", "nowhere/a1"]) == 2
    assert "no such user" in capsys.readouterr().err
    assert main(["--config", str(path), "users", "list", "--json"]) == 0
    disabled = {(u["name"], u["dealer"]) for u in json.loads(capsys.readouterr().out) if u["disabled"]}
    assert disabled == {("a1", "b")}


def test_users_mobile_and_owner_aliases_through_an_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The manager names 王丽 as the agent zhang; the file's 小明 is nobody's and is reported with its row."""
    cfg = str(_config(tmp_path))
    monkeypatch.setenv("NEW_PW", "a long enough secret")
    add = ["users", "add", "zhang", "--role", "agent", "--agent", "agent1", "--password-env", "NEW_PW"]
    assert main(["--config", cfg, *add]) == 0
    assert main(["--config", cfg, "users", "mobile", "zhang", "139-0013-9000"]) == 0
    assert "+8613900139000" in capsys.readouterr().out
    assert main(["--config", cfg, "users", "mobile", "zhang", "021-58881888"]) == 2
    assert "mobile = '021-58881888': not a mobile number" in capsys.readouterr().err
    assert main(["--config", cfg, "users", "alias", "add", "王丽", "zhang", "--actor", "经理"]) == 0
    assert "王丽" in capsys.readouterr().out
    assert main(["--config", cfg, "users", "alias", "add", "zhang2", "nobody"]) == 2
    assert "user 'nobody'" in capsys.readouterr().err
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "姓名,手机,线索来源,负责人\n甲,13800138001,网络,王丽\n乙,13800138002,网络,小明\n", encoding="utf-8"
    )
    assert main(["--config", cfg, "leads", "import", str(leads)]) == 0
    out = capsys.readouterr().out
    assert "无法识别的负责人" in out and re.search(r"^3\s+小明\s*$", out, re.MULTILINE)
    assert main(["--config", cfg, "users", "alias", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "aliases": [{"alias": "王丽", "user": "zhang", "agent": "agent1"}],
        "unknown": [],
    }
    assert main(["--config", cfg, "leads", "owners", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "owner": "agent1",
        "by_state": {"new": 1},
        "total": 1,
        "overdue": 0,
    }
    assert main(["--config", cfg, "users", "alias", "remove", "王丽"]) == 0
    assert main(["--config", cfg, "users", "alias", "remove", "王丽"]) == 2
    assert "no such alias" in capsys.readouterr().err


# -- dialer web ------------------------------------------------------------------------------------

# A limit that only keeps a broken run from hanging; nothing here measures speed.
SERVE_LIMIT_S = 60.0
_URL = re.compile(r"http://[\d.]+:\d+")


async def test_web_no_pbx_prints_its_address_serves_the_console_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    cfg = str(_config(tmp_path))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer", "--config", cfg, "--lang", "en", "web", "--no-pbx", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=checkout_env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(SERVE_LIMIT_S):
            line = (await proc.stdout.readline()).decode()
            url = _URL.search(line)
            assert url is not None, f"no address printed: {line!r}"
            assert "store only" in (await proc.stdout.readline()).decode()
            async with aiohttp.ClientSession() as http, http.get(f"{url.group(0)}/login") as answer:
                assert answer.status == 200
            proc.send_signal(signal.SIGINT)
            _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_web_refuses_a_store_another_server_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    store = tmp_path / "store.sqlite3"
    with open(f"{store}.pbx.lock", "w") as held:  # what a live `dialer web` holds for its lifetime
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["--config", str(cfg), "web", "--port", "0"]) == 2
    assert f"store {store} is in use by another live dialer process" in capsys.readouterr().err
