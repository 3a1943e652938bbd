"""Migration 0110 moves the three old lists into the one without losing a number; the command line
(``dialer dnc``, ``dialer privacy``, ``dialer call`` refusing a listed number); the daily retention task."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.backup.daily import run_daily
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.server import RETENTION
from dialer.store.database import Database
from dialer.store.errors import IntegrityError
from dialer.tasks import TaskHealth
from tests.conftest import migrations_before, write_config

AT = "2026-11-20T01:00:00.000000Z"


async def test_0110_moves_dnc_sms_opt_outs_and_lead_opt_outs_into_one_list(
    tmp_path: Path, clock: VirtualClock, empty_store_target: str | Path
) -> None:
    postgresql = isinstance(empty_store_target, str)
    before = migrations_before(tmp_path / "before", "0110", postgresql=postgresql)
    store = empty_store_target
    async with await Database.open(store, clock=clock, migrations_dir=before) as db, db.write() as tx:
        await tx.execute("INSERT INTO leads (id, name, source, state, created_at, created_by, updated_at, opt_out_at)"
                         " VALUES (1, '张三', 'hq', 'following', ?, 't', ?, ?)", (AT, AT, AT))  # fmt: skip
        await tx.executemany("INSERT INTO lead_phones (e164, lead_id, kind) VALUES (?, 1, 'mobile')",
                             [("+8613800000001",), ("+8613800000002",)])  # fmt: skip
        await tx.execute("INSERT INTO lead_events (lead_id, kind, at, actor, data) VALUES (1, 'opt_out', ?, 'sms',"
                         " '{\"reason\": \"SMS reply ''T''\"}')", (AT,))  # fmt: skip
        await tx.executemany("INSERT INTO dnc (e164, reason, added_at, added_by) VALUES (?, ?, ?, 'li')",
                             [("+8613800000003", "投诉", AT), ("+8613800000004", "律师函", AT)])  # fmt: skip
        await tx.executemany("INSERT INTO sms_opt_outs (e164, at, text) VALUES (?, ?, ?)",
                             [("+8613800000004", "2026-11-10T01:00:00.000000Z", "TD"), ("10690000", AT, "T")])  # fmt: skip
    async with await Database.open(store, clock=clock) as db, db.read() as r:
        rows = await r.fetchall("SELECT e164, reason, source, at, actor, lead_id FROM suppressions ORDER BY e164")
        if postgresql:
            tables = {row[0] for row in await r.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            columns = {row[0] for row in await r.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'leads'"
            )}  # fmt: skip
        else:
            tables = {row[0] for row in await r.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in await r.fetchall("PRAGMA table_info(leads)")}
    assert [tuple(row) for row in rows] == [
        ("+8613800000001", "SMS reply 'T'", "sms_reply", AT, "sms", 1),
        ("+8613800000002", "SMS reply 'T'", "sms_reply", AT, "sms", 1),
        ("+8613800000003", "投诉", "cli", AT, "li", None),
        ("+8613800000004", "律师函 / SMS TD", "cli", "2026-11-10T01:00:00.000000Z", "li", None),
        ("10690000", "SMS T", "sms_reply", AT, "sms", None),
    ]
    assert not {"dnc", "sms_opt_outs"} & tables and "opt_out_at" not in columns


async def test_lead_history_refuses_every_change_but_the_privacy_strip(db: Database, clock: VirtualClock) -> None:
    async with db.write() as tx:
        await tx.execute("INSERT INTO leads (id, name, source, state, created_at, created_by, updated_at)"
                         " VALUES (1, '张三', 'hq', 'new', ?, 't', ?)", (AT, AT))  # fmt: skip
        await tx.execute("INSERT INTO lead_events (lead_id, kind, at, actor, data) VALUES (1, 'state', ?, 't',"
                         " '{\"reason\": \"张三说\", \"to\": \"following\"}')", (AT,))  # fmt: skip
    set_to = "jsonb_set(data, '{to}', '\"deal\"')" if db.dialect.is_postgresql else "json_set(data, '$.to', 'deal')"
    for sql in ("UPDATE lead_events SET actor = 'x'", "UPDATE lead_events SET data = '{}'",
                f"UPDATE lead_events SET data = {set_to}", "DELETE FROM lead_events"):  # fmt: skip
        with pytest.raises(IntegrityError, match="append-only"):
            async with db.write() as tx:
                await tx.execute(sql)
    async with db.write() as tx:
        await tx.execute(f"UPDATE lead_events SET data = {db.dialect.json_without('data', ['reason'])}")
    async with db.read() as r:
        assert json.loads(await r.fetchval("SELECT data FROM lead_events")) == {"to": "following"}


@pytest.mark.virtual_time
async def test_the_daily_retention_runs_at_its_time_and_a_failure_is_counted_under_its_name(
    clock: VirtualClock,
) -> None:
    health = TaskHealth()
    runs: list[datetime] = []
    enough = asyncio.Event()

    async def apply() -> None:
        runs.append(clock.now())
        if len(runs) == 1:
            raise OSError("disk full")
        if len(runs) == 3:
            enough.set()

    task = asyncio.create_task(run_daily(apply, "03:30", "Asia/Shanghai", clock, health, RETENTION))
    await enough.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert runs == [datetime(2026, 11, day, 19, 30, tzinfo=UTC) for day in (29, 30)] + [
        datetime(2026, 12, 1, 19, 30, tzinfo=UTC)
    ]
    assert health.failures() == {RETENTION: 1}


def test_cli_privacy_export_erase_and_erased(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", config, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("dnc", "add", "13800138000", "--reason", "投诉")[0] == 0
    out = tmp_path / "export.json"
    code, printed, _ = run("privacy", "export", "13800138000", "--out", str(out))
    assert code == 0 and str(out) in printed and out.stat().st_mode & 0o777 == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["tables"]["suppressions"][0]["reason"] == "投诉"
    code, _, err = run("privacy", "export", "13800138000", "--out", str(out))
    assert code == 2 and "已存在" in err  # never overwritten
    assert run("privacy", "erase", "13800138000")[0] == 1  # without --yes nothing happens
    assert run("privacy", "erased", "13800138000")[0] == 1
    code, printed, _ = run("privacy", "erase", "13800138000", "--yes", "--actor", "li")
    assert code == 0 and "删除记录 #1" in printed
    assert run("privacy", "erased", "+86 138 0013 8000")[0] == 0
    assert run("privacy", "retention")[0] == 0
    code, _, err = run("privacy", "erase", "12345", "--yes")
    assert code == 2 and "not a phone number" in err


def test_dialer_call_refuses_a_listed_number_before_touching_the_pbx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, pbx={"ami_port": 1}))  # nothing listens there: a dial would fail
    assert main(["--config", config, "dnc", "add", "13800138000", "--reason", "投诉"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "call", "13800138000"]) == 2
    assert "+8613800138000 在勿扰名单中（命令行：投诉），不拨打" in capsys.readouterr().err
