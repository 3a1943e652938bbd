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
        {"name": "li", "role": "supervisor", "agent": None, "disabled": False},
        {"name": "zhang", "role": "agent", "agent": "agent1", "disabled": False},
    ]
    # The same name twice, or a short password, is one clear line and exit code 2.
    assert main(["--config", cfg, "users", "add", "zhang", "--role", "qa", "--password-env", "NEW_PW"]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("SHORT", "abc")
    assert main(["--config", cfg, "users", "add", "wang", "--role", "qa", "--password-env", "SHORT"]) == 2
    assert "password" in capsys.readouterr().err


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
