"""``dialer sms``: send through a real SMSC process, then status, replies, reminders and a wave."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.sms.simulator import read_ledger
from tests.conftest import REPO, free_port


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """main() points the root logger at this test's captured stderr; later tests must not inherit that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli_config(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    config = tmp_path / "config" / "dialer.toml"
    config.parent.mkdir()
    config.write_text(
        # Relative paths (templates, DOSS mapping) resolve against the repository.
        f'base_dir = "{REPO}"\n'
        f'[store]\npath = "{tmp_path / "cli.sqlite3"}"\n'
        f"[sms]\nsmpp_port = {port}\n"
        "reconnect_min_s = 0.05\nreconnect_max_s = 0.3\nidle_poll_s = 0.05\n"
        # Whatever the wall clock says, the CLI test must be allowed to send.
        'window = "00:00-24:00"\n',
        encoding="utf-8",
    )
    return config, port


def run(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--config", str(config), *args])
    return code, capsys.readouterr().out


def test_send_status_replies_reminders_wave(cli_config: tuple[Path, int], tmp_path: Path, capsys) -> None:
    config, port = cli_config
    ledger = tmp_path / "smsc.jsonl"
    smsc = subprocess.Popen(
        [sys.executable, "-m", "dialer.sms.simulator", "--port", str(port), "--ledger", str(ledger)],
        stdout=subprocess.PIPE,
        cwd=str(REPO),
    )
    try:
        assert smsc.stdout is not None and smsc.stdout.readline().decode().strip() == f"READY {port}"
        code, out = run(
            config,
            "sms",
            "send",
            "--to",
            "13800138000",
            "--text",
            "您的爱车保养到期了，欢迎预约。",
            "--json",
            capsys=capsys,
        )
        assert code == 0
        sent = json.loads(out)
        assert sent["status"] in ("sent", "delivered") and sent["parts"] == 1
    finally:
        smsc.kill()
        smsc.wait()
    [submit] = [r for r in read_ledger(ledger) if r["kind"] == "submit"]
    assert submit["to"] == "8613800138000" and submit["text"] == "【DCC汽车】您的爱车保养到期了，欢迎预约。"

    code, out = run(config, "sms", "status", "--json", capsys=capsys)
    status = json.loads(out)
    assert (
        code == 0 and sum(status["messages"][s] for s in ("sent", "delivered")) == 1 and status["open_call_tasks"] == 0
    )

    code, out = run(config, "sms", "replies", "--unmatched", capsys=capsys)
    assert code == 0 and "号码" in out  # an empty table, in Chinese by default

    code, out = run(config, "sms", "reminders", "--json", capsys=capsys)
    assert code == 0 and json.loads(out) == {"queued": [], "refused": {}}

    code, out = run(config, "sms", "wave", "--model", "迈锐宝XL", capsys=capsys)
    assert code == 0 and "选中 0 位客户" in out


def test_unknown_template_is_one_clear_line(cli_config: tuple[Path, int], capsys) -> None:
    config, _ = cli_config
    code = main(["--config", str(config), "sms", "send", "--to", "13800138000", "--template", "nope", "--wait", "0"])
    assert code == 2 and "'nope' does not exist" in capsys.readouterr().err
